import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a64, Identity, keepSession, memoryStore, SESSION_IDLE_MS } from '../src/session';

test('FNV-1a 64 matches the published test vectors (the runner samples with it)', () => {
  // From the FNV reference test suite (Fowler/Noll/Vo), as the nearest doubles.
  assert.equal(fnv1a64(''), Number(0xcbf29ce484222325n));
  assert.equal(fnv1a64('a'), Number(0xaf63dc4c8601ec8cn));
  assert.equal(fnv1a64('foobar'), Number(0x85944171f73967e8n));
});

test('sampling keeps about the share of sessions the rate says, and always the same ones', () => {
  // Ids as the SDK makes them (time in base 36, 12 random characters), from a seeded generator.
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let kept = 0;
  for (let i = 0; i < 10000; i++) {
    const tail = Array.from({ length: 12 }, () => chars[Math.floor(random() * 36)]).join('');
    const id = `s_${(1_700_000_000_000 + i * 977).toString(36)}_${tail}`;
    if (keepSession(id, 0.25)) kept++;
    assert.equal(keepSession(id, 0.25), keepSession(id, 0.25));
  }
  assert.ok(kept > 2300 && kept < 2700, `${kept} of 10000 kept at 0.25`);
  assert.equal(keepSession('x', 1), true);
  assert.equal(keepSession('x', 0), false);
});

test('a session rotates after 30 minutes without activity, not before, and numbers its batches', () => {
  let now = 1_700_000_000_000;
  const identity = new Identity(memoryStore(), memoryStore(), () => now);
  const first = identity.touch();
  assert.equal(first.rotated, true);
  assert.equal(identity.nextSeq(), 1);
  assert.equal(identity.nextSeq(), 2);
  now += SESSION_IDLE_MS - 1;
  assert.deepEqual(identity.touch(), { id: first.id, rotated: false });
  now += SESSION_IDLE_MS;
  const second = identity.touch();
  assert.equal(second.rotated, true);
  assert.notEqual(second.id, first.id);
  assert.equal(identity.nextSeq(), 1, 'a new session numbers its batches from 1');
});

test('a new tab (new sessionStorage) starts a new session; the visitor stays unless opted out', () => {
  const visitors = memoryStore();
  const a = new Identity(memoryStore(), visitors);
  const b = new Identity(memoryStore(), visitors);
  assert.notEqual(a.touch().id, b.touch().id);
  assert.equal(a.visitorId(), b.visitorId());
  a.optOut();
  assert.equal(b.visitorId(), undefined);
  assert.equal(visitors.getItem('tf_visitor'), null, 'the visitor id is forgotten');
  b.optIn();
  assert.match(b.visitorId() ?? '', /^v_[a-z0-9]{20}$/);
});
