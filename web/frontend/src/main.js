// The wall: wires the connection, the value store and the panels together.
//
// Data flow: Connection -> Store (the table) -> panels. Figures tween every animation
// frame; charts redraw at most once a second (a wall needs motion, not 60 chart rebuilds
// a second); sparklines take one sample a second. Nothing grows with uptime.
import { Connection } from './connection.js';
import { Header } from './header.js';
import { strings } from './i18n.js';
import { Kpis } from './kpis.js';
import { GuizhouMap } from './map.js';
import { Corridors, DataCentres, Exports, Sectors } from './panels.js';
import { parseParams } from './params.js';
import { Places } from './places.js';
import { Store } from './store.js';
import { el } from './dom.js';

const CHART_INTERVAL_MS = 1000;
const DEFAULT_STALE_S = 10;

class Wall {
  constructor(root, params) {
    this.params = params;
    this.lang = params.lang;
    const s = strings(this.lang);
    document.documentElement.lang = this.lang === 'en' ? 'en' : 'zh-CN';
    document.title = `${s.title} · ${this.lang === 'en' ? '贵州经济脉搏' : 'Guizhou Pulse'}`;
    this.s = s;
    this.store = new Store();
    this.places = null;
    this.header = new Header(root, s, this.lang);
    const kpis = el('div', 'kpis');
    root.append(kpis);
    this.kpis = new Kpis(kpis, s, this.lang);
    const left = el('div', 'col left');
    const right = el('div', 'col right');
    const mapPanel = el('section', 'panel map-panel');
    mapPanel.append(el('h2', '', s.map));
    const mapDom = el('div', 'chart');
    mapPanel.append(mapDom);
    root.append(left, mapPanel, right);
    this.sectors = new Sectors(left, s, this.lang);
    this.dc = new DataCentres(left, s, this.lang);
    this.exports = new Exports(right, s, this.lang);
    this.corridors = new Corridors(right, s, this.lang);
    this.map = new GuizhouMap(mapDom, s, this.lang);
    this.panels = [this.sectors, this.dc, this.exports, this.corridors, this.map];

    this.build = null;
    this.link = 'connecting';
    this.lastDataAt = 0;
    this.clockOffsetMs = 0;
    this.dirty = false;
    this.lastChartAt = 0;
    this.frameRequested = false;
    this.stats = { snapshots: 0, deltas: 0, gaps: 0 };

    new ResizeObserver(() => {
      for (const p of this.panels) p.resize();
      this.dirty = true;
    }).observe(root);

    this.conn = new Connection(wsUrl(), {
      onSnapshot: (m) => this.onSnapshot(m),
      onDelta: (m) => this.onDelta(m),
      onPing: (m) => this.onServerTime(m.server_time),
      onLink: (state) => this.onLink(state),
      onGap: () => {
        this.stats.gaps += 1;
        document.body.dataset.gaps = String(this.stats.gaps);
      },
    });
    this.conn.start();
    setInterval(() => this.everySecond(), 1000);
    setInterval(() => this.checkStale(), 500);
    this.everySecond();
  }

  staleAfterMs() {
    const fromServer = this.store.meta?.timing?.stale_after_s;
    return 1000 * (this.params.staleAfterS ?? fromServer ?? DEFAULT_STALE_S);
  }

  onServerTime(serverTime) {
    if (typeof serverTime === 'number') this.clockOffsetMs = serverTime - Date.now();
  }

  onSnapshot(msg) {
    // A server restarted with a new build of this page: load it (walls run for weeks).
    const build = msg.meta?.build;
    if (build && this.build && build !== this.build) {
      window.location.reload();
      return;
    }
    this.build = build;
    this.store.applySnapshot(msg);
    this.places = new Places(msg.meta, this.lang);
    this.stats.snapshots += 1;
    document.body.dataset.snapshots = String(this.stats.snapshots);
    document.body.dataset.seq = String(msg.seq);
    this.onServerTime(msg.server_time);
    this.gotData();
  }

  onDelta(msg) {
    this.store.applyDelta(msg);
    this.stats.deltas += 1;
    document.body.dataset.seq = String(msg.seq);
    this.onServerTime(msg.server_time);
    this.gotData();
  }

  gotData() {
    this.lastDataAt = Date.now();
    this.kpis.update(this.store, performance.now());
    this.dirty = true;
    this.requestFrame();
    this.checkStale();
    const since = Date.now() - this.lastChartAt;
    if (since >= CHART_INTERVAL_MS) this.drawCharts();
  }

  onLink(state) {
    this.link = state;
    this.checkStale();
  }

  checkStale() {
    const s = this.s;
    if (this.lastDataAt === 0) {
      this.header.setState('connecting', this.link === 'closed' ? s.reconnecting : '');
      return;
    }
    const age = Date.now() - this.lastDataAt;
    if (age > this.staleAfterMs() || this.link === 'closed') {
      const detail = this.link === 'closed' ? s.reconnecting : `${Math.round(age / 1000)} s`;
      this.header.setState('stale', detail);
    } else {
      this.header.setState('live', '');
    }
  }

  drawCharts() {
    if (!this.places || !this.dirty) return;
    this.dirty = false;
    this.lastChartAt = Date.now();
    for (const p of this.panels) p.update(this.store, this.places);
  }

  everySecond() {
    this.header.tick(Date.now() + this.clockOffsetMs);
    this.kpis.sample(Date.now());
    this.drawCharts();
  }

  requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      const now = performance.now();
      this.kpis.render(now);
      if (this.kpis.animating(now)) this.requestFrame();
    });
  }
}

function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

new Wall(document.getElementById('wall'), parseParams(location.search));
