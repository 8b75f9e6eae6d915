// Call-outs on the wall: ranking, the at-most-three rule, where each is drawn, and its
// sentence in both languages, against hand-worked tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SHOWN, calloutPlace, calloutView, rankCallouts } from '../src/callouts.js';
import { PHRASES, calloutSentence, placeName } from '../src/callout_text.js';

// The shape of the snapshot's metadata (docs/push-protocol.md), a few entries of it.
const meta = {
  province: { code: '520000', names: { en: 'Guizhou', zh: '贵州省' } },
  regions: [
    { code: '520100', names: { en: 'Guiyang', zh: '贵阳市' }, lon: 106.713, lat: 26.578 },
    { code: '520300', names: { en: 'Zunyi', zh: '遵义市' }, lon: 106.937, lat: 27.707 },
    { code: '522300', names: { en: 'Qianxinan', zh: '黔西南布依族苗族自治州' }, lon: 104.9, lat: 25.09 },
  ],
  exits: [{ code: 'CN-CQ', names: { en: 'Chongqing', zh: '重庆' }, lon: 107.35, lat: 29.55 }],
  sectors: [{ code: 'liquor', names: { en: 'Liquor', zh: '白酒' } }],
  indicators: {
    corridor_shipments_15m: { unit: 'count' },
    on_time_rate_1h: { unit: 'ratio' },
    dc_power_mw_5m: { unit: 'MW' },
    sector_value_1h: { unit: 'CNY' },
    export_value_by_country_1h: { unit: 'CNY' },
    shipments_1m: { unit: 'count' },
  },
};
const co = (name, key, value, expected, score) => ({ name, key, value, expected, low: 0, high: 0, score, t: 1, since: 1 });

test('most severe first, at most three, ties by name then key', () => {
  const list = [
    co('shipments_1m', '520100', 1, 2, 2.5),
    co('dc_power_mw_5m', '520900', 1, 2, -6),
    co('corridor_shipments_15m', '520300>520100', 3, 17, -4.5),
    co('shipments_1m', '520300', 1, 2, 4.5),
    co('on_time_rate_1h', '520100', 0.5, 0.9, 3),
  ];
  assert.equal(MAX_SHOWN, 3);
  assert.deepEqual(
    rankCallouts(list).map((c) => `${c.name}|${c.key}`),
    ['dc_power_mw_5m|520900', 'corridor_shipments_15m|520300>520100', 'shipments_1m|520300'],
  );
  assert.equal(rankCallouts(list, 10).length, 5);
  assert.deepEqual(rankCallouts([]), []);
  assert.deepEqual(rankCallouts(undefined), []);
  // Entries that are not call-outs are left out rather than drawn wrong.
  assert.deepEqual(rankCallouts([null, { name: 1 }, co('a', 'b', 1, 1, 1)]).length, 1);
});

test('where each call-out is drawn', () => {
  const regions = meta.regions.map((r) => r.code);
  const table = [
    [co('corridor_shipments_15m', '520300>520100'), { region: null, corridor: ['520300', '520100'], tile: null, bar: { panel: 'corridors', code: '520300>520100' } }],
    [co('corridor_shipments_15m', '520100>CN-CQ'), { region: null, corridor: ['520100', 'CN-CQ'], tile: null, bar: { panel: 'corridors', code: '520100>CN-CQ' } }],
    [co('freight_value_1h', '520300'), { region: '520300', corridor: null, tile: null, bar: { panel: 'prefectures', code: '520300' } }],
    [co('dc_power_mw_5m', '520100'), { region: '520100', corridor: null, tile: null, bar: { panel: 'dc', code: '520100' } }],
    [co('shipments_1m', '520000'), { region: null, corridor: null, tile: 'shipments_1m', bar: null }],
    [co('shipments_1m', '520300'), { region: '520300', corridor: null, tile: null, bar: null }],
    [co('tonnage_1h', '520000'), { region: null, corridor: null, tile: null, bar: null }],
    [co('sector_value_1h', '520300|liquor'), { region: '520300', corridor: null, tile: null, bar: { panel: 'sectors', code: 'liquor' } }],
    [co('sector_value_1h', '520000|liquor'), { region: null, corridor: null, tile: null, bar: { panel: 'sectors', code: 'liquor' } }],
    [co('export_value_by_country_1h', 'VN'), { region: null, corridor: null, tile: null, bar: { panel: 'exports', code: 'VN' } }],
  ];
  for (const [c, want] of table) assert.deepEqual(calloutPlace(c, regions, '520000'), want, `${c.name}|${c.key}`);
});

