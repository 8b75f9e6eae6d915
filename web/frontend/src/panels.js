// The side panels: output by sector, freight by prefecture, data centres, exports by
// country, top corridors. Each is drawn from a store (live, or a history state) and, for
// the bars that compare, the stores of the same moment yesterday and a week ago.
import { BarList } from './bars.js';
import { formatChange } from './change.js';
import { COLORS, echarts, fontFamily, rem } from './charts.js';
import { el, setText } from './dom.js';
import { countryName } from './i18n.js';
import { formatText, formatValue } from './format.js';
import { top } from './places.js';
import { compareItems, corridors, prefectureValue, sectorValue } from './rankings.js';

const NO_PAST = { day: null, week: null };
// Three panels share the right-hand column.
const EXPORT_ROWS = 6;
const CORRIDOR_ROWS = 6;

function panel(title, note) {
  const root = el('section', 'panel');
  const h = el('h2', '', title);
  if (note) h.append(el('span', 'note', note));
  root.append(h);
  return root;
}

// A horizontal bar chart whose bars re-order live (largest on top).
class BarRace {
  constructor(dom, lang, { digital = null, rows = 10, currency } = {}) {
    this.lang = lang;
    this.currency = currency;
    this.digital = digital;
    this.rows = rows;
    this.chart = echarts.init(dom, null, { renderer: 'canvas' });
    this.styled = false;
  }

  resize() {
    this.chart.resize();
    this.styled = false;
  }

  labelRoom() {
    return Math.max(5.8, 0.62 * formatText(88.8e6, this.currency, this.lang).length);
  }

  // A replayed second is shown as it was: no figures gliding through values it never had.
  setAnimated(on) {
    if (this.animated === on) return;
    this.animated = on;
    this.styled = false;
  }

  set(items) {
    const r = rem();
    if (!this.styled) {
      this.chart.setOption(
        {
          animation: this.animated !== false,
          textStyle: { fontFamily: fontFamily() },
          animationDuration: 600,
          animationDurationUpdate: 800,
          // Room beside the bars for the value labels, whose length depends on the language
          // and currency (¥88.8M, 88,8 M MAD, 88.8 مليون د.م.).
          grid: { left: r * 0.3, right: r * this.labelRoom(), top: r * 0.2, bottom: r * 0.2, containLabel: true },
          xAxis: { type: 'value', max: 'dataMax', show: false },
          yAxis: {
            type: 'category',
            inverse: true,
            max: this.rows - 1,
            axisLine: { show: false },
            axisTick: { show: false },
            axisLabel: { color: COLORS.text, fontSize: r * 1.05, width: r * 9.5, overflow: 'truncate' },
            animationDuration: 300,
            animationDurationUpdate: 300,
          },
          series: [
            {
              id: 'bars',
              type: 'bar',
              realtimeSort: true,
              barCategoryGap: '28%',
              itemStyle: { borderRadius: [0, r * 0.3, r * 0.3, 0] },
              label: {
                show: true,
                position: 'right',
                color: COLORS.text,
                fontSize: r,
                valueAnimation: true,
                formatter: (p) => formatText(p.value, this.currency, this.lang),
              },
              data: [],
            },
          ],
        },
        { notMerge: true },
      );
      this.styled = true;
    }
    const names = items.map((i) => i.name);
    const data = items.map((i) => ({
      value: i.value,
      itemStyle: {
        color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [
          { offset: 0, color: i.highlight ? 'rgba(55, 227, 154, 0.35)' : 'rgba(54, 214, 255, 0.3)' },
          { offset: 1, color: i.highlight ? '#37e39a' : COLORS.accent },
        ]),
      },
    }));
    this.chart.setOption({ yAxis: { data: names }, series: [{ id: 'bars', data }] });
  }
}

// "The fastest growing" line under a panel's title, against the same moment yesterday.
class Fastest {
  constructor(root, s, lang) {
    this.s = s;
    this.lang = lang;
    this.node = el('div', 'fastest-note');
    root.append(this.node);
  }

  set(fastest, items) {
    const best = fastest && items.find((i) => i.code === fastest.code);
    this.node.hidden = !best;
    if (!best) return;
    setText(this.node, `${this.s.fastest} ${best.name} ${formatChange(best.day, this.lang)}`);
    this.node.dataset.code = best.code;
  }
}

export class Sectors {
  constructor(container, s, lang) {
    this.lang = lang;
    this.root = panel(s.sectors, s.sectorsNote);
    this.root.dataset.panel = 'sectors';
    this.fastest = new Fastest(this.root, s, lang);
    container.append(this.root);
    this.bars = new BarList(this.root, s, lang, {
      rows: 10,
      changes: true,
      format: (v) => formatText(v, s.currency, lang),
    });
  }

  // cmp: {now, day, week}: final values of the compared second and of the same moment
  // yesterday and a week ago (null where there is no history), or null.
  update(store, places, cmp = null) {
    const meta = store.meta;
    const value = (st, code) => sectorValue(st, meta, code);
    const base = meta.sectors.map((sec) => ({ code: sec.code, name: sec.names[this.lang] ?? sec.code, digital: sec.digital }));
    const { items, fastest } = compareItems(base, value, cmp?.now ?? null, cmp ?? NO_PAST);
    for (const it of items) it.value = value(store, it.code);
    this.bars.set(items);
    this.fastest.set(fastest, items);
  }

  resize() {}
}

