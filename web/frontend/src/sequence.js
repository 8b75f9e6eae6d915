// The push protocol's rules for one connection (docs/push-protocol.md), with no socket, no
// timer and no clock: which messages to apply, when to ask for a fresh snapshot, how long to
// wait before reconnecting, and when a connection has gone silent. connection.js does the
// I/O around these decisions; test/sequence.test.js checks them under `node --test`.
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15000;
export const DEFAULT_PING_MS = 5000;
export const CONNECT_TIMEOUT_MS = 10000;

// Capped exponential backoff with "equal jitter": the wait after the n-th failed attempt in
// a row (n from 0) is half the cap plus a random share of the other half, so a room of walls
// spreads out after a server restart yet none retries sooner than half the cap. `random` is
// a number in [0, 1) (Math.random() in the page).
export function reconnectDelayMs(attempt, random) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return cap / 2 + random * (cap / 2);
}

// The server's ping interval announced in a snapshot, else the one in use.
export function pingIntervalMs(snapshot, currentMs) {
  const pingS = snapshot.meta?.timing?.ping_interval_s;
  return pingS > 0 ? pingS * 1000 : currentMs;
}

// Pings arrive every few seconds; three missed (and a second's grace) means a half-open
// connection that the browser has not noticed.
export function isSilent(nowMs, lastMessageAtMs, pingMs) {
  return nowMs - lastMessageAtMs > 3 * pingMs + 1000;
}

export function connectTimedOut(nowMs, startedAtMs) {
  return nowMs - startedAtMs > CONNECT_TIMEOUT_MS;
}

// Sequence numbers of one connection. `receive(text)` says what to do with a message:
//   {action: 'snapshot', msg}  apply it whole; the next message must be seq + 1
//   {action: 'apply', msg}     a delta or ping in order: apply it
//   {action: 'ignore'}         sent before the snapshot that will supersede it
//   {action: 'gap', expected, got}  a sequence number other than the next one
//   {action: 'unreadable'}     not JSON
// After 'gap' or 'unreadable' the page asks for a fresh snapshot, and everything until it
// arrives is ignored.
export class Sequence {
  constructor() {
    this.expected = null;
    this.awaitingSnapshot = true;
  }

  // A new connection: nothing counts until its first snapshot.
  reset() {
    this.expected = null;
    this.awaitingSnapshot = true;
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.awaitingSnapshot = true;
      return { action: 'unreadable' };
    }
    if (msg?.type === 'snapshot') {
      this.expected = msg.seq + 1;
      this.awaitingSnapshot = false;
      return { action: 'snapshot', msg };
    }
    if (this.awaitingSnapshot) return { action: 'ignore' };
    if (msg?.seq !== this.expected) {
      const gap = { action: 'gap', expected: this.expected, got: msg?.seq };
      this.awaitingSnapshot = true;
      return gap;
    }
    this.expected = msg.seq + 1;
    return { action: 'apply', msg };
  }
}