test('sentences in Chinese and English', () => {
  const table = [
    // 3 against a usual 17: (17 - 3) / 17 = 82.4 % below.
    [co('corridor_shipments_15m', '520300>520100', 3, 17, -4.5), '遵义→贵阳 发运量 较平时低 82%', 'Zunyi → Guiyang shipments 82% below usual'],
    // 45 against 20: +125 %.
    [co('dc_power_mw_5m', '520100', 45, 20, 5), '贵阳 数据中心负荷 较平时高 125%', 'Guiyang data-centre load 125% above usual'],
    // A share: 0.62 against 0.9 is 28 points below, not "31 %".
    [co('on_time_rate_1h', '520100', 0.62, 0.9, -3), '贵阳 准时率 较平时低 28个百分点', 'Guiyang on-time rate 28 pp below usual'],
    [co('sector_value_1h', '520300|liquor', 3.1e6, 1e6, 4), '遵义白酒 产值 较平时高 210%', 'Zunyi Liquor output 210% above usual'],
    [co('sector_value_1h', '520000|liquor', 5e5, 1e6, -4), '白酒 产值 较平时低 50%', 'Liquor output 50% below usual'],
    [co('shipments_1m', '522300', 0, 12, -4), '黔西南州 发运量 较平时低 100%', 'Qianxinan shipments 100% below usual'],
    [co('shipments_1m', '520000', 30, 40, -4), '贵州省 发运量 较平时低 25%', 'Guizhou shipments 25% below usual'],
    [co('corridor_shipments_15m', '520100>CN-CQ', 5, 0, 4), '贵阳→重庆 发运量 平时几乎为零', 'Guiyang → Chongqing shipments up from almost none'],
    [co('on_time_rate_1h', '520300', null, 0.9, -3), '遵义 准时率 无数据', 'Zunyi on-time rate missing'],
    // 100.5 against 100 rounds to 1 %, never "0 %" for something called out.
    [co('shipments_1m', '520100', 100.2, 100, 3), '贵阳 发运量 较平时高 1%', 'Guiyang shipments 1% above usual'],
  ];
  for (const [c, zh, en] of table) {
    assert.equal(calloutSentence(c, meta, 'zh'), zh);
    assert.equal(calloutSentence(c, meta, 'en'), en);
  }
});

test('a country by its name in the language, from the runtime locale data', () => {
  const c = co('export_value_by_country_1h', 'VN', 220, 100, 6);
  assert.equal(calloutSentence(c, meta, 'en'), 'Vietnam exports 120% above usual');
  assert.equal(calloutSentence(c, meta, 'zh'), '越南 出口额 较平时高 120%');
});

test('every language table has every phrase and indicator word', () => {
  const keys = Object.keys(PHRASES.zh).sort();
  const words = Object.keys(PHRASES.zh.what).sort();
  for (const [lang, p] of Object.entries(PHRASES)) {
    assert.deepEqual(Object.keys(p).sort(), keys, lang);
    assert.deepEqual(Object.keys(p.what).sort(), words, lang);
  }
  assert.equal(placeName(meta, 'XX', 'en'), 'XX'); // unknown code: shown as it is
});

test('the view: ranked, placed and worded together', () => {
  const view = calloutView(
    [co('shipments_1m', '520300', 1, 2, 2), co('corridor_shipments_15m', '520300>520100', 3, 17, -4.5)],
    meta,
    (c) => calloutSentence(c, meta, 'en'),
  );
  assert.deepEqual(
    view.map((v) => [v.rank, v.text, v.place.region, v.place.corridor]),
    [
      [0, 'Zunyi → Guiyang shipments 82% below usual', null, ['520300', '520100']],
      [1, 'Zunyi shipments 50% below usual', '520300', null],
    ],
  );
});
