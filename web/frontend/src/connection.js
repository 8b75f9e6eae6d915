// The websocket to the push server (docs/push-protocol.md), kept up for weeks unattended:
// reconnect with capped exponential backoff and full jitter (so a room of walls does not
// stampede a restarted server), check every sequence number and ask for a fresh snapshot
// on a gap, send heartbeats, and drop a connection that has gone silent.
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const DEFAULT_PING_S = 5;
const CONNECT_TIMEOUT_MS = 10000;

export class Connection {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers; // {onSnapshot, onDelta, onPing, onLink}
    this.ws = null;
    this.attempt = 0;
    this.expectedSeq = null;
    this.awaitingSnapshot = true;
    this.pingIntervalMs = DEFAULT_PING_S * 1000;
    this.lastMessageAt = 0;
    this.timers = { retry: 0, heartbeat: 0, watchdog: 0 };
  }

  start() {
    this._open();
    this.timers.watchdog = setInterval(() => this._watchdog(), 1000);
  }

  _open() {
    this.timers.retry = 0;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connectStartedAt = Date.now();
    this.expectedSeq = null;
    this.awaitingSnapshot = true;
    ws.onopen = () => {
      this.lastMessageAt = Date.now();
      this.handlers.onLink('open');
    };
    ws.onmessage = (ev) => this._receive(ev.data);
    ws.onclose = () => {
      if (this.ws === ws) this._drop();
    };
    ws.onerror = () => {}; // onclose follows and handles it
  }

  _drop() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.timers.heartbeat);
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.close();
    this.handlers.onLink('closed');
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.timers.retry) return;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.timers.retry = setTimeout(() => this._open(), delay);
  }

  _send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  _resync() {
    this.awaitingSnapshot = true;
    this._send({ type: 'resync' });
  }

  _receive(data) {
    this.lastMessageAt = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this._resync();
      return;
    }
    if (msg.type === 'snapshot') {
      this.expectedSeq = msg.seq + 1;
      this.awaitingSnapshot = false;
      this.attempt = 0;
      const pingS = msg.meta?.timing?.ping_interval_s;
      if (pingS > 0 && pingS * 1000 !== this.pingIntervalMs) this.pingIntervalMs = pingS * 1000;
      clearInterval(this.timers.heartbeat);
      this.timers.heartbeat = setInterval(
        () => this._send({ type: 'heartbeat' }),
        this.pingIntervalMs,
      );
      this.handlers.onSnapshot(msg);
      return;
    }
    if (this.awaitingSnapshot) return; // everything before the snapshot is superseded by it
    if (msg.seq !== this.expectedSeq) {
      this.handlers.onGap?.(this.expectedSeq, msg.seq);
      this._resync();
      return;
    }
    this.expectedSeq = msg.seq + 1;
    if (msg.type === 'delta') this.handlers.onDelta(msg);
    else if (msg.type === 'ping') this.handlers.onPing(msg);
  }

  _watchdog() {
    // Pings arrive every few seconds; three missed means a half-open connection.
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      if (Date.now() - this.lastMessageAt > 3 * this.pingIntervalMs + 1000) this._drop();
    } else if (this.ws && this.ws.readyState === WebSocket.CONNECTING) {
      if (Date.now() - this.connectStartedAt > CONNECT_TIMEOUT_MS) this._drop();
    }
  }
}
