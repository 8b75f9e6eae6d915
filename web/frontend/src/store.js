// The page's copy of the server's indicator table: name -> key -> {v, t, f}.
// Replaced wholesale by a snapshot, patched by deltas; its size is the server's table.
export class Store {
  constructor() {
    this.tables = new Map();
    this.meta = null;
    this.version = 0;
  }

  // Values arrive grouped by indicator name: {name: [[key, value, t, final], ...]}.
  applySnapshot(msg) {
    this.meta = msg.meta;
    this.tables = new Map();
    this._merge(msg.values);
    this.version += 1;
  }

  applyDelta(msg) {
    this._merge(msg.changes);
    for (const [name, keys] of Object.entries(msg.removed ?? {})) {
      const table = this.tables.get(name);
      for (const key of keys) table?.delete(key);
    }
    this.version += 1;
  }

  _merge(groups) {
    for (const [name, rows] of Object.entries(groups)) {
      let table = this.tables.get(name);
      if (table === undefined) {
        table = new Map();
        this.tables.set(name, table);
      }
      for (const [key, v, t, f] of rows) table.set(key, { v, t, f });
    }
  }

  get(name, key) {
    return this.tables.get(name)?.get(key)?.v ?? null;
  }

  table(name) {
    return this.tables.get(name) ?? new Map();
  }

  unit(name) {
    return this.meta?.indicators?.[name]?.unit ?? 'count';
  }
}
