// Benchmark: the web SDK's main-thread cost per minute of recording, in Debian's Chromium (headless). A scripted
// session (mouse moves every 50 ms, typing, scrolling, a page that adds a table row every 500 ms) runs on a page
// with the SDK (`sdk/web/dist/traceflow.js`, posting to a local endpoint that answers like a runner). Chromium's
// sampling profiler (every 100 µs) attributes main-thread JavaScript time to scripts: the time spent in the SDK's
// script (rrweb's recorder included, it is bundled) per minute is the SDK's cost. For scale, the same session
// without the SDK is run too, with Chromium's total main-thread task time (`Performance.getMetrics`).
//
//   node tests/browser/sdk-cost.mjs [seconds=30] [pairs=3]
//
// Runs `pairs` pairs (without, with), alternating, and prints one JSON line with every pair's figures. Needs `npm ci` in tests/browser and /usr/bin/chromium.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.argv[2] || 30);
const pairs = Number(process.argv[3] || 3);
const sdk = readFileSync(join(here, '../../sdk/web/dist/traceflow.js'));

let batches = 0;
let batchBytes = 0;
const server = http.createServer((request, response) => {
  const cors = { 'access-control-allow-origin': request.headers.origin || '*' };
  if (request.url.startsWith('/sdk/v1/traceflow.js')) {
    response.writeHead(200, { 'content-type': 'text/javascript', ...cors });
    return response.end(sdk);
  }
  if (request.url.startsWith('/v1/config')) {
    response.writeHead(200, { 'content-type': 'application/json', ...cors });
    return response.end(JSON.stringify({ features: { replay: true, console_logs: false, network_capture: false }, sampling: { session_rate: 1 } }));
  }
  if (request.url.startsWith('/v1/batch')) {
    request.on('data', (chunk) => (batchBytes += chunk.length));
    request.on('end', () => {
      batches++;
      response.writeHead(202, { 'content-type': 'application/json', ...cors });
      response.end('{"accepted":1}');
    });
    return;
  }
  const withSdk = request.url.startsWith('/with');
  const origin = `http://127.0.0.1:${server.address().port}`;
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(`<!doctype html><html><head><meta charset="utf-8"><title>Statement</title>
${withSdk ? `<script src="${origin}/sdk/v1/traceflow.js" data-key="bench"></script>` : ''}
<style>td { padding: 2px 8px; } .tall { height: 3000px; }</style></head><body>
<h1>Account statement</h1><form><input id="q" placeholder="Search"><textarea id="note"></textarea></form>
<table id="rows"><tr><th>Date</th><th>Description</th><th>Amount</th></tr></table><div class="tall"></div>
<script>
let n = 0;
setInterval(() => {
  const row = document.createElement('tr');
  row.innerHTML = '<td>2026-12-' + (1 + (n % 28)) + '</td><td>Transfer ' + n + '</td><td>' + (n * 17.5).toFixed(2) + '</td>';
  document.getElementById('rows').appendChild(row);
  n++;
}, 500);
</script></body></html>`);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

async function run(path) {
  const { browser, close } = await launch();
  try {
    const tab = await browser.newPage();
    await tab.goto(`${origin}${path}`);
    const cdp = await tab.context().newCDPSession(tab);
    await cdp.send('Performance.enable');
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const before = await metrics();
    const end = Date.now() + seconds * 1000;
    let i = 0;
    while (Date.now() < end) {
      await tab.mouse.move(100 + ((i * 37) % 600), 100 + ((i * 23) % 400));
      if (i % 20 === 0) await tab.mouse.wheel(0, i % 40 === 0 ? 400 : -300);
      if (i % 10 === 0) {
        await tab.focus(i % 20 === 0 ? '#q' : '#note');
        await tab.keyboard.type('abc ');
      }
      await tab.waitForTimeout(50);
      i++;
    }
    const after = await metrics();
    const { profile } = await cdp.send('Profiler.stop');
    // Self time per profile node, then summed for the nodes whose function is in the SDK's script.
    const url = new Map(profile.nodes.map((n) => [n.id, n.callFrame.url]));
    let sdkMicros = 0;
    profile.samples.forEach((id, k) => {
      if ((url.get(id) || '').includes('/sdk/v1/traceflow.js')) sdkMicros += profile.timeDeltas[k] || 0;
    });
    return { task: after.TaskDuration - before.TaskDuration, script: after.ScriptDuration - before.ScriptDuration, sdk: sdkMicros / 1e6 };
  } finally {
    await close();
  }
}

const perMinute = (s) => Math.round((s * 1000 * 60) / seconds);
const results = [];
for (let p = 0; p < pairs; p++) {
  const without = await run('/without');
  const sent = batches;
  const withSdk = await run('/with');
  results.push({
    sdk_script_ms_per_minute: perMinute(withSdk.sdk),
    main_thread_task_ms_per_minute: { without_sdk: perMinute(without.task), with_sdk: perMinute(withSdk.task) },
    batches: batches - sent,
  });
}
server.close();
console.log(JSON.stringify({ seconds, pairs: results, batch_kib_per_minute: Math.round((batchBytes / 1024) * (60 / seconds) / pairs) }));
