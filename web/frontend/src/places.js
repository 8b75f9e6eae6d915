// Region and exit lookups built from the snapshot's metadata.
import { shortName } from './i18n.js';

export class Places {
  constructor(meta, lang) {
    this.lang = lang;
    this.regions = meta.regions;
    this.exits = meta.exits;
    this.province = meta.province.code;
    this.exitCodes = new Set(meta.exits.map((p) => p.code));
    this.byCode = new Map();
    for (const p of [...meta.regions, ...meta.exits]) this.byCode.set(p.code, p);
  }

  name(code) {
    const p = this.byCode.get(code);
    return p ? shortName(p, this.lang) : code;
  }

  coord(code) {
    const p = this.byCode.get(code);
    return p ? [p.lon, p.lat] : null;
  }

  isExit(code) {
    return this.exitCodes.has(code);
  }
}

// Top `n` of a Map(key -> {v}) by value, largest first, ignoring null and zero.
export function top(table, n) {
  const rows = [];
  for (const [key, { v }] of table) if (typeof v === 'number' && v > 0) rows.push([key, v]);
  rows.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return rows.slice(0, n);
}
