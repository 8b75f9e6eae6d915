// What the bar panels list, computed from any store (live, or a history state): sectors,
// prefectures, corridors between places and local traffic, each with its change against
// the same moment yesterday and a week ago, and the fastest growing one marked.
import { PENDING, changeVs, fastestGrowing } from './change.js';

// A sector's output: the whole area's row (meta.province), or the sum over the regions when
// only those exist.
export function sectorValue(store, meta, code) {
  const table = store.table('sector_value_1h');
  const v = table.get(`${meta.province.code}|${code}`)?.v;
  if (typeof v === 'number') return v;
  let sum = 0;
  let any = false;
  for (const r of meta.regions) {
    const x = table.get(`${r.code}|${code}`)?.v;
    if (typeof x === 'number') {
      sum += x;
      any = true;
    }
  }
  return any || store.absentIsZero ? sum : null;
}

export function prefectureValue(store, code) {
  return store.get('freight_value_1h', code);
}

// items: [{code, ...}], value(store, code) -> number|null. past.day / past.week are stores,
// null (no history there) or PENDING (still loading). Adds now, day and week changes, and `fastest` to the one
// growing fastest against yesterday.
export function compareItems(items, value, now, past, unit = 'count') {
  const out = items.map((it) => {
    const v = now === null ? null : value(now, it.code);
    const at = (st) => value(st, it.code);
    return {
      ...it,
      cmpNow: v,
      cmpDay: past.day && past.day !== PENDING ? at(past.day) : null,
      day: changeVs(v, past.day, at, unit),
      week: changeVs(v, past.week, at, unit),
      fastest: false,
    };
  });
  const best = fastestGrowing(out.map((it) => ({ code: it.code, now: it.cmpNow, past: it.cmpDay })));
  if (best) for (const it of out) it.fastest = it.code === best.code;
  return { items: out, fastest: best };
}

function corridorRows(table) {
  const rows = [];
  for (const [key, { v }] of table) {
    if (typeof v !== 'number' || v <= 0) continue;
    const [from, to] = key.split('>');
    rows.push({ key, from, to, v });
  }
  return rows;
}

// The busiest corridors between two different places (largest first, ties by key), and
// the shipments that stay within one prefecture, which are not a corridor at all.
export function corridors(table, n) {
  const between = [];
  let local = 0;
  let total = 0;
  for (const r of corridorRows(table)) {
    total += r.v;
    if (r.from === r.to) local += r.v;
    else between.push(r);
  }
  between.sort((a, b) => b.v - a.v || (a.key < b.key ? -1 : 1));
  return { top: between.slice(0, n), local, total };
}
