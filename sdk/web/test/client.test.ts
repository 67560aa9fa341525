import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, DEFAULT_CONFIG } from '../src/client';
import { Identity, memoryStore } from '../src/session';
import { FLUSH_INTERVAL_MS, MAX_BATCH_BYTES, Timers, Transport } from '../src/transport';

function setup() {
  let now = 1_700_000_000_000;
  const due: { at: number; fn: () => void }[] = [];
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      due.push(t);
      return t;
    },
    clearTimeout: (t) => {
      const i = due.indexOf(t as { at: number; fn: () => void });
      if (i >= 0) due.splice(i, 1);
    },
  };
  const sent: string[] = [];
  const transport = new Transport('u', { post: async (_u, b) => (sent.push(String(b)), { status: 202 }), beacon: (_u, b) => (sent.push(String(b)), true) }, timers, async (t) => t);
  const page = { url: () => 'https://bank.example/apply', referrer: () => '', userAgent: () => 'test', screen: () => '1x1' };
  const client = new Client(new Identity(memoryStore(), memoryStore(), () => now), transport, timers, page);
  const advance = async (ms: number) => {
    now += ms;
    const ready = due.filter((t) => t.at <= now);
    for (const t of ready) due.splice(due.indexOf(t), 1);
    for (const t of ready) t.fn();
    await new Promise((r) => setImmediate(r));
  };
  return { client, sent, advance };
}

test('events are batched and sent every 5 s, as a batch of the contract', async () => {
  const { client, sent, advance } = setup();
  client.event('pageview', { url: 'https://bank.example/apply' });
  client.event('click', { selector: 'button#pay' });
  client.rrweb({ type: 4, data: { href: 'https://bank.example/apply' }, timestamp: 1 });
  await advance(FLUSH_INTERVAL_MS - 1);
  assert.equal(sent.length, 0);
  await advance(1);
  assert.equal(sent.length, 1);
  const batch = JSON.parse(sent[0]);
  assert.equal(batch.seq, 1);
  assert.match(batch.session_id, /^s_/);
  assert.match(batch.visitor_id, /^v_/);
  assert.deepEqual(batch.events.map((e: { type: string }) => e.type), ['pageview', 'click']);
  assert.equal(batch.replay.length, 1);
  assert.equal(batch.context.sdk, 'traceflow-web/0.1.0');
  client.event('custom', { name: 'next' });
  await advance(FLUSH_INTERVAL_MS);
  assert.equal(JSON.parse(sent[1]).seq, 2);
});

test('a batch is sent as soon as it reaches 256 KB', async () => {
  const { client, sent, advance } = setup();
  const chunk = 'x'.repeat(16 * 1024);
  for (let i = 0; i < MAX_BATCH_BYTES / chunk.length; i++) client.rrweb({ type: 3, data: { chunk }, timestamp: i });
  await advance(0);
  assert.equal(sent.length, 1);
});

test('a sampled-out session sends nothing; replay off records nothing; opt-out stops everything', async () => {
  const { client, sent, advance } = setup();
  client.config = { ...DEFAULT_CONFIG, sampling: { session_rate: 0 } };
  client.event('pageview', {});
  client.rrweb({ type: 2, data: {}, timestamp: 1 });
  assert.equal(client.recording(), false);
  await advance(FLUSH_INTERVAL_MS);
  assert.equal(sent.length, 0);
  client.config = { features: { ...DEFAULT_CONFIG.features, replay: false }, sampling: { session_rate: 1 } };
  assert.equal(client.recording(), false);
  client.config = DEFAULT_CONFIG;
  client.optOut();
  client.event('pageview', {});
  await advance(FLUSH_INTERVAL_MS);
  assert.equal(sent.length, 0);
});

test('hiding the page sends what was collected at once, by beacon', async () => {
  const { client, sent } = setup();
  client.event('pageview', {});
  client.flushNow();
  assert.equal(sent.length, 1);
  assert.equal(JSON.parse(sent[0]).events.length, 1);
});
