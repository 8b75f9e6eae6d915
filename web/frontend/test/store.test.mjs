// The page's store reads the push protocol's rows (docs/push-protocol.md, protocol 3): a row
// names its value by an id the message's "defs" (or an earlier one) define; short rows
// [id, value] take the message's "at" = [t, final], full rows carry their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Store } from '../src/store.js';

test('short rows take the shared second and finality, full rows keep theirs', () => {
  const store = new Store();
  store.applySnapshot({
    meta: {},
    at: [100, true],
    defs: { shipments_1m: [['520100', 0], ['520000', 1]] },
    values: [[0, 17], [1, 40, 99, false]],
  });
  assert.deepEqual(store.table('shipments_1m').get('520100'), { v: 17, t: 100, f: true });
  assert.deepEqual(store.table('shipments_1m').get('520000'), { v: 40, t: 99, f: false });
  const known = store.applyDelta({
    at: [101, false],
    defs: { tonnage_1h: [['520000', 2]] },
    changes: [[0, 18], [2, 3, 100, true]],
    removed: [1],
  });
  assert.equal(known, true);
  assert.deepEqual(store.table('shipments_1m').get('520100'), { v: 18, t: 101, f: false });
  assert.equal(store.table('shipments_1m').has('520000'), false);
  assert.deepEqual(store.table('tonnage_1h').get('520000'), { v: 3, t: 100, f: true });
  assert.equal(store.version, 2);
});

test('a delta with an id the connection was never told is refused, the rest applied', () => {
  const store = new Store();
  store.applySnapshot({ meta: {}, at: [100, false], defs: { shipments_1m: [['520100', 4]] }, values: [[4, 1]] });
  assert.equal(store.applyDelta({ at: [101, false], changes: [[4, 2], [9, 7]] }), false);
  assert.deepEqual(store.table('shipments_1m').get('520100'), { v: 2, t: 101, f: false });
  // A new snapshot starts the id map afresh: an id of the old connection means nothing.
  store.applySnapshot({ meta: {}, at: [200, false], defs: { tonnage_1h: [['520000', 0]] }, values: [[0, 5]] });
  assert.equal(store.applyDelta({ at: [201, false], changes: [[4, 3]] }), false);
  assert.equal(store.table('shipments_1m').size, 0);
});
