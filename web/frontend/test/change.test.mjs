// Change against the past and how the wall writes it, against hand-worked figures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PENDING, change, changeVs, fastestGrowing, formatChange } from '../src/change.js';

const text = (now, past, unit, lang = 'en') => formatChange(change(now, past, unit), lang);

test('up and down in percent of the past value', () => {
  assert.deepEqual(change(150, 120, 'CNY'), { dir: 'up', pct: 25 });
  assert.equal(text(110, 100, 'CNY'), '▲ 10%');
  assert.equal(text(103.4, 100, 'count'), '▲ 3.4%');
  assert.equal(text(88, 100, 'count'), '▼ 12%');
  assert.equal(text(1, 3, 'count'), '▼ 67%'); // 66.67 -> 67
  assert.equal(text(2500, 100, 'CNY'), '▲ 2,400%');
});

test('changes smaller than the digits shown still say which way', () => {
  assert.equal(text(100.04, 100, 'CNY'), '▲ <0.1%');
  assert.equal(text(99.96, 100, 'CNY'), '▼ <0.1%');
  assert.equal(text(100.06, 100, 'CNY'), '▲ 0.1%');
});

test('equal within the SPEC tolerance is no change', () => {
  assert.equal(text(100, 100, 'count'), '0%');
  assert.equal(text(1e9 + 0.5, 1e9, 'CNY'), '0%'); // within 1e-9 * |v|
  assert.equal(text(0.0000004, 0, 'CNY'), '0%'); // within 1e-6 of 0
  assert.equal(text(0, 0, 'count'), '0%');
});

test('from zero there is no percentage: "new"', () => {
  assert.deepEqual(change(5, 0, 'count'), { dir: 'new' });
  assert.equal(text(5, 0, 'count'), '▲ new');
  assert.equal(text(5, 0, 'count', 'zh'), '▲ 新增');
  assert.equal(text(-5, 0, 'count'), '▼');
  assert.equal(text(0, 40, 'count'), '▼ 100%');
});

test('no history, or a null side (a rate with no deliveries), gives "—"', () => {
  assert.equal(text(10, null, 'count'), '—');
  assert.equal(text(null, 10, 'count'), '—');
  assert.equal(text(undefined, 10, 'count'), '—');
  assert.equal(text(Number.NaN, 10, 'count'), '—');
  assert.equal(text(null, null, 'ratio'), '—');
});

test('ratios move in percentage points', () => {
  assert.equal(text(0.24, 0.234, 'ratio'), '▲ 0.6 pp');
  assert.equal(text(0.889, 0.9, 'ratio', 'zh'), '▼ 1.1个百分点');
  assert.equal(text(0.5, 0.5, 'ratio'), '0 pp');
  assert.equal(text(0.5, 0, 'ratio'), '▲ 50 pp'); // a share from 0 is a real change in points
});

test('Chinese uses the same arrows and Chinese digit grouping', () => {
  assert.equal(text(2500, 100, 'CNY', 'zh'), '▲ 2,400%');
  assert.equal(text(96.6, 100, 'CNY', 'zh'), '▼ 3.4%');
});

test('fastest growing: the largest rise in percent', () => {
  const items = [
    { code: 'a', now: 120, past: 100 }, // +20 %
    { code: 'b', now: 330, past: 300 }, // +10 %
    { code: 'c', now: 50, past: 40 }, // +25 %
    { code: 'd', now: 10, past: 20 }, // -50 %
  ];
  assert.deepEqual(fastestGrowing(items), { code: 'c', pct: 25, gain: 10 });
});

test('fastest growing ignores items that were almost nothing, or have no past', () => {
  const items = [
    { code: 'big', now: 1100, past: 1000 }, // +10 %
    { code: 'tiny', now: 9, past: 1 }, // +800 %, but 1 < 1 % of 1001
    { code: 'none', now: 500, past: null },
    { code: 'zero', now: 500, past: 0 },
  ];
  assert.equal(fastestGrowing(items).code, 'big');
  assert.equal(fastestGrowing(items, { minShare: 0 }).code, 'tiny');
});

test('fastest growing: none when nothing grew or there is no history', () => {
  assert.equal(fastestGrowing([{ code: 'a', now: 90, past: 100 }, { code: 'b', now: 100, past: 100 }]), null);
  assert.equal(fastestGrowing([{ code: 'a', now: 90, past: null }]), null);
  assert.equal(fastestGrowing([]), null);
});

test('fastest growing: ties go to the larger gain, then the smaller code', () => {
  const tie = [
    { code: 'b', now: 220, past: 200 },
    { code: 'a', now: 110, past: 100 },
  ];
  assert.equal(fastestGrowing(tie).code, 'b');
  const same = [
    { code: 'y', now: 110, past: 100 },
    { code: 'x', now: 110, past: 100 },
  ];
  assert.equal(fastestGrowing(same).code, 'x');
});

test('a past moment still loading shows "…", no history shows "—"', () => {
  const value = (st) => st.v;
  assert.deepEqual(changeVs(10, PENDING, value, 'count'), { dir: 'pending' });
  assert.equal(formatChange(changeVs(10, PENDING, value, 'count'), 'en'), '…');
  assert.equal(formatChange(changeVs(10, null, value, 'count'), 'en'), '—');
  assert.equal(formatChange(changeVs(12, { v: 10 }, value, 'count'), 'en'), '▲ 20%');
});
