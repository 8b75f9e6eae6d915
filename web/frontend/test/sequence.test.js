// The connection's decisions (src/sequence.js), with hand-worked expectations:
// `node --test` from web/frontend (scripts/test runs it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Sequence,
  connectTimedOut,
  isSilent,
  pingIntervalMs,
  reconnectDelayMs,
} from '../src/sequence.js';

const snapshot = (seq, extra = {}) => JSON.stringify({ type: 'snapshot', seq, ...extra });
const delta = (seq) => JSON.stringify({ type: 'delta', seq, changes: [] });
const ping = (seq) => JSON.stringify({ type: 'ping', seq });

describe('Sequence', () => {
  it('ignores everything before the first snapshot, then applies in order', () => {
    const s = new Sequence();
    assert.deepEqual(s.receive(delta(3)), { action: 'ignore' });
    assert.deepEqual(s.receive(ping(4)), { action: 'ignore' });
    assert.equal(s.receive(snapshot(7)).action, 'snapshot');
    const d = s.receive(delta(8));
    assert.equal(d.action, 'apply');
    assert.equal(d.msg.type, 'delta');
    assert.equal(s.receive(ping(9)).msg.type, 'ping');
    assert.equal(s.receive(delta(10)).action, 'apply');
  });

  it('reports a gap with the expected and received numbers, then waits for a snapshot', () => {
    const s = new Sequence();
    s.receive(snapshot(1));
    assert.equal(s.receive(delta(2)).action, 'apply');
    assert.deepEqual(s.receive(delta(4)), { action: 'gap', expected: 3, got: 4 });
    // Until the fresh snapshot, even the "right" next number is superseded.
    assert.deepEqual(s.receive(delta(3)), { action: 'ignore' });
    assert.deepEqual(s.receive(delta(5)), { action: 'ignore' });
    assert.equal(s.receive(snapshot(20)).action, 'snapshot');
    assert.equal(s.receive(delta(21)).action, 'apply');
  });

  it('treats a repeated or older number as a gap too', () => {
    const s = new Sequence();
    s.receive(snapshot(5));
    assert.equal(s.receive(delta(6)).action, 'apply');
    assert.deepEqual(s.receive(delta(6)), { action: 'gap', expected: 7, got: 6 });
    s.receive(snapshot(9));
    assert.deepEqual(s.receive(ping(2)), { action: 'gap', expected: 10, got: 2 });
  });

  it('asks for a snapshot on a message that is not JSON, or has no number', () => {
    const s = new Sequence();
    s.receive(snapshot(1));
    assert.deepEqual(s.receive('{"type": "delta", "seq": 2'), { action: 'unreadable' });
    assert.deepEqual(s.receive(delta(2)), { action: 'ignore' });
    s.receive(snapshot(3));
    assert.deepEqual(s.receive('null'), { action: 'gap', expected: 4, got: undefined });
    s.receive(snapshot(5));
    assert.deepEqual(s.receive('{"type":"delta"}'), { action: 'gap', expected: 6, got: undefined });
  });

  it('starts over on a new connection', () => {
    const s = new Sequence();
    s.receive(snapshot(100));
    assert.equal(s.receive(delta(101)).action, 'apply');
    s.reset();
    assert.deepEqual(s.receive(delta(102)), { action: 'ignore' });
    s.receive(snapshot(1)); // a restarted server counts from 1 again
    assert.equal(s.receive(delta(2)).action, 'apply');
  });

  it('hands the snapshot itself over', () => {
    const s = new Sequence();
    const step = s.receive(snapshot(1, { defs: { shipments_1m: [['520100', 0]] }, values: [[0, 17]] }));
    assert.deepEqual(step.msg.values, [[0, 17]]);
  });
});

describe('reconnectDelayMs (equal jitter)', () => {
  // cap = min(15000, 500 * 2^attempt); delay = cap/2 + random * cap/2.
  const table = [
    [0, 0, 250],
    [0, 0.5, 375],
    [0, 0.999, 499.75],
    [1, 0, 500],
    [3, 0.5, 3000],
    [4, 0, 4000],
    [5, 0, 7500], // 16000 capped at 15000
    [5, 0.5, 11250],
    [30, 0.25, 9375],
  ];
  for (const [attempt, random, want] of table) {
    it(`attempt ${attempt}, random ${random}: ${want} ms`, () => {
      assert.equal(reconnectDelayMs(attempt, random), want);
    });
  }

  it('never waits less than half the cap nor more than the cap', () => {
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const cap = Math.min(15000, 500 * 2 ** attempt);
      assert.ok(reconnectDelayMs(attempt, 0) >= cap / 2);
      assert.ok(reconnectDelayMs(attempt, 0.9999) < cap);
    }
  });
});

describe('pings and silence', () => {
  it('takes the ping interval a snapshot announces, else keeps the current one', () => {
    assert.equal(pingIntervalMs({ meta: { timing: { ping_interval_s: 2 } } }, 5000), 2000);
    assert.equal(pingIntervalMs({ meta: { timing: { ping_interval_s: 0 } } }, 5000), 5000);
    assert.equal(pingIntervalMs({ meta: {} }, 7000), 7000);
    assert.equal(pingIntervalMs({}, 5000), 5000);
  });

  it('calls a connection silent after three missed pings and a second', () => {
    // ping 5 s: silent once more than 16 s have passed since the last message.
    assert.equal(isSilent(116_000, 100_000, 5000), false);
    assert.equal(isSilent(116_001, 100_000, 5000), true);
    assert.equal(isSilent(107_001, 100_000, 2000), true);
  });

  it('gives up on a connection attempt after ten seconds', () => {
    assert.equal(connectTimedOut(10_000, 0), false);
    assert.equal(connectTimedOut(10_001, 0), true);
  });
});
