"""The push protocol without I/O (see docs/push-protocol.md).

Modelled on h11 and python-websockets' sans-I/O cores: plain state machines that are fed
records, client messages and the current time, and hand back bytes to send. The asyncio
layer (web/server.py) only moves bytes and sleeps until the times this module names, so
every rule here can be tested without sockets, clocks or Kafka.

Two objects:

* ``Hub`` holds the current indicator values and coalesces changes into at most
  ``coalesce_hz`` deltas a second. A delta is serialised once and shared by every client.
  Values are held and sent at the precision the wall displays them (web/precision.py, by
  the unit ``meta`` gives each indicator), and a record whose displayed value did not
  change is nothing to send.
* ``ClientSession`` is one display connection: its sequence numbers, a bounded queue of
  shared frames, and what it is owed (a snapshot on connect, after a resync request, or
  after it fell behind). A client that cannot keep up never makes the hub wait: its queue
  is dropped and replaced by one fresh snapshot; one that keeps falling behind is closed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import orjson

from pulseboard.anomalies import Anomaly
from web.callouts import CalloutBoard
from web.indicators import Applied, Indicator, IndicatorTable, Key, Removal, WireIds
from web.precision import wire_value

# Close codes (RFC 6455 section 7.4.1).
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class Timing:
    # As often as the aggregator's provisional values come (every 100 ms by default): a
    # slower rate adds a wait of up to its interval to every change (docs/benchmarks.md).
    coalesce_hz: float = 10.0
    ping_interval_s: float = 5.0
    stale_after_s: float = 10.0
    # An upstream step arrives as a burst spread over a few fetches (one per partition);
    # waiting this long after its first record sends the burst as one delta.
    gather_s: float = 0.02
    # Deltas are at least (1 - slack)/coalesce_hz apart, measured between the times they
    # were due (not when the timer fired, so wake-up delays do not add up). Against an
    # upstream that itself publishes at coalesce_hz, an exact spacing would keep any
    # phase offset (a lag of up to one interval) forever; the slack lets the server catch
    # up within a few steps. Under a firehose: at most coalesce_hz/(1 - slack) a second.
    spacing_slack: float = 0.2

    @property
    def min_spacing_s(self) -> float:
        return (1.0 - self.spacing_slack) / self.coalesce_hz


@dataclass(frozen=True, slots=True)
class Limits:
    max_queue_frames: int = 32
    max_queue_bytes: int = 1 << 20
    # Consecutive overflows (with no catch-up in between) before a client is closed.
    max_overflows: int = 3
    max_message_bytes: int = 4096
    max_invalid_messages: int = 10
    # Token bucket for client messages: a page sends a heartbeat every few seconds and
    # a resync rarely, so anything faster is a broken or hostile client.
    message_burst: int = 20
    message_rate_per_s: float = 2.0
    # A client that sends nothing (not even heartbeats) for this long is closed; 0: never.
    client_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A frame shared by all clients: the same bytes for every one of them, so a client in
    step can be written to directly (websockets' ``broadcast``) and a lagging one queues it."""

    kind: str  # "delta" or "ping"
    seq: int  # the hub's count of broadcasts, this one included
    tail: bytes  # the JSON text that follows '{"seq":N'
    data: bytes  # the whole frame
    changes: int = 0
    oldest_ingest_ms: int | None = None

    @classmethod
    def of(
        cls, kind: str, seq: int, tail: bytes, changes: int = 0, oldest: int | None = None
    ) -> Broadcast:
        return cls(kind, seq, tail, _frame(seq, tail), changes, oldest)


@dataclass(frozen=True, slots=True)
class OutFrame:
    """A frame ready to send to one client."""

    kind: str  # "snapshot", "delta" or "ping"
    seq: int
    data: bytes
    changes: int = 0
    oldest_ingest_ms: int | None = None
    reason: str | None = None  # why a snapshot was sent


@dataclass(frozen=True, slots=True)
class CloseRequest:
    code: int
    reason: str


def _tail(obj: dict[str, Any]) -> bytes:
    # '{"type":..}' -> ',"type":..}' so a frame is '{"seq":N' + tail with no re-encoding.
    return b"," + orjson.dumps(obj)[1:]


