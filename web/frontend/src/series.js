// A bounded time series for a sparkline: at most `capacity` samples spanning `spanMs`.
// A fixed-size ring, so a wall left on for weeks holds the same memory as after 15 minutes.
export class Series {
  constructor(capacity, spanMs) {
    this.capacity = capacity;
    this.spanMs = spanMs;
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.start = 0;
    this.length = 0;
  }

  push(t, v) {
    if (!Number.isFinite(v)) return;
    const end = (this.start + this.length) % this.capacity;
    this.times[end] = t;
    this.values[end] = v;
    if (this.length < this.capacity) this.length += 1;
    else this.start = (this.start + 1) % this.capacity;
    while (this.length > 0 && this.times[this.start] < t - this.spanMs) {
      this.start = (this.start + 1) % this.capacity;
      this.length -= 1;
    }
  }

  clear() {
    this.start = 0;
    this.length = 0;
  }

  forEach(fn) {
    for (let i = 0; i < this.length; i += 1) {
      const j = (this.start + i) % this.capacity;
      fn(this.times[j], this.values[j], i);
    }
  }
}
