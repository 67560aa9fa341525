import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEACON_MAX_BYTES, MAX_QUEUED, Sender, Timers, Transport } from '../src/transport';

/** Timers driven by the test: `advance` runs what is due. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      due.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => void due.delete(id as number),
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const [id, t] of [...due].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        due.delete(id);
        t.fn();
        await new Promise((r) => setImmediate(r));
      }
    }
  };
  return { timers, advance, pending: () => due.size };
}

function scriptedSender(answers: { status: number; retryAfter?: number }[]) {
  const posts: string[] = [];
  const beacons: string[] = [];
  const sender: Sender = {
    async post(_url, body) {
      posts.push(String(body));
      return answers.shift() ?? { status: 202 };
    },
    beacon(_url, body) {
      beacons.push(String(body));
      return true;
    },
  };
  return { sender, posts, beacons };
}

const identity = async (text: string) => text;

test('a 503 with Retry-After waits exactly that long, then the batch goes out once', async () => {
  const { timers, advance } = fakeTimers();
  const { sender, posts } = scriptedSender([{ status: 503, retryAfter: 7 }]);
  const transport = new Transport('u', sender, timers, identity);
  await transport.send('{"seq":1}');
  assert.equal(posts.length, 1);
  await advance(6999);
  assert.equal(posts.length, 1, 'not before Retry-After');
  await advance(1);
  assert.equal(posts.length, 2);
  assert.equal(transport.pending, 0);
  assert.deepEqual(transport.stats, { sent: 1, retried: 1, dropped: 0, rejected: 0 });
});

test('network failures back off exponentially; later batches wait behind the first, in order', async () => {
  const { timers, advance } = fakeTimers();
  const { sender, posts } = scriptedSender([{ status: 0 }, { status: 0 }, { status: 202 }, { status: 202 }]);
  const transport = new Transport('u', sender, timers, identity);
  await transport.send('{"seq":1}');
  await transport.send('{"seq":2}');
  assert.deepEqual(posts, ['{"seq":1}'], 'the second waits behind the first');
  await advance(1300); // first backoff: 1 s plus up to 20 % jitter
  assert.equal(posts.length, 2);
  await advance(1000);
  assert.equal(posts.length, 2, 'second backoff is 2 s');
  await advance(1500);
  assert.deepEqual(posts.slice(2), ['{"seq":1}', '{"seq":2}']);
});

test('a 400 is final (the batch is invalid); a 429 is retried', async () => {
  const { timers, advance } = fakeTimers();
  const { sender, posts } = scriptedSender([{ status: 400 }, { status: 429, retryAfter: 1 }]);
  const transport = new Transport('u', sender, timers, identity);
  await transport.send('{"seq":1}');
  await transport.send('{"seq":2}');
  await advance(1000);
  assert.deepEqual(posts, ['{"seq":1}', '{"seq":2}', '{"seq":2}']);
  assert.equal(transport.stats.rejected, 1);
});

test('the retry queue is bounded: the oldest batches are dropped and counted', async () => {
  const { timers } = fakeTimers();
  const { sender } = scriptedSender(Array.from({ length: 100 }, () => ({ status: 503, retryAfter: 60 })));
  const transport = new Transport('u', sender, timers, identity);
  for (let i = 0; i < MAX_QUEUED + 5; i++) await transport.send(`{"seq":${i}}`);
  assert.equal(transport.pending, MAX_QUEUED);
  assert.equal(transport.stats.dropped, 5);
});

test('on unload everything waiting goes by beacon; a body too large for a beacon by keepalive fetch', async () => {
  const { timers } = fakeTimers();
  const { sender, posts, beacons } = scriptedSender([{ status: 0 }]);
  const transport = new Transport('u', sender, timers, identity);
  await transport.send('{"seq":1}');
  const big = '{"seq":3,"pad":"' + 'x'.repeat(BEACON_MAX_BYTES) + '"}';
  transport.sendNow('{"seq":2}');
  transport.sendNow(big);
  assert.deepEqual(beacons, ['{"seq":1}', '{"seq":2}'], 'the batch waiting for a retry and the last one');
  assert.ok(posts.includes(big), 'the large batch went by fetch');
});
