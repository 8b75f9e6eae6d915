// The wall in French, Arabic and English for an area with its own currency and clock:
// number and money formatting, the way of writing, the language chosen, and times in the
// area's zone (Africa/Casablanca drops to UTC+0 around Ramadan), against hand-worked cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAxis, formatText, formatValue } from '../src/format.js';
import { clockText } from '../src/header.js';
import { chooseLanguage, direction, shortName, strings } from '../src/i18n.js';
import { formatMoment, offsetAt, serialiseTravel, wallFields } from '../src/travelurl.js';
import { travelBadge } from '../src/badge.js';

const NNBSP = '\u202f'; // French groups thousands with a narrow no-break space

test('money in the area currency, per language', () => {
  assert.equal(formatText(1_234_567_890, 'MAD', 'fr'), '1,23 Md MAD');
  assert.equal(formatText(1_234_567_890, 'MAD', 'ar'), '1.23 مليار د.م.');
  assert.equal(formatText(1_234_567_890, 'MAD', 'en'), 'MAD 1.23 B');
  assert.equal(formatText(98_765, 'MAD', 'fr'), '99 k MAD');
  assert.equal(formatText(98_765, 'MAD', 'ar'), '99 ألف د.م.');
  assert.equal(formatText(45_600_000, 'MAD', 'fr'), '45,6 M MAD');
  assert.equal(formatText(812, 'MAD', 'fr'), '812 MAD');
  // Guizhou's forms are unchanged.
  assert.equal(formatText(1_234_567_890, 'CNY', 'en'), '¥1.23B');
  assert.deepEqual(formatValue(925_900_000, 'CNY', 'zh'), ['9.26', '亿元']);
});

test('counts, rates, tonnes and minutes, per language', () => {
  assert.equal(formatText(4321, 'count', 'fr'), `4${NNBSP}321`);
  assert.equal(formatText(4321, 'count', 'ar'), '4,321'); // Latin digits, readable across a room
  assert.equal(formatText(2_500_000, 'count', 'fr'), '2,5 M');
  assert.equal(formatText(0.8765, 'ratio', 'fr'), '87,6%');
  assert.equal(formatText(0.8765, 'ratio', 'ar'), '87.6%');
  assert.equal(formatText(12_345_678, 't', 'ar'), '12.3 مليون طن');
  assert.equal(formatText(95.4, 'min', 'ar'), '95 دقيقة');
  assert.equal(formatAxis(250_000_000, 'fr'), '250 M');
  assert.equal(formatAxis(250_000_000, 'en'), '250M');
});

// web/precision.py rounds what it sends to the digits zh and en display; French and Arabic
// must show the same digits as English for that rounding to be exact for them too.
test('French and Arabic show exactly the digits English shows', () => {
  const digits = (text) => text.replace(/[^0-9]/g, '');
  let seed = 7;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let i = 0; i < 4000; i++) {
    const v = i % 5 === 0 ? random() : 10 ** (random() * 14 - 3);
    for (const unit of ['count', 'MAD', 't', 'min', 'MW', 'ratio']) {
      const en = digits(formatValue(v, unit, 'en')[0]);
      assert.equal(digits(formatValue(v, unit, 'fr')[0]), en, `${v} ${unit} fr`);
      assert.equal(digits(formatValue(v, unit, 'ar')[0]), en, `${v} ${unit} ar`);
    }
  }
});

test('Arabic is written right to left; the others left to right', () => {
  assert.equal(direction('ar'), 'rtl');
  for (const lang of ['fr', 'en', 'zh']) assert.equal(direction(lang), 'ltr');
});

test('the URL picks the language among the area languages; else the area first', () => {
  const morocco = ['fr', 'ar', 'en'];
  assert.equal(chooseLanguage('ar', morocco), 'ar');
  assert.equal(chooseLanguage(null, morocco), 'fr');
  assert.equal(chooseLanguage('zh', morocco), 'fr'); // no Chinese names for Moroccan places
  assert.equal(chooseLanguage('en', ['zh', 'en']), 'en');
  assert.equal(chooseLanguage(null, ['zh', 'en']), 'zh');
  assert.throws(() => chooseLanguage('fr', []), /does not know its area/);
});

const MOROCCO = {
  province: { code: 'MA', names: { fr: 'Maroc', ar: 'المغرب', en: 'Morocco' } },
  currency: 'MAD',
  time_zone: 'Africa/Casablanca',
  map: { name: 'morocco', attribution: 'morocco-map, ODbL-1.0' },
};

