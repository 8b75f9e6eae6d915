// Numbers that glide to their new value instead of jumping: ease-out over `durationMs`.
export class Tween {
  constructor(durationMs = 900) {
    this.durationMs = durationMs;
    this.from = null;
    this.to = null;
    this.startedAt = 0;
  }

  set(target, now) {
    if (target === this.to) return;
    this.from = this.to === null || target === null ? target : this.value(now);
    this.to = target;
    this.startedAt = now;
  }

  // Straight to the target, no glide.
  jump(target, now) {
    this.from = target;
    this.to = target;
    this.startedAt = now - this.durationMs;
  }

  value(now) {
    if (this.to === null || this.from === null) return this.to;
    const p = Math.min(1, (now - this.startedAt) / this.durationMs);
    const eased = 1 - (1 - p) ** 3;
    return this.from + (this.to - this.from) * eased;
  }

  done(now) {
    return this.to === null || now - this.startedAt >= this.durationMs;
  }
}
