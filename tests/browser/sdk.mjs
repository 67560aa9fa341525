// The TRACEFLOW web SDK in Debian's Chromium (headless, driven by playwright-core): a bank form page loads the SDK
// from the runner with one script tag, PII is typed key by key, the customer clicks, scrolls, hits a script error
// and leaves the page (the last batch goes by beacon). Run by tests/browser.rs, which starts the runner and checks
// what it stored; `replay` mode then replays the stored recording in rrweb's Replayer.
//
// Environment: TRACEFLOW_RUNNER (http://127.0.0.1:PORT), TRACEFLOW_KEY (project key).
//   node sdk.mjs record          prints {"typed": {...}, "page": URL, "metrics": {...}}
//   node sdk.mjs replay FILE     FILE: a JSON array of rrweb events; prints the replayed page's text and inputs
//   node sdk.mjs visit           a short visit; prints what the SDK sent to /v1/batch (event types, rrweb events)

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [mode, file] = process.argv.slice(2);

export const typed = {
  name: 'Priya Raghavan',
  email: 'priya.raghavan@example.co.in',
  mobile: '+91 98765 43210',
  card: '4111 1111 1111 1111',
  cvv: '737',
  aadhaar: '2363 4567 8901',
  pan: 'ABCPE1234F',
  iban: 'DE89 3704 0044 0532 0130 00',
  dob: '14/03/1988',
  password: 'Tr0ub4dor&3xyz',
};

function formPage(runner, key) {
  const field = (id, label, attrs = '') =>
    `<p><label for="${id}">${label}</label> <input id="${id}" ${attrs}></p>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Open an account</title>
<script src="${runner}/sdk/v1/traceflow.js" data-key="${key}"></script>
<style>body { font-family: sans-serif; } .tall { height: 1600px; }</style></head>
<body><h1>Open a savings account</h1>
<form id="apply" onsubmit="return false">
${field('name', 'Full name', 'autocomplete="name"')}
${field('email', 'E-mail address', 'type="email"')}
${field('mobile', 'Mobile number', 'type="tel"')}
${field('card', 'Card number', 'autocomplete="cc-number"')}
${field('cvv', 'CVV', 'autocomplete="cc-csc"')}
${field('aadhaar', 'Aadhaar number')}
${field('pan', 'PAN')}
${field('iban', 'IBAN')}
${field('dob', 'Date of birth')}
${field('password', 'Password', 'type="password"')}
<button id="submit" type="button">Open account</button>
<p id="status" role="alert"></p>
</form>
<div class="tall">Terms and conditions apply.</div>
<script>
document.getElementById('submit').addEventListener('click', () => {
  document.getElementById('status').textContent = 'Thank you, ' + document.getElementById('name').value + '. We are checking your details.';
  setTimeout(() => { throw new Error('validation service unavailable'); }, 0);
});
</script></body></html>`;
}

