// The page's copy of the server's indicator table: name -> key -> {v, t, f}.
// Replaced wholesale by a snapshot, patched by deltas; its size is the server's table.

// Rates and means are null when absent; counts and sums are 0 (SPEC section 8).
export const NULLABLE = new Set(['on_time_rate_1h', 'avg_transit_min_1h', 'digital_share_1h', 'dc_utilization_5m']);

export class Store {
  constructor() {
    this.tables = new Map();
    this.meta = null;
    this.version = 0;
    // A history state leaves absent values out; a live table just has not seen them yet.
    this.absentIsZero = false;
    // The active call-outs (docs/push-protocol.md): replaced whole whenever they change.
    this.callouts = [];
    // Protocol 3's value ids on this connection: id -> [name, key].
    this.ids = new Map();
  }

  // The values of a history answer ({"name|key": value}) as of second t: every one final.
  static fromState(values, t, meta) {
    const store = new Store();
    store.meta = meta;
    store.absentIsZero = true;
    for (const [nameKey, v] of Object.entries(values)) {
      const bar = nameKey.indexOf('|');
      if (bar <= 0) continue; // not "name|key": nothing a panel could show
      const name = nameKey.slice(0, bar);
      let table = store.tables.get(name);
      if (table === undefined) {
        table = new Map();
        store.tables.set(name, table);
      }
      table.set(nameKey.slice(bar + 1), { v, t, f: true });
    }
    return store;
  }

  // Protocol 3 (docs/push-protocol.md): a row names its value by a small integer id,
  // [id, value] with msg.at = [t, final] (the pair most rows share), else [id, value, t, final];
  // msg.defs = {name: [[key, id], ...]} says what ids not told before stand for. A snapshot
  // defines every id it uses and starts the id map afresh (ids hold for one connection).
  applySnapshot(msg) {
    this.meta = msg.meta;
    this.tables = new Map();
    this.ids = new Map();
    this.callouts = msg.callouts ?? [];
    this._define(msg.defs);
    this._merge(msg.values, msg.at);
    this.version += 1;
  }

  // False if the delta used an id never defined on this connection: the server broke its
  // word, and only a fresh snapshot can say what the page should show (the caller resyncs).
  applyDelta(msg) {
    this._define(msg.defs);
    const known = this._merge(msg.changes, msg.at);
    if (msg.callouts) this.callouts = msg.callouts;
    for (const id of msg.removed ?? []) {
      const ident = this.ids.get(id);
      if (ident !== undefined) this.tables.get(ident[0])?.delete(ident[1]);
    }
    this.version += 1;
    return known;
  }

  _define(defs) {
    for (const [name, pairs] of Object.entries(defs ?? {})) {
      for (const [key, id] of pairs) this.ids.set(id, [name, key]);
    }
  }

  _merge(rows, at) {
    let known = true;
    for (const row of rows ?? []) {
      const ident = this.ids.get(row[0]);
      if (ident === undefined) {
        known = false;
        continue;
      }
      let table = this.tables.get(ident[0]);
      if (table === undefined) {
        table = new Map();
        this.tables.set(ident[0], table);
      }
      const full = row.length >= 4;
      table.set(ident[1], { v: row[1], t: full ? row[2] : at[0], f: full ? row[3] : at[1] });
    }
    return known;
  }

  get(name, key) {
    const v = this.tables.get(name)?.get(key)?.v;
    if (v !== undefined && v !== null) return v;
    return this.absentIsZero && !NULLABLE.has(name) ? 0 : null;
  }

  table(name) {
    return this.tables.get(name) ?? new Map();
  }

  unit(name) {
    return this.meta?.indicators?.[name]?.unit ?? 'count';
  }
}
