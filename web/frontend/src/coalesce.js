// At most one request in flight, and only the newest wish waits behind it.
//
// Playing at 10,000× wants a new second every animation frame; seeking by dragging wants
// one per pointer move. Asking the server for each would queue hundreds of answers nobody
// will see. Here a wish replaces the previous waiting one; when the request in flight
// answers, the newest wish (if it differs from what was just loaded) goes next. A wish
// made with `preempt` (the end of a drag: nothing else is coming) abandons the request in
// flight instead of waiting for an answer nobody will look at. `load(key, signal)` returns
// a promise and should stop when `signal` aborts; `deliver(key, value)` and
// `fail(key, error)` get every other answer in order.
export class Coalescer {
  constructor(load, deliver, fail) {
    this.load = load;
    this.deliver = deliver;
    this.fail = fail;
    this.inFlight = null; // key being loaded
    this.controller = null; // aborts the request in flight
    this.waiting = null; // {key} newest wish not yet started
    this.lastKey = null; // key of the last answer delivered
  }

  want(key, { preempt = false } = {}) {
    if (this.inFlight === null && key === this.lastKey) return;
    this.waiting = { key };
    if (preempt && this.inFlight !== null && this.inFlight !== key) {
      // Abandoned: its answer, if one still comes, is dropped (see _next).
      this.controller.abort();
      this.inFlight = null;
      this.controller = null;
    }
    this._next();
  }

  // Forget the last answer, so the same key is loaded again (the data behind it changed).
  refresh(key) {
    this.lastKey = null;
    this.want(key);
  }

  busy() {
    return this.inFlight !== null;
  }

  _next() {
    if (this.inFlight !== null || this.waiting === null) return;
    const { key } = this.waiting;
    this.waiting = null;
    if (key === this.lastKey) return;
    this.inFlight = key;
    const controller = new AbortController();
    this.controller = controller;
    Promise.resolve()
      .then(() => this.load(key, controller.signal))
      .then(
        (value) => {
          if (controller.signal.aborted) return;
          this.lastKey = key;
          this.deliver(key, value);
        },
        (error) => {
          this.lastKey = null;
          if (!controller.signal.aborted) this.fail(key, error);
        },
      )
      .finally(() => {
        if (this.controller !== controller) return; // abandoned: a newer one runs
        this.inFlight = null;
        this.controller = null;
        this._next();
      });
  }
}