def _frame(seq: int, tail: bytes) -> bytes:
    return b'{"seq":%d%b' % (seq, tail)


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    applied: Applied
    coalesced: bool  # replaced a change that had not been sent yet


@dataclass(slots=True)
class Hub:
    """Current values plus the changes not yet broadcast. Times are monotonic seconds
    (``now``) or Unix epoch milliseconds (``wall_ms``), always passed in."""

    meta: dict[str, Any]
    timing: Timing = field(default_factory=Timing)
    table: IndicatorTable = field(default_factory=IndicatorTable.empty)
    ready: bool = False
    last_data_ms: int | None = None  # wall time the last visible change arrived
    # Every broadcast (delta or ping) takes the next number; a snapshot carries the number
    # of the last broadcast it includes, so one number means the same frame to every client.
    seq: int = 0
    _pending: dict[Key, Indicator | Removal] = field(default_factory=dict)
    _first_pending: float = -math.inf
    _last_due: float = -math.inf
    _last_ping: float = -math.inf
    _snapshot_cache: tuple[tuple[int, int, bool, int], bytes, int] | None = None
    _units: dict[str, str] = field(default_factory=dict)
    # Values go out under small integer ids (docs/push-protocol.md). ``_undefined``: the
    # (name, key)s absent from the table at the last broadcast (first seen, or back after a
    # tombstone), whose definition the next delta carries, since a client that took its
    # snapshot after the id was first given may never have been told it.
    _ids: WireIds = field(default_factory=WireIds)
    _undefined: set[Key] = field(default_factory=set)
    # The active call-outs (docs/push-protocol.md): sent whole in snapshots, and whole in
    # the next delta whenever they change (a handful at most, so no per-item diff).
    callouts: CalloutBoard = field(default_factory=CalloutBoard)
    _callouts_pending: bool = False

    def __post_init__(self) -> None:
        # The wall formats an indicator the meta does not describe as a count (store.js).
        indicators = self.meta.get("indicators", {})
        self._units = {name: spec.get("unit", "count") for name, spec in indicators.items()}

    def ingest(self, record: Indicator | Removal, now: float, wall_ms: int) -> IngestOutcome:
        held = None
        if isinstance(record, Indicator):
            value = wire_value(record.value, self._units.get(record.name, "count"))
            if value is not record.value:
                record = replace(record, value=value)
            held = self.table.values.get(record.ident)
        applied = self.table.apply(record)
        if (
            applied is Applied.CHANGED
            and held is not None
            and held.value == record.value
            and (held.value is None) == (record.value is None)
            and record.ident not in self._pending
        ):
            # Newer (t, final) but the same displayed value: kept, not sent. (A pending
            # change is replaced below so that the delta carries the newest value.)
            applied = Applied.SAME
        if applied not in (Applied.CHANGED, Applied.REMOVED):
            return IngestOutcome(applied, coalesced=False)
        self.last_data_ms = wall_ms
        if isinstance(record, Indicator) and held is None:
            self._undefined.add(record.ident)
        if not self.ready:
            # While the compacted state is being read nobody gets deltas: every client
            # gets one snapshot when the state is complete (see mark_ready).
            return IngestOutcome(applied, coalesced=False)
        coalesced = record.ident in self._pending
        if not self._pending and not self._callouts_pending:
            self._first_pending = now
        self._pending[record.ident] = record
        return IngestOutcome(applied, coalesced)

    def ingest_anomaly(self, record: Anomaly, now: float) -> bool:
        """Take an anomaly record; True if the active call-outs changed."""
        if not self.callouts.apply(record):
            return False
        if self.ready:
            if not self._pending and not self._callouts_pending:
                self._first_pending = now
            self._callouts_pending = True
        return True

    def mark_ready(self) -> None:
        self.ready = True
        self._pending.clear()
        self._undefined.clear()
        self._callouts_pending = False

    def flush_due(self) -> float | None:
        """Monotonic time at which pending changes may be broadcast, None if none are.

        Leading edge: a change after a quiet spell goes out as soon as its burst has
        gathered; under load changes are coalesced into deltas min_spacing_s apart."""
        if not self._pending and not self._callouts_pending:
            return None
        return max(
            self._last_due + self.timing.min_spacing_s,
            self._first_pending + self.timing.gather_s,
        )

    def flush(self, now: float, wall_ms: int) -> Broadcast | None:
        if not self._pending and not self._callouts_pending:
            return None
        changed: list[Indicator] = []
        removed: list[int] = []
        oldest: int | None = None
        for rec in self._pending.values():
            if isinstance(rec, Removal):
                removed.append(self._ids.of(rec.ident))
                continue
            changed.append(rec)
            if rec.ingest_ms is not None and (oldest is None or rec.ingest_ms < oldest):
                oldest = rec.ingest_ms
        rows = self._ids.rows(changed, self._undefined.__contains__)
        self._undefined.clear()
        count = len(self._pending)
        due = self.flush_due()
        self._last_due = now if due is None else min(due, now)
        self._pending.clear()
        body: dict[str, Any] = {
            "type": "delta",
            "server_time": wall_ms,
            "ingest_ts": oldest,
            "changes": rows.rows,
        }
        if rows.at is not None:
            body["at"] = rows.at
        if rows.defs:
            body["defs"] = rows.defs
        if removed:
            body["removed"] = removed
        if self._callouts_pending:
            self._callouts_pending = False
            body["callouts"] = self.callouts.wire()
            count += 1
        self.seq += 1
        return Broadcast.of("delta", self.seq, _tail(body), count, oldest)

    def ping_due(self) -> float:
        return self._last_ping + self.timing.ping_interval_s

    def ping(self, now: float, wall_ms: int) -> Broadcast:
        self._last_ping = now
        body = {
            "type": "ping",
            "server_time": wall_ms,
            "ready": self.ready,
            "last_data": self.last_data_ms,
        }
        self.seq += 1
        return Broadcast.of("ping", self.seq, _tail(body))

    def snapshot_tail(self, wall_ms: int) -> tuple[bytes, int]:
        """The shared part of a snapshot and its value count, cached so that a thousand
        clients reconnecting at once cost one serialisation (server_time to the second)."""
        cache_key = (self.table.version, self.callouts.version, self.ready, wall_ms // 1000)
        if self._snapshot_cache is not None and self._snapshot_cache[0] == cache_key:
            return self._snapshot_cache[1], self._snapshot_cache[2]
        body: dict[str, Any] = {
            "type": "snapshot",
            "server_time": wall_ms,
            "ready": self.ready,
            "last_data": self.last_data_ms,
            "meta": self.meta,
        }
        rows = self._ids.rows(self.table.values.values(), lambda _: True)
        body["defs"] = rows.defs
        body["values"] = rows.rows
        if rows.at is not None:
            body["at"] = rows.at
        body["callouts"] = self.callouts.wire()
        tail = _tail(body)
        count = len(self.table.values)
        self._snapshot_cache = (cache_key, tail, count)
        return tail, count


class Offer(Enum):
    QUEUED = "queued"
    SUPERSEDED = "superseded"  # a snapshot is owed anyway and will include it
    OVERFLOW = "overflow"  # the queue was full: dropped, a snapshot is owed instead
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class OfferResult:
    outcome: Offer
    dropped_changes: int = 0


class Inbound(Enum):
    HEARTBEAT = "heartbeat"
    RESYNC = "resync"
    IGNORED = "ignored"  # well-formed but not for us (forward compatibility)
    INVALID = "invalid"  # not a JSON object with a string "type"
    CLOSE = "close"  # the client broke a limit; see ClientSession.close


@dataclass(slots=True)
class ClientSession:
    """One display connection. A new session owes its client a snapshot."""

    limits: Limits
    now: float  # monotonic time of the last thing heard from the client
    seq: int = 0
    needs_snapshot: bool = True
    snapshot_reason: str = "connect"
    overflows: int = 0
    invalid: int = 0
    close: CloseRequest | None = None
    _queue: deque[Broadcast] = field(default_factory=deque)
    _queued_bytes: int = 0
    _tokens: float = -1.0
    _refilled: float = 0.0

    def __post_init__(self) -> None:
        self._tokens = float(self.limits.message_burst)
        self._refilled = self.now

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def offer(self, frame: Broadcast) -> OfferResult:
        if self.close is not None:
            return OfferResult(Offer.CLOSED)
        if self.needs_snapshot:
            return OfferResult(Offer.SUPERSEDED)
        lim = self.limits
        if (
            len(self._queue) >= lim.max_queue_frames
            or self._queued_bytes + len(frame.tail) > lim.max_queue_bytes
        ):
            dropped = frame.changes + sum(f.changes for f in self._queue)
            self._queue.clear()
            self._queued_bytes = 0
            self.overflows += 1
            self.owe_snapshot("overflow")
            if self.overflows > lim.max_overflows:
                self.close = CloseRequest(TRY_AGAIN_LATER, "client too slow")
            return OfferResult(Offer.OVERFLOW, dropped)
        self._queue.append(frame)
        self._queued_bytes += len(frame.tail)
        return OfferResult(Offer.QUEUED)

    def next_frame(self, hub: Hub, wall_ms: int) -> OutFrame | None:
        """The next frame to send, or None if nothing is owed (or the session is closing)."""
        if self.close is not None:
            return None
        if self.needs_snapshot:
            # Built now, so it holds the latest values and supersedes anything queued.
            self._queue.clear()
            self._queued_bytes = 0
            self.needs_snapshot = False
            tail, count = hub.snapshot_tail(wall_ms)
            self.seq = hub.seq
            return OutFrame(
                "snapshot", self.seq, _frame(self.seq, tail), count, reason=self.snapshot_reason
            )
        if not self._queue:
            return None
        frame = self._queue.popleft()
        self._queued_bytes -= len(frame.tail)
        if not self._queue:
            self.overflows = 0  # caught up
        self.seq = frame.seq
        return OutFrame(frame.kind, frame.seq, frame.data, frame.changes, frame.oldest_ingest_ms)

    def take_direct(self, frame: Broadcast) -> bool:
        """Whether ``frame`` may go to this client at once, outside its queue: only when it
        owes nothing (no snapshot, nothing queued) and is open. The server asks only for
        clients whose socket has taken everything so far, and then writes the same bytes
        to all of them in one pass (websockets' ``broadcast``)."""
        if self.close is not None or self.needs_snapshot or self._queue:
            return False
        self.seq = frame.seq
        self.overflows = 0
        return True

    def receive(self, message: str | bytes, now: float) -> Inbound:
        """A message from the client. Display clients only send heartbeats and resync
        requests; anything else is ignored, and persistent abuse closes the session."""
        if self.close is not None:
            return Inbound.CLOSE
        self.now = now
        lim = self.limits
        self._tokens = min(
            float(lim.message_burst),
            self._tokens + (now - self._refilled) * lim.message_rate_per_s,
        )
        self._refilled = now
        self._tokens -= 1.0
        if self._tokens < 0:
            self.close = CloseRequest(POLICY_VIOLATION, "too many messages")
            return Inbound.CLOSE
        if len(message) > lim.max_message_bytes:
            self.close = CloseRequest(MESSAGE_TOO_BIG, "message too big")
            return Inbound.CLOSE
        kind = self._message_type(message)
        if kind is None:
            self.invalid += 1
            if self.invalid > lim.max_invalid_messages:
                self.close = CloseRequest(POLICY_VIOLATION, "too many invalid messages")
                return Inbound.CLOSE
            return Inbound.INVALID
        if kind == "heartbeat":
            return Inbound.HEARTBEAT
        if kind == "resync":
            self.owe_snapshot("resync")
            return Inbound.RESYNC
        return Inbound.IGNORED

    def expired(self, now: float) -> bool:
        """True (and the session then closing) if the client went silent for too long."""
        timeout = self.limits.client_timeout_s
        if self.close is None and timeout > 0 and now - self.now > timeout:
            self.close = CloseRequest(POLICY_VIOLATION, "no heartbeat")
            return True
        return False

    def owe_snapshot(self, reason: str) -> None:
        """Replace whatever is queued by a fresh snapshot at the next send."""
        if not self.needs_snapshot:
            self.needs_snapshot = True
            self.snapshot_reason = reason

    @staticmethod
    def _message_type(message: str | bytes) -> str | None:
        if not isinstance(message, str):
            return None  # the protocol is text only
        try:
            obj = orjson.loads(message)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        kind = obj.get("type")
        return kind if isinstance(kind, str) else None
