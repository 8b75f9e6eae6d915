// At most one request in flight, newest wish next: driven by hand-resolved promises.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer } from '../src/coalesce.js';

function harness() {
  const started = [];
  const answers = [];
  const pending = new Map();
  const c = new Coalescer(
    (key) => {
      started.push(key);
      return new Promise((resolve, reject) => pending.set(key, { resolve, reject }));
    },
    (key, value) => answers.push([key, value]),
    (key, error) => answers.push([key, `error: ${error.message}`]),
  );
  const settle = () => new Promise((r) => setImmediate(r));
  return { c, started, answers, pending, settle };
}

test('wishes made while a request is in flight collapse into the newest one', async () => {
  const { c, started, answers, pending, settle } = harness();
  c.want(1);
  await settle();
  for (const k of [2, 3, 4, 5]) c.want(k);
  await settle();
  assert.deepEqual(started, [1]);
  pending.get(1).resolve('one');
  await settle();
  assert.deepEqual(started, [1, 5]);
  pending.get(5).resolve('five');
  await settle();
  assert.deepEqual(answers, [[1, 'one'], [5, 'five']]);
  assert.equal(c.busy(), false);
});

test('the moment just loaded is not asked for again, unless refreshed', async () => {
  const { c, started, pending, settle } = harness();
  c.want(7);
  await settle();
  pending.get(7).resolve('x');
  await settle();
  c.want(7);
  await settle();
  assert.deepEqual(started, [7]);
  c.refresh(7);
  await settle();
  assert.deepEqual(started, [7, 7]);
});

test('a failure is reported and the next wish still goes out', async () => {
  const { c, started, answers, pending, settle } = harness();
  c.want(1);
  await settle();
  c.want(2);
  pending.get(1).reject(new Error('T outside the range'));
  await settle();
  assert.deepEqual(answers, [[1, 'error: T outside the range']]);
  assert.deepEqual(started, [1, 2]);
  pending.get(2).resolve('two');
  await settle();
  assert.deepEqual(answers.at(-1), [2, 'two']);
});

test('wishing for what is in flight adds no request', async () => {
  const { c, started, pending, settle } = harness();
  c.want(1);
  await settle();
  c.want(1);
  pending.get(1).resolve('one');
  await settle();
  assert.deepEqual(started, [1]);
});

test('the end of a drag abandons the request in flight and loads its own at once', async () => {
  const { c, started, answers, pending, settle } = harness();
  const signals = new Map();
  const load = c.load;
  c.load = (key, signal) => {
    signals.set(key, signal);
    return load(key, signal);
  };
  c.want(1);
  await settle();
  c.want(2); // still dragging: waits behind 1
  await settle();
  assert.deepEqual(started, [1]);
  c.want(3, { preempt: true }); // released at 3
  await settle();
  assert.deepEqual(started, [1, 3]);
  assert.equal(signals.get(1).aborted, true);
  assert.equal(signals.get(3).aborted, false);
  pending.get(1).resolve('late'); // the abandoned answer arrives anyway: dropped
  pending.get(3).resolve('three');
  await settle();
  assert.deepEqual(answers, [[3, 'three']]);
  assert.equal(c.busy(), false);
});

test('preempting for the key already in flight changes nothing', async () => {
  const { c, started, answers, pending, settle } = harness();
  c.want(4);
  await settle();
  c.want(4, { preempt: true });
  await settle();
  pending.get(4).resolve('four');
  await settle();
  assert.deepEqual(started, [4]);
  assert.deepEqual(answers, [[4, 'four']]);
});
