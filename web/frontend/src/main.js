// The wall: wires the connection, the value store, the history and the panels together.
//
// Data flow: Connection -> Store (the live table) -> panels. Figures tween every animation
// frame; charts redraw at most once a second (a wall needs motion, not 60 chart rebuilds
// a second); sparklines take one sample a second. Nothing grows with uptime.
//
// History mode (the time bar, or ?session=&at=&speed= in the URL) shows a past second of a
// session instead: every figure is that second's final value from /api/history/state, the
// websocket keeps the live table current underneath but never draws. Each KPI and bar is
// compared with the same moment yesterday and a week ago, both final values: in live mode
// the live session's newest final second, in history mode the second on screen.
import { travelBadge } from './badge.js';
import { CalloutLayer } from './callout_layer.js';
import { calloutSentence } from './callout_text.js';
import { calloutView } from './callouts.js';
import { DAY_S, PENDING } from './change.js';
import { Coalescer } from './coalesce.js';
import { Connection } from './connection.js';
import { Header } from './header.js';
import { SESSIONS_URL, findSession, getJson, loadFrame, seriesUrl, sparkRequest } from './history.js';
import { chooseLanguage, direction, strings } from './i18n.js';
import { HEADLINES, Kpis } from './kpis.js';
import { RegionMap } from './map.js';
import { Corridors, DataCentres, Exports, Prefectures, Sectors } from './panels.js';
import { parseParams } from './params.js';
import { Places } from './places.js';
import { PlaybackClock } from './playback.js';
import { Store } from './store.js';
import { TimeBar } from './timebar.js';
import { serialiseTravel } from './travelurl.js';
import { el } from './dom.js';

const CHART_INTERVAL_MS = 1000;
const PLAYING_CHART_INTERVAL_MS = 250;
const DEFAULT_STALE_S = 10;
const SESSIONS_EVERY_MS = 15_000;
const PLAY_TICK_MS = 100;
const URL_EVERY_MS = 1000;
const SPARK_SPAN_S = 900;
const SPARK_POINTS = 90;