test('words from the area: title, currency, clock, map and arrows', () => {
  const fr = strings('fr', MOROCCO);
  assert.equal(fr.title, 'Pouls économique · Maroc');
  assert.equal(strings('ar', MOROCCO).title, 'نبض اقتصاد المغرب');
  assert.equal(strings('en', MOROCCO).title, 'Morocco Pulse');
  assert.equal(fr.currency, 'MAD');
  assert.equal(fr.timeZone, 'Africa/Casablanca');
  assert.equal(fr.province, 'MA');
  assert.equal(fr.mapName, 'morocco');
  assert.equal(fr.arrow, '→');
  assert.equal(strings('ar', MOROCCO).arrow, '←'); // from the right, where Arabic starts
  const guizhou = { ...MOROCCO, province: { code: '520000', names: { zh: '贵州省', en: 'Guizhou' } } };
  assert.equal(strings('zh', guizhou).title, '贵州经济脉搏');
  const place = { code: 'MA-06', names: { fr: 'Casablanca-Settat', ar: 'الدار البيضاء سطات' } };
  assert.equal(shortName(place, 'ar'), 'الدار البيضاء سطات');
  assert.equal(shortName(place, 'en'), 'Casablanca-Settat'); // no English name: the first
});

// 2026-02-15 02:00 UTC: Casablanca goes from UTC+1 to UTC+0 for Ramadan (IANA tz data).
const BEFORE = Date.UTC(2026, 1, 15, 1, 30) / 1000; // 02:30 local, +01:00
const AFTER = Date.UTC(2026, 1, 15, 2, 30) / 1000; // 02:30 local again, +00:00

test('times in the area zone follow its change of offset', () => {
  assert.equal(offsetAt(BEFORE, 'Africa/Casablanca'), 3600);
  assert.equal(offsetAt(AFTER, 'Africa/Casablanca'), 0);
  assert.equal(formatMoment(BEFORE, 'Africa/Casablanca'), '2026-02-15T02:30:00+01:00');
  assert.equal(formatMoment(AFTER, 'Africa/Casablanca'), '2026-02-15T02:30:00+00:00');
  assert.equal(wallFields(AFTER, 'Africa/Casablanca').hour, '02');
  assert.equal(offsetAt(AFTER, 'Asia/Shanghai'), 8 * 3600);
  assert.equal(formatMoment(AFTER), '2026-02-15T10:30:00+08:00'); // default: UTC+8
  const search = serialiseTravel('?lang=fr', { session: 'live', at: AFTER, playing: false }, 'Africa/Casablanca');
  assert.equal(search, '?lang=fr&session=live&at=2026-02-15T02:30:00+00:00');
  assert.equal(travelBadge({ session: 'live', t: BEFORE, speed: 1, playing: false }, 'fr', 'Africa/Casablanca').text,
    'RELECTURE 02-15 02:30:00 EN PAUSE');
});

test('the clock shows the area time and its offset, whatever the machine zone', () => {
  const fr = clockText(AFTER * 1000, 'fr', 'Africa/Casablanca');
  assert.equal(fr.text, 'dim. 15/02/2026 02:30:00');
  assert.equal(fr.zone, 'UTC+0');
  const before = clockText(BEFORE * 1000, 'fr', 'Africa/Casablanca');
  assert.equal(before.text, 'dim. 15/02/2026 02:30:00');
  assert.equal(before.zone, 'UTC+1');
  const ar = clockText(AFTER * 1000, 'ar', 'Africa/Casablanca');
  assert.equal(ar.text, 'الأحد 15/02/2026 02:30:00');
  assert.equal(clockText(AFTER * 1000, 'zh', 'Asia/Shanghai').text, '2026年02月15日 周日 10:30:00');
});

test("the server's offsets win over the browser's within their span, and only there", () => {
  // Hand-made: UTC+1 from 2026-01-01, UTC+0 from the Ramadan change, until 2027-01-01.
  const zone = {
    name: 'Africa/Casablanca',
    until: Date.UTC(2027, 0, 1) / 1000,
    offsets: [[Date.UTC(2026, 0, 1) / 1000, 3600], [Date.UTC(2026, 1, 15, 2) / 1000, 0], [Date.UTC(2026, 2, 22, 2) / 1000, 3600]],
  };
  const december = Date.UTC(2026, 11, 4, 18, 36, 52) / 1000;
  assert.equal(offsetAt(december, zone), 3600);
  assert.equal(offsetAt(BEFORE, zone), 3600);
  assert.equal(offsetAt(AFTER, zone), 0);
  assert.equal(offsetAt(Date.UTC(2026, 2, 22, 2) / 1000, zone), 3600); // the second it changes
  assert.equal(offsetAt(Date.UTC(2026, 2, 22, 2) / 1000 - 1, zone), 0);
  const clock = clockText(december * 1000, 'fr', zone);
  assert.deepEqual(clock, { text: 'ven. 04/12/2026 19:36:52', zone: 'UTC+1' });
  // Outside the span: the browser's Intl for the zone's name.
  const summer2030 = Date.UTC(2030, 6, 1) / 1000;
  assert.equal(offsetAt(summer2030, zone), offsetAt(summer2030, 'Africa/Casablanca'));
  assert.equal(strings('fr', { ...MOROCCO, zone }).zone, zone);
  assert.equal(strings('fr', MOROCCO).zone, 'Africa/Casablanca');
});
