// A ranked list of horizontal bars in HTML: name, bar, value and, where asked, the change
// against yesterday and last week. Rows are made once per item and only move (a CSS
// transition on `top`), so the list re-orders live like a bar race; the columns stay
// aligned and every figure is text a person (or a test) can read.
import { el, setText } from './dom.js';
import { formatChange } from './change.js';

export class BarList {
  constructor(container, s, lang, { rows, changes = false, unit = 'count', format }) {
    this.lang = lang;
    this.rows = rows;
    this.changes = changes;
    this.unit = unit;
    this.format = format;
    this.root = el('div', changes ? 'bars with-changes' : 'bars');
    if (changes) {
      const head = el('div', 'bars-head');
      head.append(el('span'), el('span'), el('span'), el('span', 'chg', s.colDay), el('span', 'chg', s.colWeek));
      this.root.append(head);
    }
    this.body = el('div', 'bars-body');
    this.root.append(this.body);
    this.byCode = new Map();
    container.append(this.root);
  }

  _row(code) {
    let row = this.byCode.get(code);
    if (row === undefined) {
      const li = el('div', 'bar-row');
      li.dataset.code = code;
      const name = el('span', 'name');
      const track = el('span', 'track');
      const fill = el('span', 'fill');
      track.append(fill);
      const value = el('span', 'val');
      li.append(name, track, value);
      row = { li, name, fill, value };
      if (this.changes) {
        row.day = el('span', 'chg');
        row.week = el('span', 'chg');
        li.append(row.day, row.week);
      }
      li.style.height = `${100 / this.rows}%`;
      this.body.append(li);
      this.byCode.set(code, row);
    }
    return row;
  }

  // items: [{code, name, value, digital?, fastest?, day?, week?}], any order.
  set(items) {
    const ranked = items
      .filter((i) => typeof i.value === 'number')
      .sort((a, b) => b.value - a.value || (a.code < b.code ? -1 : 1))
      .slice(0, this.rows);
    const max = ranked.length ? Math.max(ranked[0].value, 1e-9) : 1;
    const shown = new Set();
    ranked.forEach((item, rank) => {
      const row = this._row(item.code);
      shown.add(item.code);
      row.li.hidden = false;
      row.li.style.top = `${(100 * rank) / this.rows}%`;
      row.li.classList.toggle('digital', Boolean(item.digital));
      row.li.classList.toggle('fastest', Boolean(item.fastest));
      row.li.dataset.value = String(item.value);
      setText(row.name, item.name);
      setText(row.value, this.format(item.value));
      row.fill.style.width = `${Math.max(1.5, (100 * item.value) / max).toFixed(1)}%`;
      if (this.changes) {
        for (const which of ['day', 'week']) {
          const c = item[which] ?? { dir: 'none' };
          setText(row[which], formatChange(c, this.lang));
          if (row[which].dataset.dir !== c.dir) row[which].dataset.dir = c.dir;
        }
      }
    });
    for (const [code, row] of this.byCode) if (!shown.has(code)) row.li.hidden = true;
  }
}
