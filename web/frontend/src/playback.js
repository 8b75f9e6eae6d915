// The replay clock: which second of a session the screen shows, as a function of wall time.
//
// T advances by speed × elapsed wall time while playing, stays put while paused, jumps on a
// seek and never leaves the session's range [from, to]; reaching `to` pauses (a replay
// that ran off the end would otherwise ask for seconds nobody recorded). Wall time is passed
// in (milliseconds, any monotonic clock), so every rule is testable without waiting.
export const MIN_SPEED = 0.1;
export const MAX_SPEED = 10000;

export function validSpeed(speed) {
  return typeof speed === 'number' && Number.isFinite(speed) && speed >= MIN_SPEED && speed <= MAX_SPEED;
}

export class PlaybackClock {
  constructor({ from, to, at = from, speed = 1, playing = false, now = 0 }) {
    if (!(Number.isFinite(from) && Number.isFinite(to) && from <= to)) {
      throw new RangeError(`a session's range needs from <= to, got ${from}..${to}`);
    }
    if (!validSpeed(speed)) throw new RangeError(`speed must be from ${MIN_SPEED} to ${MAX_SPEED}, got ${speed}`);
    this.from = from;
    this.to = to;
    this.speed = speed;
    this.playing = playing;
    this.anchorT = this._clamp(at);
    this.anchorWall = now;
    if (this.anchorT >= this.to) this.playing = false;
  }

  _clamp(t) {
    return Math.min(this.to, Math.max(this.from, t));
  }

  // The exact (fractional) moment at wall time `now`.
  exact(now) {
    if (!this.playing) return this.anchorT;
    return this._clamp(this.anchorT + (this.speed * (now - this.anchorWall)) / 1000);
  }

  // The whole second shown at `now`: values are "as of" whole seconds (SPEC section 6).
  second(now) {
    return Math.floor(this.exact(now));
  }

  // Call on every tick: stops playback at the end of the range.
  update(now) {
    if (this.playing && this.exact(now) >= this.to) this._reanchor(this.to, now, false);
    return this.second(now);
  }

  _reanchor(t, now, playing) {
    this.anchorT = this._clamp(t);
    this.anchorWall = now;
    this.playing = playing && this.anchorT < this.to;
  }

  play(now) {
    // Pressing play at the end starts over, as a video player does.
    const t = this.exact(now) >= this.to ? this.from : this.exact(now);
    this._reanchor(t, now, true);
  }

  pause(now) {
    this._reanchor(this.exact(now), now, false);
  }

  seek(t, now) {
    this._reanchor(t, now, this.playing);
  }

  // ±1 s / ±1 min: from the whole second on screen, and paused (a step is a close look).
  step(seconds, now) {
    this._reanchor(this.second(now) + seconds, now, false);
  }

  setSpeed(speed, now) {
    if (!validSpeed(speed)) throw new RangeError(`speed must be from ${MIN_SPEED} to ${MAX_SPEED}, got ${speed}`);
    this._reanchor(this.exact(now), now, this.playing);
    this.speed = speed;
  }

  // The session grew (the live one does) or was replaced: keep the moment, clamped.
  setRange(from, to, now) {
    if (!(Number.isFinite(from) && Number.isFinite(to) && from <= to)) {
      throw new RangeError(`a session's range needs from <= to, got ${from}..${to}`);
    }
    const t = this.exact(now);
    this.from = from;
    this.to = to;
    this._reanchor(t, now, this.playing);
  }
}
