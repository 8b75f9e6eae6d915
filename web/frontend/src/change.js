// "Improving": a value against the same moment yesterday or a week ago, both final values.
//
// change() says how a value moved; formatChange() writes it for the wall. Ratios (0..1:
// on-time rate, digital share) move in percentage points, since "+2.6 %" of a 23 % share
// reads as if the share itself had grown by 2.6 points; everything else in percent.
import { locale } from './i18n.js';

export const DAY_S = 86400;
// A past moment still loading: its changes show as "…", never as a "—" that would say
// there is no history.
export const PENDING = Symbol('pending');
export const WEEK_S = 7 * DAY_S;

// SPEC section 8: two values are equal within max(1e-9 * |v|, 1e-6).
export function sameValue(a, b) {
  return Math.abs(a - b) <= Math.max(1e-9 * Math.max(Math.abs(a), Math.abs(b)), 1e-6);
}

// The change of `now` against a past store's value: 'pending' while that store loads,
// 'none' where there is no store (no history there).
export function changeVs(now, past, value, unit) {
  if (past === PENDING) return { dir: 'pending' };
  if (!past) return { dir: 'none' };
  return change(now, value(past), unit);
}

// {dir, pct?, pts?}: dir is 'none' (no history or a null side: nothing to compare), 'flat',
// 'up', 'down', or 'new' (from 0 to something: a percentage of 0 does not exist).
export function change(now, past, unit) {
  if (typeof now !== 'number' || typeof past !== 'number' || !Number.isFinite(now) || !Number.isFinite(past)) {
    return { dir: 'none' };
  }
  if (sameValue(now, past)) return unit === 'ratio' ? { dir: 'flat', pts: 0 } : { dir: 'flat', pct: 0 };
  const dir = now > past ? 'up' : 'down';
  if (unit === 'ratio') return { dir, pts: (now - past) * 100 };
  if (past === 0 || sameValue(past, 0)) return { dir: now > 0 ? 'new' : 'down' };
  return { dir, pct: ((now - past) / Math.abs(past)) * 100 };
}

const WORDS = {
  zh: { new: '新增', pp: '个百分点' },
  en: { new: 'new', pp: ' pp' },
  fr: { new: 'nouveau', pp: ' pt' },
  ar: { new: 'جديد', pp: ' نقطة' },
};

function magnitude(x, lang) {
  const a = Math.abs(x);
  if (a < 0.05) return '<0.1'; // moved, but less than the digits shown: not "0"!
  const digits = a < 10 ? 1 : 0;
  return new Intl.NumberFormat(locale(lang), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(a);
}

// "▲ 3.4%", "▼ 12%", "▲ 1.2 pp", "▲ new", "0%", or "—" when there is nothing to compare.
export function formatChange(c, lang) {
  const w = WORDS[lang] ?? WORDS.en;
  switch (c.dir) {
    case 'none':
      return '—';
    case 'pending':
      return '…';
    case 'flat':
      return c.pts !== undefined ? `0${w.pp}` : '0%';
    case 'new':
      return `▲ ${w.new}`;
    default: {
      const arrow = c.dir === 'up' ? '▲' : '▼';
      if (c.pts !== undefined) return `${arrow} ${magnitude(c.pts, lang)}${w.pp}`;
      if (c.pct === undefined) return arrow; // below a zero base: no percentage exists
      return `${arrow} ${magnitude(c.pct, lang)}%`;
    }
  }
}

// The item growing fastest against the past, or null when none grew. Items are
// {code, now, past}. Only items whose past value is at least `minShare` of the items' past
// total compete: growing from almost nothing ("+900 %" on ¥100) is not what the public means
// by a sector improving. Ties go to the larger absolute growth, then to the smaller code.
export function fastestGrowing(items, { minShare = 0.01 } = {}) {
  let total = 0;
  for (const it of items) if (typeof it.past === 'number' && it.past > 0) total += it.past;
  if (total <= 0) return null;
  let best = null;
  for (const it of items) {
    if (typeof it.now !== 'number' || typeof it.past !== 'number' || it.past <= 0) continue;
    if (it.past < minShare * total) continue;
    const c = change(it.now, it.past, 'count');
    if (c.dir !== 'up') continue;
    const gain = it.now - it.past;
    if (
      best === null ||
      c.pct > best.pct ||
      (c.pct === best.pct && (gain > best.gain || (gain === best.gain && it.code < best.code)))
    ) {
      best = { code: it.code, pct: c.pct, gain };
    }
  }
  return best;
}
