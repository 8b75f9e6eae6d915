// The side panels: output by sector, data centres, exports by country, top corridors.
import { COLORS, echarts, rem } from './charts.js';
import { el, setText } from './dom.js';
import { countryName } from './i18n.js';
import { formatText, formatValue } from './format.js';
import { top } from './places.js';

const PROVINCE = '520000';

function panel(title, note) {
  const root = el('section', 'panel');
  const h = el('h2', '', title);
  if (note) h.append(el('span', 'note', note));
  root.append(h);
  return root;
}

// A horizontal bar chart whose bars re-order live (largest on top).
class BarRace {
  constructor(dom, lang, { digital = null, rows = 10 } = {}) {
    this.lang = lang;
    this.digital = digital;
    this.rows = rows;
    this.chart = echarts.init(dom, null, { renderer: 'canvas' });
    this.styled = false;
  }

  resize() {
    this.chart.resize();
    this.styled = false;
  }

  set(items) {
    const r = rem();
    if (!this.styled) {
      this.chart.setOption(
        {
          animationDuration: 600,
          animationDurationUpdate: 800,
          grid: { left: r * 0.3, right: r * 5.8, top: r * 0.2, bottom: r * 0.2, containLabel: true },
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
                formatter: (p) => formatText(p.value, 'CNY', this.lang),
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

export class Sectors {
  constructor(container, s, lang) {
    this.lang = lang;
    this.root = panel(s.sectors, s.sectorsNote);
    this.root.dataset.panel = 'sectors';
    const dom = el('div', 'chart');
    this.root.append(dom);
    container.append(this.root);
    this.bars = new BarRace(dom, lang, { rows: 10 });
  }

  update(store) {
    const meta = store.meta;
    const table = store.table('sector_value_1h');
    const items = meta.sectors.map((sec) => {
      // Prefer the province row; sum the regions when only those are published.
      let v = table.get(`${PROVINCE}|${sec.code}`)?.v;
      if (typeof v !== 'number') {
        v = 0;
        for (const r of meta.regions) v += table.get(`${r.code}|${sec.code}`)?.v ?? 0;
      }
      return { name: sec[this.lang], value: Math.round(v), highlight: sec.digital };
    });
    this.bars.set(items);
  }

  resize() {
    this.bars.resize();
  }
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
    this.bars = new BarRace(dom, lang, { rows: 8 });
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

  update(store) {
    const rows = top(store.table('export_value_by_country_1h'), 8);
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
    const dom = el('div', 'chart');
    this.root.append(figures, dom);
    container.append(this.root);
    this.chart = echarts.init(dom, null, { renderer: 'canvas' });
    this.styled = false;
  }

  resize() {
    this.chart.resize();
    this.styled = false;
  }

  update(store, places) {
    const r = rem();
    const mw = store.get('dc_power_mw_5m', PROVINCE);
    const util = store.get('dc_utilization_5m', PROVINCE);
    const [p, pu] = formatValue(mw, 'MW', this.lang);
    setText(this.power, p);
    setText(this.powerUnit, pu);
    const [u, uu] = formatValue(util, 'ratio', this.lang);
    setText(this.util, u);
    setText(this.utilUnit, uu);
    this.power.dataset.target = mw === null ? '' : String(mw);
    if (!this.styled) {
      this.chart.setOption(
        {
          animationDurationUpdate: 800,
          grid: { left: r * 0.3, right: r * 0.3, top: r * 1.6, bottom: r * 0.2, containLabel: true },
          xAxis: {
            type: 'category',
            axisLabel: { color: COLORS.text, fontSize: r * 0.95, interval: 0 },
            axisLine: { lineStyle: { color: COLORS.grid } },
            axisTick: { show: false },
          },
          yAxis: { type: 'value', show: false },
          series: [
            {
              id: 'mw',
              type: 'bar',
              barMaxWidth: r * 2.2,
              itemStyle: {
                borderRadius: [r * 0.3, r * 0.3, 0, 0],
                color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
                  { offset: 0, color: '#7b6bff' },
                  { offset: 1, color: 'rgba(123, 107, 255, 0.15)' },
                ]),
              },
              label: {
                show: true,
                position: 'top',
                color: COLORS.text,
                fontSize: r * 0.95,
                formatter: (q) => formatText(q.value, 'MW', this.lang),
              },
              data: [],
            },
          ],
        },
        { notMerge: true },
      );
      this.styled = true;
    }
    const rows = top(store.table('dc_power_mw_5m'), 12).filter(([code]) => code !== PROVINCE);
    this.chart.setOption({
      xAxis: { data: rows.map(([code]) => places.name(code)) },
      series: [{ id: 'mw', data: rows.map(([, v]) => Math.round(v * 10) / 10) }],
    });
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
    for (let i = 0; i < 8; i += 1) {
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
    this.root.append(this.list, this.empty);
    container.append(this.root);
    this.lang = lang;
  }

  update(store, places) {
    const flows = top(store.table('corridor_shipments_15m'), this.rows.length);
    const busiest = flows.length ? flows[0][1] : 1;
    this.empty.hidden = flows.length > 0;
    this.rows.forEach((row, i) => {
      const f = flows[i];
      row.li.hidden = !f;
      if (!f) return;
      const [from, to] = f[0].split('>');
      setText(row.route, `${places.name(from)} → ${places.name(to)}`);
      setText(row.count, formatText(f[1], 'count', this.lang));
      row.li.dataset.key = f[0];
      row.bar.style.width = `${Math.max(4, (100 * f[1]) / busiest).toFixed(1)}%`;
    });
  }

  resize() {}
}

