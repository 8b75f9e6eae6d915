// The page's store reads the push protocol's rows (docs/push-protocol.md): short rows
// [key, value] take the message's "at" = [t, final]; full rows carry their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Store } from '../src/store.js';

test('short rows take the shared second and finality, full rows keep theirs', () => {
  const store = new Store();
  store.applySnapshot({
    meta: {},
    at: [100, true],
    values: { shipments_1m: [['520100', 17], ['520000', 40, 99, false]] },
  });
  assert.deepEqual(store.table('shipments_1m').get('520100'), { v: 17, t: 100, f: true });
  assert.deepEqual(store.table('shipments_1m').get('520000'), { v: 40, t: 99, f: false });
  store.applyDelta({
    at: [101, false],
    changes: { shipments_1m: [['520100', 18]], tonnage_1h: [['520000', 3, 100, true]] },
    removed: { shipments_1m: ['520000'] },
  });
  assert.deepEqual(store.table('shipments_1m').get('520100'), { v: 18, t: 101, f: false });
  assert.equal(store.table('shipments_1m').has('520000'), false);
  assert.deepEqual(store.table('tonnage_1h').get('520000'), { v: 3, t: 100, f: true });
  assert.equal(store.version, 2);
});