class Wall {
  // pack: the area the server shows (web/metadata.py's page_pack, on <html data-pack>).
  constructor(root, params, pack) {
    this.params = params;
    this.lang = chooseLanguage(params.lang, pack.languages);
    const s = strings(this.lang, pack);
    const html = document.documentElement;
    html.lang = this.lang === 'zh' ? 'zh-CN' : this.lang;
    html.dir = direction(this.lang); // Arabic: the grid, panels and text run right to left
    document.title = s.title;
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
    this.prefectures = new Prefectures(left, s, this.lang);
    this.exports = new Exports(right, s, this.lang);
    this.corridors = new Corridors(right, s, this.lang);
    this.dc = new DataCentres(right, s, this.lang);
    this.map = new RegionMap(mapDom, s, this.lang);
    this.calloutLayer = new CalloutLayer(mapPanel, mapDom, this.map.mapName);
    this.htmlPanels = [this.sectors, this.prefectures, this.dc, this.corridors];
    this.chartPanels = [this.exports, this.map];
    this.panels = [...this.htmlPanels, ...this.chartPanels];

    this.build = null;
    this.link = 'connecting';
    this.lastDataAt = 0;
    this.clockOffsetMs = 0;
    this.dirty = false;
    this.chartsDirty = false;
    this.lastChartAt = 0;
    this.frameRequested = false;
    this.stats = { snapshots: 0, deltas: 0, gaps: 0 };

    // History: the sessions the server has, the clock of the session on screen (null when
    // live), the frame on screen, and the comparison of the live screen with the past.
    this.mode = params.travel ? 'history' : 'live';
    this.wanted = params.travel; // from the URL, applied once the sessions are known
    this.sessions = null;
    this.travel = null; // {session, clock}
    this.shown = null; // {session, t, store, cmp}
    this.liveCmp = null; // {t, now, day, week}
    this.speed = params.travel?.speed ?? 1;
    this.sparkT = null;
    this.chartsT = null; // the second the canvas charts were last drawn for
    this.lastUrlAt = 0;
    this.urlTimer = 0;
    this.status = params.errors.join('; ');
    this.seekStarted = null; // {t, at}: how long a seek takes to reach the screen
    this.sessionsError = null; // the status line shows it until the sessions answer again
    document.body.dataset.mode = this.mode;
    this.frames = new Coalescer(
      (key, signal) => this.loadFrame(key, signal),
      (key, frame) => this.showFrame(frame),
      (key, error) => this.setStatus(error.message),
    );
    this.liveCompare = new Coalescer(
      (key, signal) => this.loadFrame(key, signal, false),
      (key, frame) => this.setLiveCompare(frame),
      (key, error) => this.setStatus(error.message),
    );
    this.timebar = new TimeBar(document.body, s, {
      alwaysShown: params.controls,
      handlers: {
        session: (name) => this.chooseSession(name),
        seek: (t, final) => this.seek(t, final),
        step: (d) => this.step(d),
        playPause: () => this.playPause(),
        speed: (x) => this.setSpeed(x),
        yesterday: () => this.yesterday(),
        live: () => this.backToLive(),
      },
    });
    if (this.status) this.timebar.show();
    document.addEventListener('keydown', (e) => this.onKey(e));
    document.addEventListener('pointerdown', () => this.timebar.show());
    document.addEventListener('touchstart', () => this.timebar.show(), { passive: true });

    new ResizeObserver(() => {
      for (const p of this.panels) p.resize();
      this.calloutLayer.invalidate();
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
    setInterval(() => this.refreshSessions(), SESSIONS_EVERY_MS);
    setInterval(() => this.playTick(), PLAY_TICK_MS);
    this.refreshSessions();
    this.everySecond();
    this.renderChrome();
  }

  staleAfterMs() {
    const fromServer = this.store.meta?.timing?.stale_after_s;
    return 1000 * (this.params.staleAfterS ?? fromServer ?? DEFAULT_STALE_S);
  }

  onServerTime(serverTime) {
    if (typeof serverTime === 'number') this.clockOffsetMs = serverTime - Date.now();
  }

  serverSecond() {
    return Math.floor((Date.now() + this.clockOffsetMs) / 1000);
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
    const first = this.places === null;
    this.places = new Places(msg.meta, this.lang);
    this.stats.snapshots += 1;
    document.body.dataset.snapshots = String(this.stats.snapshots);
    document.body.dataset.seq = String(msg.seq);
    this.onServerTime(msg.server_time);
    // A history frame that arrived before the first snapshot needs its metadata.
    if (first && this.shown && this.mode === 'history') this.showFrame(this.shown.frame);
    this.gotData();
  }

  // False asks the connection for a fresh snapshot (a value id it was never told).
  onDelta(msg) {
    const known = this.store.applyDelta(msg);
    this.stats.deltas += 1;
    document.body.dataset.seq = String(msg.seq);
    this.onServerTime(msg.server_time);
    this.gotData();
    return known;
  }

  gotData() {
    this.lastDataAt = Date.now();
    this.checkStale();
    if (this.mode !== 'live') return; // the past is on screen: live values wait underneath
    this.kpis.update(this.store, performance.now());
    this.dirty = true;
    this.requestFrame();
    const since = Date.now() - this.lastChartAt;
    if (since >= CHART_INTERVAL_MS) this.drawCharts();
  }

  onLink(state) {
    this.link = state;
    this.checkStale();
  }

  checkStale() {
    const s = this.s;
    if (this.mode === 'history') {
      this.renderBadge();
      return;
    }
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

  // The store on screen, and what it is compared with.
  view() {
    if (this.mode === 'live') return { store: this.store, cmp: this.liveCmp };
    if (this.shown && this.shown.store) return { store: this.shown.store, cmp: this.shown.cmp };
    return null;
  }

  // Figures and HTML bars first; the canvas charts (map, exports) can wait for `charts`.
  drawCharts({ charts = true } = {}) {
    const view = this.view();
    if (!this.places || !view) return;
    if (this.dirty) {
      this.dirty = false;
      this.kpis.compare(view.cmp);
      for (const p of this.htmlPanels) p.update(view.store, this.places, view.cmp);
      this.chartsDirty = true;
    }
    if (charts && this.chartsDirty) {
      this.chartsDirty = false;
      this.lastChartAt = Date.now();
      for (const p of this.chartPanels) p.update(view.store, this.places, view.cmp);
      this.drawCallouts(view.store);
    }
  }

  // What is off its usual level, on the screen's second (live, or the one travelled to).
  drawCallouts(store) {
    const meta = this.store.meta;
    const view = calloutView(store.callouts ?? [], meta, (c) => calloutSentence(c, meta, this.lang));
    this.calloutLayer.update(view, (code) => this.places.coord(code), (lonlat) => this.map.project(lonlat));
  }

  everySecond() {
    if (this.mode === 'live') {
      this.header.tick(Date.now() + this.clockOffsetMs);
      this.kpis.sample(Date.now());
      this.drawCharts();
    } else if (this.shown) {
      this.header.tick(this.shown.t * 1000);
    }
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

  // ---- history -------------------------------------------------------------------------

  sessionInfo(name) {
    return this.sessions === null ? null : findSession({ sessions: this.sessions }, name);
  }

  async refreshSessions() {
    let answer;
    try {
      answer = await getJson(SESSIONS_URL);
    } catch (error) {
      this.sessionsError = error.message;
      this.setStatus(error.message);
      if (this.wanted) this.renderBadge();
      return;
    }
    if (this.sessionsError && this.status === this.sessionsError) this.setStatus('');
    this.sessionsError = null;
    this.sessions = answer.sessions ?? [];
    const now = performance.now();
    if (this.travel) {
      const info = this.sessionInfo(this.travel.session);
      if (info) {
        this.travel.clock.setRange(info.from, info.to, now);
        // The replayed log's moment stays; a running replay may now go further.
        if (this.shown && !this.travel.clock.playing) this.frames.refresh(this.frameKey(now));
      } else {
        this.setStatus(`${this.s.tb.session} ${this.travel.session}: ${this.s.tb.noHistory}`);
      }
    }
    if (this.wanted) {
      const { session, at, speed, playing } = this.wanted;
      this.wanted = null;
      this.enterHistory(session, at, { speed, playing });
    }
    this.refreshLiveCompare();
    this.renderChrome();
  }

  // The live screen's comparison: the live session's newest final second with the same
  // moment yesterday and a week ago (only asked for while the live screen is up).
  refreshLiveCompare() {
    if (this.mode !== 'live') return;
    const live = this.sessionInfo('live');
    if (live) this.liveCompare.refresh(`live\n${live.to}`);
    else this.setLiveCompare(null);
  }

  frameKey(now) {
    return `${this.travel.session}\n${this.travel.clock.second(now)}`;
  }

  loadFrame(key, signal, partial = true) {
    const [session, text] = key.split('\n');
    const t = Number(text);
    const info = this.sessionInfo(session);
    // A seek (paused) shows its second first and the comparisons when they come; while
    // playing, one screen is one round trip.
    const seeking = partial && this.travel?.session === session && !this.travel.clock.playing;
    // (Not when that second is on screen already: a refresh replaces it whole.)
    const onNow = (now, callouts) => {
      if (signal.aborted || (this.shown?.session === session && this.shown.t === t)) return;
      this.showFrame({ session, t, now, callouts, day: PENDING, week: PENDING });
    };
    return loadFrame((url) => getJson(url, signal), session, t, info, seeking ? onNow : null);
  }

  storesOf(frame) {
    const meta = this.store.meta;
    const of = (values) => (values === null || values === PENDING ? values : Store.fromState(values, frame.t, meta));
    const now = of(frame.now);
    if (now) now.callouts = frame.callouts ?? [];
    return { t: frame.t, now, day: of(frame.day), week: of(frame.week) };
  }

  setLiveCompare(frame) {
    this.liveCmp = frame === null ? null : this.storesOf(frame);
    if (this.mode === 'live') {
      this.dirty = true;
      this.drawCharts();
    }
  }

  showFrame(frame) {
    if (this.mode !== 'history' || !this.travel || frame.session !== this.travel.session) return;
    if (!this.places) {
      this.shown = { session: frame.session, t: frame.t, store: null, cmp: null, frame };
      return;
    }
    const cmp = this.storesOf(frame);
    this.shown = { session: frame.session, t: frame.t, store: cmp.now, cmp, frame };
    const now = performance.now();
    this.kpis.update(cmp.now, now, false);
    this.kpis.render(now);
    const jumped = this.sparkT === null || frame.t < this.sparkT || frame.t - this.sparkT > SPARK_SPAN_S;
    if (jumped) this.kpis.clearSparks();
    if (frame.t !== this.sparkT) {
      this.kpis.sample(frame.t * 1000);
      this.sparkT = frame.t;
    }
    // Paused after a jump: draw the quarter hour before from the history (while playing,
    // the frames themselves draw it as they pass).
    if (jumped && !this.travel.clock.playing) this.fillSparks(frame.session, frame.t);
    this.dirty = true;
    this.drawCharts({ charts: false });
    this.header.tick(frame.t * 1000);
    document.body.dataset.shownT = String(frame.t);
    // 'full' once the comparisons are there too (tests wait for it).
    document.body.dataset.shownState = frame.day === PENDING ? 'partial' : 'full';
    if (this.seekStarted && this.seekStarted.t === frame.t) {
      document.body.dataset.seekMs = String(Math.round(performance.now() - this.seekStarted.at));
      this.seekStarted = null;
    }
    // The canvas charts (map, exports) in a task of their own, so the figures above are
    // painted first; while playing at most 4 times a second (playTick catches up), and
    // while a drag is still asking for newer seconds not at all: a map redraw between two
    // answers would only delay the second the drag ends on.
    const clock = this.travel.clock;
    const settled = frame.t === clock.second(performance.now()) && this.chartsT !== frame.t;
    if (clock.playing ? Date.now() - this.lastChartAt >= PLAYING_CHART_INTERVAL_MS : settled) {
      this.chartsT = frame.t; // the comparisons that follow do not change the charts
      setTimeout(() => this.drawCharts(), 0);
    }
    this.setStatus('');
    this.renderChrome();
  }

  async fillSparks(session, t) {
    const info = this.sessionInfo(session);
    const req = info && sparkRequest(t, info, SPARK_SPAN_S, SPARK_POINTS);
    if (!req) return;
    const token = {};
    this.sparkToken = token;
    const answers = await Promise.all(
      HEADLINES.map((name) =>
        getJson(seriesUrl(session, name, this.s.province, req.from, req.to, req.step)).catch(() => null),
      ),
    );
    // Only if the screen still shows that second of that session.
    if (token !== this.sparkToken || this.shown?.t !== t || this.travel?.session !== session) return;
    this.kpis.fillSparks(answers, t);
  }

  enterHistory(session, at, { speed = this.speed, playing = false } = {}) {
    const info = this.sessionInfo(session);
    if (!info) {
      const names = (this.sessions ?? []).map((x) => x.name).join(', ') || this.s.tb.noHistory;
      // What else was wrong in the URL stays in view too.
      this.setStatus([...this.params.errors, `${this.s.tb.session} ${session}? (${names})`].join('; '));
      this.timebar.show();
      if (this.mode === 'history' && !this.travel) this.backToLive();
      return;
    }
    const now = performance.now();
    const t = at ?? info.from;
    if (this.travel && this.travel.session === session) {
      this.travel.clock.seek(t, now);
      if (playing !== this.travel.clock.playing) {
        if (playing) this.travel.clock.play(now);
        else this.travel.clock.pause(now);
      }
    } else {
      const clock = new PlaybackClock({ from: info.from, to: info.to, at: t, speed, playing, now });
      this.travel = { session, clock };
      this.shown = null;
      this.kpis.clearSparks();
      this.sparkT = null;
      this.chartsT = null;
    }
    this.speed = speed;
    this.mode = 'history';
    this.exports.setAnimated(false);
    document.body.dataset.mode = 'history';
    // A fresh screen: the second last loaded may be that one, but it is no longer shown.
    if (this.shown === null) this.frames.refresh(this.frameKey(now));
    else this.frames.want(this.frameKey(now));
    this.syncUrl(true);
    this.renderChrome();
  }

  backToLive() {
    this.mode = 'live';
    this.travel = null;
    this.shown = null;
    this.sparkT = null;
    this.kpis.clearSparks();
    this.exports.setAnimated(true);
    document.body.dataset.mode = 'live';
    delete document.body.dataset.shownT;
    this.syncUrl(true);
    this.kpis.update(this.store, performance.now(), false);
    this.kpis.render(performance.now());
    this.dirty = true;
    this.drawCharts();
    this.checkStale();
    this.everySecond();
    this.refreshLiveCompare();
    this.renderChrome();
  }

  // The newest second with final values in the live session: where "pause live" lands.
  liveEdge() {
    return this.sessionInfo('live')?.to ?? null;
  }

  // final: the drag has ended (or it was a click): nothing newer is coming.
  seek(t, final = false) {
    if (this.mode === 'live' || !this.travel) {
      this.enterHistory('live', t, { playing: false });
      return;
    }
    const now = performance.now();
    this.travel.clock.seek(t, now);
    const second = this.travel.clock.second(now);
    // How long the wall takes to show a seek is timed from where it ends: the release of
    // a drag, a click, a key (the seconds passed over while dragging show as they come).
    if (final) {
      if (this.shown?.t === second) document.body.dataset.seekMs = '0';
      else this.seekStarted = { t: second, at: now };
    }
    this.frames.want(this.frameKey(now), { preempt: final });
    this.syncUrl(false);
    this.renderChrome();
  }

  step(seconds) {
    if (this.mode === 'live' || !this.travel) {
      const edge = this.liveEdge();
      if (edge !== null) this.enterHistory('live', edge + seconds, { playing: false });
      else this.setStatus(this.s.tb.noHistory);
      return;
    }
    const now = performance.now();
    this.travel.clock.step(seconds, now);
    this.frames.want(this.frameKey(now));
    this.syncUrl(true);
    this.renderChrome();
  }

  playPause() {
    if (this.mode === 'live' || !this.travel) {
      // Pausing live freezes the newest final second, as a recorder would.
      const edge = this.liveEdge();
      if (edge !== null) this.enterHistory('live', edge, { playing: false });
      else this.setStatus(this.s.tb.noHistory);
      return;
    }
    const now = performance.now();
    if (this.travel.clock.playing) this.travel.clock.pause(now);
    else this.travel.clock.play(now);
    this.frames.want(this.frameKey(now));
    this.syncUrl(true);
    this.renderChrome();
  }

  setSpeed(x) {
    this.speed = x;
    if (this.travel) this.travel.clock.setSpeed(x, performance.now());
    this.syncUrl(true);
    this.renderChrome();
  }

  yesterday() {
    const t = (this.mode === 'history' && this.travel ? this.travel.clock.second(performance.now()) : this.serverSecond()) - DAY_S;
    const session = this.travel?.session ?? 'live';
    const info = this.sessionInfo(session);
    if (!info || t < info.from || t > info.to) {
      this.setStatus(`${this.s.tb.yesterday}: ${this.s.tb.noHistory}`);
      return;
    }
    this.enterHistory(session, t, { playing: this.travel?.clock.playing ?? false });
  }

  chooseSession(name) {
    if (name === 'live' && this.mode === 'live') return;
    if (this.travel?.session === name) return;
    const info = this.sessionInfo(name);
    if (name === 'live' && !info) {
      this.backToLive(); // no live history: the live screen is all there is
      return;
    }
    this.enterHistory(name, name === 'live' ? info?.to ?? null : null, { playing: false });
  }

  playTick() {
    if (this.mode !== 'history' || !this.travel) return;
    if (this.chartsDirty && Date.now() - this.lastChartAt >= PLAYING_CHART_INTERVAL_MS) this.drawCharts();
    const now = performance.now();
    const clock = this.travel.clock;
    if (!clock.playing) return;
    clock.update(now);
    this.frames.want(this.frameKey(now));
    if (Date.now() - this.lastUrlAt >= URL_EVERY_MS) this.syncUrl(true);
    this.renderChrome();
  }

  syncUrl(force) {
    if (!force && Date.now() - this.lastUrlAt < URL_EVERY_MS) {
      // Dragging: write the URL once a second, and once more where the drag ends.
      if (!this.urlTimer) {
        this.urlTimer = setTimeout(() => {
          this.urlTimer = 0;
          this.syncUrl(true);
        }, URL_EVERY_MS);
      }
      return;
    }
    this.lastUrlAt = Date.now();
    let travel = null;
    if (this.mode === 'history' && this.travel) {
      const clock = this.travel.clock;
      const now = performance.now();
      travel = { session: this.travel.session, at: clock.second(now), speed: clock.speed, playing: clock.playing };
    }
    const search = serialiseTravel(location.search, travel, this.s.zone);
    if (search !== location.search) history.replaceState(null, '', `${location.pathname}${search}`);
  }

  setStatus(text) {
    this.status = text;
    this.timebar.setStatus(text);
    document.body.dataset.historyError = text;
  }

  renderBadge() {
    if (this.mode !== 'history') return;
    if (!this.travel) {
      this.header.setBadge('replay', this.s.replay, this.s.tb.loading);
      return;
    }
    const clock = this.travel.clock;
    const t = this.shown?.t ?? clock.second(performance.now());
    const { text, detail } = travelBadge({ session: this.travel.session, t, speed: clock.speed, playing: clock.playing }, this.lang, this.s.zone);
    this.header.setBadge('replay', text, detail);
  }

  renderChrome() {
    this.renderBadge();
    if (this.mode === 'history' && this.travel) {
      const c = this.travel.clock;
      const now = performance.now();
      this.timebar.render({
        mode: 'history',
        range: { from: c.from, to: c.to },
        t: c.second(now),
        playing: c.playing,
        speed: c.speed,
      });
      this.timebar.setSessions(this.sessions ?? [], this.travel.session);
    } else {
      const live = this.sessionInfo('live');
      this.timebar.render({
        mode: this.mode,
        range: live ? { from: live.from, to: live.to } : null,
        t: live ? live.to : null,
        playing: false,
        speed: this.speed,
      });
      this.timebar.setSessions(this.sessions ?? [], 'live');
    }
  }

  onKey(e) {
    this.timebar.show();
    const target = e.target;
    if (target instanceof HTMLSelectElement || target instanceof HTMLInputElement) return;
    if (e.key === ' ') {
      e.preventDefault();
      this.playPause();
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      this.step((e.key === 'ArrowLeft' ? -1 : 1) * (e.shiftKey ? 60 : 1));
    } else if (e.key === 'l' || e.key === 'L') {
      if (this.mode !== 'live') this.backToLive();
    } else if (e.key === 'y' || e.key === 'Y') {
      this.yesterday();
    }
  }
}

function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

new Wall(document.getElementById('wall'), parseParams(location.search), JSON.parse(document.documentElement.dataset.pack ?? 'null') ?? {});