/** Serves the form page (with the SDK from `runner`) and a plain page to leave to, on a free port. */
async function formServer(runner, key) {
  if (!runner || !key) throw new Error('TRACEFLOW_RUNNER and TRACEFLOW_KEY must be set');
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(request.url === '/bye' ? '<!doctype html><title>Bye</title><p>Bye</p>' : formPage(runner, key));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

async function recordMode() {
  const runner = process.env.TRACEFLOW_RUNNER;
  const key = process.env.TRACEFLOW_KEY;
  const { server, origin } = await formServer(runner, key);
  const { browser, close } = await launch();
  const failures = [];
  try {
    const tab = await browser.newPage();
    tab.on('response', (r) => {
      if (r.url().startsWith(runner) && r.status() >= 400) failures.push(`${r.status()} ${r.url()}`);
    });
    await tab.goto(`${origin}/apply`);
    await tab.waitForFunction(() => window.traceflow !== undefined);
    for (const [id, value] of Object.entries(typed)) {
      await tab.click(`#${id}`);
      await tab.keyboard.type(value, { delay: 10 });
    }
    await tab.mouse.wheel(0, 900);
    await tab.waitForTimeout(200);
    await tab.click('#submit');
    await tab.waitForFunction(() => document.getElementById('status').textContent.length > 0);
    // rrweb emits mutations asynchronously; then the SDK's own cost of recording, from the Performance API.
    await tab.waitForTimeout(400);
    const metrics = await tab.evaluate(() => {
      const sdk = performance.getEntriesByType('resource').find((e) => e.name.includes('/sdk/v1/traceflow.js'));
      return { sdkTransferBytes: sdk ? sdk.transferSize : null, sdkDecodedBytes: sdk ? sdk.decodedBodySize : null };
    });
    // Leaving the page: the SDK sends what it holds by beacon.
    await tab.goto(`${origin}/bye`);
    await tab.waitForTimeout(1500);
    console.log(JSON.stringify({ typed, page: `${origin}/apply`, failures, metrics }));
  } finally {
    await close();
    server.close();
  }
}

async function replayMode() {
  const events = JSON.parse(readFileSync(file, 'utf8'));
  const rrweb = readFileSync(join(here, 'node_modules/rrweb/dist/rrweb.umd.min.cjs'), 'utf8');
  const css = readFileSync(join(here, 'node_modules/rrweb/dist/style.min.css'), 'utf8');
  const { browser, close } = await launch();
  try {
    const tab = await browser.newPage();
    const errors = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    tab.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    await tab.setContent(`<!doctype html><html><head><style>${css}</style></head><body><div id="player"></div></body></html>`);
    await tab.addScriptTag({ content: rrweb });
    const result = await tab.evaluate(async (events) => {
      const replayer = new rrweb.Replayer(events, { root: document.getElementById('player'), showWarning: true });
      const end = events[events.length - 1].timestamp - events[0].timestamp;
      replayer.pause(end + 1);
      await new Promise((r) => setTimeout(r, 300));
      const doc = replayer.iframe.contentDocument;
      return {
        text: doc.body ? doc.body.innerText : '',
        inputs: Array.from(doc.querySelectorAll('input')).map((i) => ({ id: i.id, value: i.value })),
        title: doc.title,
      };
    }, events);
    console.log(JSON.stringify({ ...result, errors }));
  } finally {
    await close();
  }
}

/** A short visit (type a name, click, flush), reporting every batch the SDK sent, decoded. */
async function visitMode() {
  const runner = process.env.TRACEFLOW_RUNNER;
  const key = process.env.TRACEFLOW_KEY;
  const { server, origin } = await formServer(runner, key);
  const { browser, close } = await launch();
  const batches = [];
  let configs = 0;
  try {
    const tab = await browser.newPage();
    tab.on('request', (request) => {
      if (request.url().startsWith(`${runner}/v1/config`)) configs++;
      if (!request.url().startsWith(`${runner}/v1/batch`)) return;
      let body = request.postDataBuffer();
      if (!body) return;
      if (body[0] === 0x1f && body[1] === 0x8b) body = gunzipSync(body);
      const batch = JSON.parse(body.toString('utf8'));
      batches.push({ events: batch.events.map((e) => e.type), replay: batch.replay.length });
    });
    await tab.goto(`${origin}/apply`);
    await tab.waitForFunction(() => window.traceflow !== undefined);
    await tab.waitForTimeout(300);
    await tab.click('#name');
    await tab.keyboard.type('Asha', { delay: 10 });
    await tab.click('#submit');
    await tab.waitForTimeout(300);
    // Sent by fetch (init returns the running instance), whose body the browser shows here; a beacon's it may not.
    await tab.evaluate(() => window.traceflow.init({ key: 'running' }).flush());
    await tab.waitForTimeout(300);
    console.log(JSON.stringify({ batches, configs }));
  } finally {
    await close();
    server.close();
  }
}

if (mode === 'visit') {
  await visitMode();
} else if (mode === 'record') {
  await recordMode();
} else if (mode === 'replay') {
  await replayMode();
} else {
  throw new Error('usage: node sdk.mjs record | replay FILE | visit');
}