export class Prefectures {
  constructor(container, s, lang) {
    this.lang = lang;
    this.root = panel(s.prefectures, s.prefecturesNote);
    this.root.dataset.panel = 'prefectures';
    this.fastest = new Fastest(this.root, s, lang);
    container.append(this.root);
    this.bars = new BarList(this.root, s, lang, {
      rows: 9,
      changes: true,
      format: (v) => formatText(v, s.currency, lang),
    });
  }

  update(store, places, cmp = null) {
    const base = places.regions.map((r) => ({ code: r.code, name: places.name(r.code) }));
    const { items, fastest } = compareItems(base, prefectureValue, cmp?.now ?? null, cmp ?? NO_PAST);
    for (const it of items) it.value = prefectureValue(store, it.code);
    this.bars.set(items);
    this.fastest.set(fastest, items);
  }

  resize() {}
}

export class Exports {
  constructor(container, s, lang) {
    this.lang = lang;
    this.s = s;
    this.root = panel(s.exports, s.exportsNote);
    this.root.dataset.panel = 'exports';
    const dom = el('div', 'chart');
    this.root.append(dom);
    container.append(this.root);
    this.bars = new BarRace(dom, lang, { rows: EXPORT_ROWS, currency: s.currency });
    this.names = new Map();
  }

  _name(code) {
    let n = this.names.get(code);
    if (n === undefined) {
      n = countryName(code, this.lang);
      this.names.set(code, n);
    }
    return n;
  }

  setAnimated(on) {
    this.bars.setAnimated(on);
  }

  update(store) {
    const rows = top(store.table('export_value_by_country_1h'), EXPORT_ROWS);
    this.bars.set(rows.map(([code, v]) => ({ name: this._name(code), value: Math.round(v) })));
  }

  resize() {
    this.bars.resize();
  }
}

export class DataCentres {
  constructor(container, s, lang) {
    this.lang = lang;
    this.root = panel(s.dc, s.dcNote);
    this.root.dataset.panel = 'dc';
    const figures = el('div', 'dc-figures');
    const power = el('div');
    this.power = el('span', 'big', '—');
    this.powerUnit = el('span', 'unit', 'MW');
    power.append(el('span', 'caption', s.dcPower), this.power, this.powerUnit);
    const util = el('div');
    this.util = el('span', 'big', '—');
    this.utilUnit = el('span', 'unit', '%');
    util.append(el('span', 'caption', s.dcUtil), this.util, this.utilUnit);
    figures.append(power, util);
    this.root.append(figures);
    container.append(this.root);
    // Load by prefecture as rows, not columns: nine prefecture names and "123 MW" labels
    // side by side overlapped on a 1080p wall whenever the columns were short.
    this.bars = new BarList(this.root, s, lang, { rows: 9, format: (v) => formatText(v, 'MW', lang) });
  }

  resize() {}

  update(store, places) {
    const mw = store.get('dc_power_mw_5m', places.province);
    const util = store.get('dc_utilization_5m', places.province);
    const [p, pu] = formatValue(mw, 'MW', this.lang);
    setText(this.power, p);
    setText(this.powerUnit, pu);
    const [u, uu] = formatValue(util, 'ratio', this.lang);
    setText(this.util, u);
    setText(this.utilUnit, uu);
    this.power.dataset.target = mw === null ? '' : String(mw);
    const rows = top(store.table('dc_power_mw_5m'), 10).filter(([code]) => code !== places.province);
    this.bars.set(rows.map(([code, v]) => ({ code, name: places.name(code), value: v })));
  }
}

export class Corridors {
  constructor(container, s, lang) {
    this.s = s;
    this.root = panel(s.corridors, s.corridorsNote);
    this.root.dataset.panel = 'corridors';
    this.list = el('ol', 'corridors');
    this.empty = el('div', 'empty', s.noData);
    this.rows = [];
    for (let i = 0; i < CORRIDOR_ROWS; i += 1) {
      const li = el('li');
      const bar = el('span', 'bar');
      const rank = el('span', 'rank', String(i + 1));
      const route = el('span', 'route');
      const count = el('span', 'count');
      li.append(bar, rank, route, count);
      li.hidden = true;
      this.rows.push({ li, bar, route, count });
      this.list.append(li);
    }
    // Shipments that stay within one prefecture are not a corridor: one figure for them.
    this.local = el('div', 'local');
    this.localValue = el('span', 'count', '—');
    this.localShare = el('span', 'share');
    this.local.append(el('span', 'caption', s.local), this.localValue, this.localShare);
    this.root.append(this.list, this.empty, this.local);
    container.append(this.root);
    this.lang = lang;
  }

  update(store, places) {
    const { top: flows, local, total } = corridors(store.table('corridor_shipments_15m'), this.rows.length);
    const busiest = flows.length ? flows[0].v : 1;
    this.empty.hidden = flows.length > 0;
    this.rows.forEach((row, i) => {
      const f = flows[i];
      row.li.hidden = !f;
      if (!f) return;
      setText(row.route, `${places.name(f.from)} ${this.s.arrow} ${places.name(f.to)}`);
      setText(row.count, formatText(f.v, 'count', this.lang));
      row.li.dataset.key = f.key;
      row.bar.style.width = `${Math.max(4, (100 * f.v) / busiest).toFixed(1)}%`;
    });
    setText(this.localValue, formatText(local, 'count', this.lang));
    this.localValue.dataset.value = String(local);
    setText(this.localShare, total > 0 ? `${Math.round((100 * local) / total)}%` : '');
  }

  resize() {}
}

