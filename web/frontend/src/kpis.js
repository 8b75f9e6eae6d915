// The headline tiles: a big animated figure and a 15-minute sparkline kept in the browser.
import { changeVs, formatChange } from './change.js';
import { el, setText, svg } from './dom.js';
import { formatValue } from './format.js';
import { Series } from './series.js';
import { Tween } from './tween.js';

export const HEADLINES = [
  'freight_value_today',
  'shipments_1m',
  'active_trucks_5m',
  'on_time_rate_1h',
  'export_value_1h',
  'digital_share_1h',
];
const SPARK_SPAN_MS = 15 * 60 * 1000;
const SPARK_CAPACITY = 900; // one sample a second at most
const SPARK_W = 300;
const SPARK_H = 60;

class Tile {
  constructor(name, label, s, lang) {
    this.name = name;
    this.lang = lang;
    this.unit = 'count';
    this.tween = new Tween();
    this.series = new Series(SPARK_CAPACITY, SPARK_SPAN_MS);
    this.root = el('section', 'tile');
    this.root.dataset.kpi = name;
    this.label = el('div', 'label', label);
    const figure = el('div', 'figure');
    this.value = el('span', 'value', '—');
    this.unitEl = el('span', 'unit', '');
    figure.append(this.value, this.unitEl);
    // Against the same moment yesterday and a week ago, both final values.
    const changes = el('div', 'changes');
    this.day = el('span', 'chg');
    this.week = el('span', 'chg');
    const dayLine = el('div', '');
    dayLine.append(el('span', 'vs', s.vsDay), this.day);
    const weekLine = el('div', '');
    weekLine.append(el('span', 'vs', s.vsWeek), this.week);
    changes.append(dayLine, weekLine);
    figure.append(changes);
    this.spark = svg('svg', { class: 'spark', viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, preserveAspectRatio: 'none' });
    this.area = svg('polygon');
    this.line = svg('polyline');
    this.spark.append(this.area, this.line);
    this.root.append(this.label, figure, this.spark);
  }

  // glide: live figures move smoothly; a replayed second is shown exactly as it was.
  setTarget(v, unit, now, glide = true) {
    this.unit = unit;
    if (glide) this.tween.set(v, now);
    else this.tween.jump(v, now);
    this.value.dataset.target = v === null ? '' : String(v);
  }

  setChanges(day, week) {
    for (const [node, c] of [
      [this.day, day],
      [this.week, week],
    ]) {
      setText(node, formatChange(c, this.lang));
      if (node.dataset.dir !== c.dir) node.dataset.dir = c.dir;
    }
  }

  render(now) {
    const [n, u] = formatValue(this.tween.value(now), this.unit, this.lang);
    setText(this.value, n);
    setText(this.unitEl, u);
  }

  sample(now) {
    const v = this.tween.to;
    if (v !== null) this.series.push(now, v);
  }

  drawSpark(now) {
    if (this.series.length < 2) return;
    let lo = Infinity;
    let hi = -Infinity;
    this.series.forEach((_, v) => {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    });
    const range = hi - lo || Math.abs(hi) || 1;
    const pad = range * 0.1;
    // Until 15 minutes have been seen, stretch what there is across the tile.
    let first = now;
    this.series.forEach((t, _, i) => {
      if (i === 0) first = t;
    });
    const t0 = Math.max(first, now - SPARK_SPAN_MS);
    const span = Math.max(1, now - t0);
    const pts = [];
    this.series.forEach((t, v) => {
      const x = (Math.max(0, t - t0) / span) * SPARK_W;
      const y = SPARK_H - ((v - lo + pad) / (range + 2 * pad)) * SPARK_H;
      pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    });
    const line = pts.join(' ');
    this.line.setAttribute('points', line);
    const firstX = pts[0].split(',')[0];
    const lastX = pts[pts.length - 1].split(',')[0];
    this.area.setAttribute('points', `${firstX},${SPARK_H} ${line} ${lastX},${SPARK_H}`);
  }
}

export class Kpis {
  constructor(container, s, lang) {
    this.province = s.province; // the whole area's key (i18n.js strings)
    this.tiles = HEADLINES.map((name) => new Tile(name, s.kpi[name], s, lang));
    container.append(...this.tiles.map((t) => t.root));
  }

  update(store, now, glide = true) {
    for (const tile of this.tiles) {
      tile.setTarget(store.get(tile.name, this.province), store.unit(tile.name), now, glide);
    }
  }

  // cmp: {now, day, week} stores (day/week null where there is no history), or null.
  compare(cmp) {
    for (const tile of this.tiles) {
      const at = (st) => st.get(tile.name, this.province);
      const unit = cmp?.now.unit(tile.name) ?? 'count';
      const v = cmp ? at(cmp.now) : null;
      tile.setChanges(changeVs(v, cmp?.day, at, unit), changeVs(v, cmp?.week, at, unit));
    }
  }

  // After a jump in the past: each tile's last 15 minutes from the history series
  // ({t: [...], v: [...]} per tile, null where the session has none), up to second t.
  fillSparks(answers, t) {
    this.tiles.forEach((tile, i) => {
      const a = answers[i];
      tile.series.clear();
      if (a) a.t.forEach((ts, j) => tile.series.push(ts * 1000, a.v[j]));
      tile.drawSpark(t * 1000);
    });
  }

  // Sparklines restart: on a jump in time the old samples belong to another moment.
  clearSparks() {
    for (const tile of this.tiles) tile.series.clear();
  }

  animating(now) {
    return this.tiles.some((t) => !t.tween.done(now));
  }

  render(now) {
    for (const tile of this.tiles) tile.render(now);
  }

  sample(now) {
    for (const tile of this.tiles) {
      tile.sample(now);
      tile.drawSpark(now);
    }
  }
}
