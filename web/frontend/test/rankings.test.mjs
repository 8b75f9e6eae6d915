// Bar panels' items and corridors from history states, against hand-worked tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareItems, corridors, prefectureValue, sectorValue } from '../src/rankings.js';
import { Store } from '../src/store.js';
import { PENDING } from '../src/change.js';

const meta = {
  province: { code: '520000' },
  regions: [{ code: '520100' }, { code: '520300' }],
  sectors: [{ code: 'big_data' }, { code: 'liquor' }],
};
const state = (values) => Store.fromState(values, 1000, meta);
const table = (rows) => new Map(Object.entries(rows).map(([k, v]) => [k, { v }]));

test('a history state: absent counts and sums are 0, absent rates null', () => {
  const s = state({ 'shipments_1m|520000': 17, 'sector_value_1h|520000|liquor': 250.5 });
  assert.equal(s.get('shipments_1m', '520000'), 17);
  assert.equal(s.get('shipments_1m', '520100'), 0);
  assert.equal(s.get('on_time_rate_1h', '520000'), null);
  assert.equal(s.get('digital_share_1h', '520000'), null);
  assert.equal(sectorValue(s, meta, 'liquor'), 250.5);
  assert.equal(sectorValue(s, meta, 'big_data'), 0);
  const live = new Store();
  assert.equal(live.get('shipments_1m', '520000'), null); // live: not seen yet, not zero
});

test('sector value: the province row, or the regions summed', () => {
  const s = state({ 'sector_value_1h|520100|big_data': 10, 'sector_value_1h|520300|big_data': 32 });
  assert.equal(sectorValue(s, meta, 'big_data'), 42);
});

test('changes per item against yesterday and last week, and the fastest grower', () => {
  const now = state({ 'freight_value_1h|520100': 1200, 'freight_value_1h|520300': 500 });
  const day = state({ 'freight_value_1h|520100': 1000, 'freight_value_1h|520300': 500 });
  const { items, fastest } = compareItems(
    meta.regions.map((r) => ({ code: r.code })),
    prefectureValue,
    now,
    { day, week: null },
  );
  assert.deepEqual(items.map((i) => [i.code, i.day, i.week, i.fastest]), [
    ['520100', { dir: 'up', pct: 20 }, { dir: 'none' }, true],
    ['520300', { dir: 'flat', pct: 0 }, { dir: 'none' }, false],
  ]);
  assert.equal(fastest.code, '520100');
});

test('no history at all: every change is "none" and nothing is fastest', () => {
  const now = state({ 'freight_value_1h|520100': 1200 });
  const { items, fastest } = compareItems([{ code: '520100' }], prefectureValue, now, { day: null, week: null });
  assert.deepEqual(items[0].day, { dir: 'none' });
  assert.equal(fastest, null);
});

test('busiest corridors are between two places; local traffic is counted apart', () => {
  const t = table({
    '520100>520100': 40, // Guiyang -> Guiyang: local
    '520100>520300': 35,
    '520300>CN-CQ': 35,
    '520300>520300': 12,
    '520400>520100': 3,
    '520500>520100': 0,
  });
  const c = corridors(t, 2);
  assert.deepEqual(c.top.map((r) => [r.key, r.v]), [['520100>520300', 35], ['520300>CN-CQ', 35]]);
  assert.equal(c.local, 52);
  assert.equal(c.total, 125);
});

test('while yesterday loads, changes are pending and nothing is fastest yet', () => {
  const now = state({ 'freight_value_1h|520100': 1200 });
  const { items, fastest } = compareItems([{ code: '520100' }], prefectureValue, now, { day: PENDING, week: null });
  assert.deepEqual(items[0].day, { dir: 'pending' });
  assert.deepEqual(items[0].week, { dir: 'none' });
  assert.equal(fastest, null);
});
