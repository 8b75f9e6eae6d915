// The websocket to the push server (docs/push-protocol.md), kept up for weeks unattended:
// reconnect with capped exponential backoff and equal jitter (so a room of walls does not
// stampede a restarted server), ask for a fresh snapshot on a gap in the sequence numbers,
// send heartbeats, and drop a connection that has gone silent. The decisions are in
// sequence.js (pure, unit-tested); this file owns the socket and the timers.
import {
  DEFAULT_PING_MS,
  Sequence,
  connectTimedOut,
  isSilent,
  pingIntervalMs,
  reconnectDelayMs,
} from './sequence.js';

export class Connection {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers; // {onSnapshot, onDelta, onPing, onLink, onGap}
    this.ws = null;
    this.attempt = 0;
    this.sequence = new Sequence();
    this.pingIntervalMs = DEFAULT_PING_MS;
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
    this.sequence.reset();
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
    const delay = reconnectDelayMs(this.attempt, Math.random());
    this.attempt += 1;
    this.timers.retry = setTimeout(() => this._open(), delay);
  }

  _send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  _receive(data) {
    this.lastMessageAt = Date.now();
    const step = this.sequence.receive(data);
    switch (step.action) {
      case 'snapshot':
        this.attempt = 0;
        this.pingIntervalMs = pingIntervalMs(step.msg, this.pingIntervalMs);
        clearInterval(this.timers.heartbeat);
        this.timers.heartbeat = setInterval(
          () => this._send({ type: 'heartbeat' }),
          this.pingIntervalMs,
        );
        this.handlers.onSnapshot(step.msg);
        break;
      case 'apply':
        if (step.msg.type === 'delta') {
          if (this.handlers.onDelta(step.msg) === false) this._send({ type: 'resync' });
        }
        else if (step.msg.type === 'ping') this.handlers.onPing(step.msg);
        break;
      case 'gap':
        this.handlers.onGap?.(step.expected, step.got);
        this._send({ type: 'resync' });
        break;
      case 'unreadable':
        this._send({ type: 'resync' });
        break;
      default: // 'ignore': superseded by the snapshot on its way
    }
  }

  _watchdog() {
    const now = Date.now();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      if (isSilent(now, this.lastMessageAt, this.pingIntervalMs)) this._drop();
    } else if (this.ws && this.ws.readyState === WebSocket.CONNECTING) {
      if (connectTimedOut(now, this.connectStartedAt)) this._drop();
    }
  }
}
