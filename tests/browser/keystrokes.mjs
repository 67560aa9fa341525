// A bank form in Debian's Chromium (headless, driven by playwright-core), recorded by rrweb: PII is typed key by
// key into inputs with and without hints, and the page echoes the customer's name into an error message. The
// recording is sent to a real runner as one batch. Run by tests/browser.rs, which starts the runner and checks
// what it stored.
//
// Environment: TRACEFLOW_RUNNER (http://127.0.0.1:PORT), TRACEFLOW_KEY (project key). Prints one JSON line with
// the page's asset URL and what was typed.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const runner = process.env.TRACEFLOW_RUNNER;
const key = process.env.TRACEFLOW_KEY;
if (!runner || !key) {
  throw new Error('TRACEFLOW_RUNNER and TRACEFLOW_KEY must be set');
}

const rrweb = readFileSync(join(here, 'node_modules/rrweb/dist/rrweb.umd.min.cjs'));
const typed = {
  card: '3530 1113 3330 0000', // no hint on the input
  email: 'priya.raghavan@example.co.in', // no hint
  message: 'Please call me on 98765 43210', // a textarea
  phone: '0171 2345678', // name="telefon"
  name: 'Priya Raghavan', // autocomplete="name"
};

function page(origin) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Apply</title>
<link rel="stylesheet" href="${origin}/app.css">
<script src="${origin}/rrweb.js"></script></head>
<body><form onsubmit="return false">
<label>Customer <input id="name" autocomplete="name"></label>
<input id="card" class="f">
<input id="email" class="f">
<input id="phone" name="telefon">
<textarea id="message" rows="3"></textarea>
<button id="pay" type="button">Pay</button>
<p id="error" role="alert"></p>
</form>
<script>
window.recorded = [];
rrweb.record({ emit(event) { window.recorded.push(event); } });
document.getElementById('pay').addEventListener('click', () => {
  const name = document.getElementById('name').value;
  document.getElementById('error').textContent = 'Payment failed for ' + name + ': please check the card.';
});
</script></body></html>`;
}

const server = http.createServer((request, response) => {
  const origin = `http://127.0.0.1:${server.address().port}`;
  if (request.url === '/rrweb.js') {
    response.writeHead(200, { 'content-type': 'text/javascript' });
    response.end(rrweb);
  } else if (request.url === '/app.css') {
    response.writeHead(200, { 'content-type': 'text/css' });
    response.end('body { font-family: sans-serif; }');
  } else {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(page(origin));
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const { browser, close } = await launch();
try {
  const tab = await browser.newPage();
  await tab.goto(`${origin}/apply`);
  for (const id of ['name', 'card', 'email', 'phone', 'message']) {
    await tab.click(`#${id}`);
    await tab.keyboard.type(typed[id], { delay: 15 });
  }
  await tab.click('#pay');
  await tab.waitForFunction(() => document.getElementById('error').textContent.length > 0);
  // rrweb emits mutations asynchronously; give it a moment.
  await tab.waitForTimeout(300);
  const replay = await tab.evaluate(() => window.recorded);
  const batch = {
    session_id: `browser-${Date.now()}`,
    visitor_id: 'v-browser',
    seq: 1,
    sent_at: Date.now(),
    context: { url: `${origin}/apply`, sdk: 'rrweb/2.2.2' },
    events: [{ type: 'pageview', ts: Date.now(), url: `${origin}/apply` }],
    replay,
  };
  const answer = await fetch(`${runner}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  if (answer.status !== 202) {
    throw new Error(`runner answered ${answer.status}: ${await answer.text()}`);
  }
  const inputEvents = replay.filter((e) => e.type === 3 && e.data && e.data.source === 5).length;
  // rrweb inlines stylesheets (their href goes); the script keeps its src, and the meta event the page URL.
  console.log(JSON.stringify({ asset: `${origin}/rrweb.js`, page: `${origin}/apply`, typed, events: replay.length, inputEvents }));
} finally {
  await close();
  server.close();
}
