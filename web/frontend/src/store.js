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

  // Values arrive grouped by indicator name: {name: [row, ...]} with msg.at = [t, final],
  // the pair most rows share; a row is [key, value] with that pair, else [key, value, t, final].
  applySnapshot(msg) {
    this.meta = msg.meta;
    this.tables = new Map();
    this.callouts = msg.callouts ?? [];
    this._merge(msg.values, msg.at);
    this.version += 1;
  }

  applyDelta(msg) {
    this._merge(msg.changes, msg.at);
    if (msg.callouts) this.callouts = msg.callouts;
    for (const [name, keys] of Object.entries(msg.removed ?? {})) {
      const table = this.tables.get(name);
      for (const key of keys) table?.delete(key);
    }
    this.version += 1;
  }

  _merge(groups, at) {
    for (const [name, rows] of Object.entries(groups)) {
      let table = this.tables.get(name);
      if (table === undefined) {
        table = new Map();
        this.tables.set(name, table);
      }
      for (const row of rows) {
        const full = row.length >= 4;
        table.set(row[0], { v: row[1], t: full ? row[2] : at[0], f: full ? row[3] : at[1] });
      }
    }
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
