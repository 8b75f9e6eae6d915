// At most one request in flight, and only the newest wish waits behind it.
//
// Playing at 10,000× wants a new second every animation frame; seeking by dragging wants
// one per pointer move. Asking the server for each would queue hundreds of answers nobody
// will see. Here a wish replaces the previous waiting one; when the request in flight
// answers, the newest wish (if it differs from what was just loaded) goes next. `load`
// returns a promise; `deliver(key, value)` and `fail(key, error)` get every answer in order.
export class Coalescer {
  constructor(load, deliver, fail) {
    this.load = load;
    this.deliver = deliver;
    this.fail = fail;
    this.inFlight = null; // key being loaded
    this.waiting = null; // {key} newest wish not yet started
    this.lastKey = null; // key of the last answer delivered
  }

  want(key) {
    if (this.inFlight === null && key === this.lastKey) return;
    this.waiting = { key };
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
    Promise.resolve()
      .then(() => this.load(key))
      .then(
        (value) => {
          this.lastKey = key;
          this.deliver(key, value);
        },
        (error) => {
          this.lastKey = null;
          this.fail(key, error);
        },
      )
      .finally(() => {
        this.inFlight = null;
        this._next();
      });
  }
}
