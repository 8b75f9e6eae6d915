// The time bar: session, play/pause, ±1 s / ±1 min, speed, a scrubber over the session's
// range, "this time yesterday" and "back to live". It only draws and reports what the
// person did; the wall decides (main.js) and the clock keeps time (playback.js).
//
// Unattended walls do not show it: it appears on a key, a touch or a click, or always
// with ?controls=1, and hides again after a quiet minute.
import { el, setText } from './dom.js';
import { formatSpeed, wallFields } from './travelurl.js';

export const SPEEDS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 100, 300, 600, 1000, 3600, 10000];
const HIDE_AFTER_MS = 60_000;

function stamp(t, zone, withDate = true) {
  const f = wallFields(t, zone);
  const time = `${f.hour}:${f.minute}:${f.second}`;
  return withDate ? `${f.year}-${f.month}-${f.day} ${time}` : time;
}

function button(text, action, handlers, title) {
  const b = el('button', '', text);
  b.type = 'button';
  b.dataset.action = action;
  if (title) b.title = title;
  b.addEventListener('click', () => handlers[action]());
  return b;
}

export class TimeBar {
  // handlers: {session(name), seek(t, final), step(seconds), playPause(), speed(x), yesterday(), live()}
  constructor(container, s, { alwaysShown, handlers }) {
    const w = s.tb;
    this.alwaysShown = alwaysShown;
    this.zone = s.zone; // times are the area's (i18n.js strings)
    this.root = el('div', 'timebar');
    this.root.id = 'timebar';
    this.root.hidden = !alwaysShown;
    const row = el('div', 'tb-row');
    this.session = el('select', 'tb-session');
    this.session.title = w.session;
    this.session.addEventListener('change', () => handlers.session(this.session.value));
    this.playButton = button(w.play, 'playPause', handlers);
    const steps = [
      button(w.back1m, 'back1m', { back1m: () => handlers.step(-60) }),
      button(w.back1s, 'back1s', { back1s: () => handlers.step(-1) }),
      this.playButton,
      button(w.fwd1s, 'fwd1s', { fwd1s: () => handlers.step(1) }),
      button(w.fwd1m, 'fwd1m', { fwd1m: () => handlers.step(60) }),
    ];
    this.speed = el('select', 'tb-speed');
    this.speed.title = w.speed;
    for (const x of SPEEDS) this._speedOption(x);
    this.speed.addEventListener('change', () => handlers.speed(Number(this.speed.value)));
    this.time = el('span', 'tb-time');
    this.status = el('span', 'tb-status');
    this.yesterdayButton = button(w.yesterday, 'yesterday', handlers);
    this.liveButton = button(w.live, 'live', handlers);
    this.liveButton.classList.add('tb-live');
    row.append(this.session, ...steps, this.speed, this.time, this.status, el('span', 'spacer'),
      this.yesterdayButton, this.liveButton);
    this.scrub = el('input', 'tb-scrub');
    this.scrub.type = 'range';
    this.scrub.step = '1';
    this.scrub.setAttribute('aria-label', w.session);
    // 'input' fires on every move while dragging: each one is a seek (the wall coalesces).
    this.scrub.addEventListener('input', () => handlers.seek(Number(this.scrub.value), false));
    // 'change' comes when the drag ends: that second is the one to load now.
    this.scrub.addEventListener('change', () => handlers.seek(Number(this.scrub.value), true));
    this.ends = el('div', 'tb-ends');
    this.from = el('span');
    this.to = el('span');
    this.ends.append(this.from, this.to);
    this.root.append(row, this.scrub, this.ends);
    container.append(this.root);
    this.s = s;
    this.hideTimer = 0;
    this.dragging = false;
    this.scrub.addEventListener('pointerdown', () => (this.dragging = true));
    window.addEventListener('pointerup', () => (this.dragging = false));
  }

  _speedOption(x) {
    const o = el('option', '', `×${formatSpeed(x)}`);
    o.value = formatSpeed(x);
    this.speed.append(o);
    return o;
  }

  show() {
    this.root.hidden = false;
    document.body.classList.add('controls');
    clearTimeout(this.hideTimer);
    if (!this.alwaysShown) this.hideTimer = setTimeout(() => this.hide(), HIDE_AFTER_MS);
  }

  hide() {
    this.root.hidden = true;
    document.body.classList.remove('controls');
  }

  setSessions(sessions, current) {
    // `live` is always there: choosing it from a replay goes back to the live session.
    const names = ['live', ...sessions.map((x) => x.name).filter((n) => n !== 'live')];
    const have = [...this.session.options].map((o) => o.value);
    if (names.join() !== have.join()) {
      this.session.replaceChildren(...names.map((n) => el('option', '', n)));
      for (const o of this.session.options) o.value = o.textContent;
    }
    if (current && this.session.value !== current) this.session.value = current;
  }

  // view: {mode: 'live'|'history', range: {from, to}|null, t, playing, speed}
  render(view) {
    const { mode, range, t, playing, speed } = view;
    this.root.dataset.mode = mode;
    setText(this.playButton, playing ? this.s.tb.pause : this.s.tb.play);
    this.playButton.dataset.playing = playing ? '1' : '0';
    this.liveButton.disabled = mode === 'live';
    const value = formatSpeed(speed);
    if (![...this.speed.options].some((o) => o.value === value)) this._speedOption(speed);
    if (this.speed.value !== value) this.speed.value = value;
    if (range) {
      this.scrub.min = String(range.from);
      this.scrub.max = String(range.to);
      this.scrub.disabled = false;
      setText(this.from, stamp(range.from, this.zone));
      setText(this.to, stamp(range.to, this.zone));
    } else {
      this.scrub.disabled = true;
      setText(this.from, '');
      setText(this.to, '');
    }
    if (t !== null && !this.dragging && this.scrub.value !== String(t)) this.scrub.value = String(t);
    setText(this.time, t === null ? '' : stamp(t, this.zone));
    this.time.dataset.t = t === null ? '' : String(t);
  }

  setStatus(text) {
    setText(this.status, text);
  }
}
