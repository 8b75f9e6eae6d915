"""Stage 1 of the live aggregator: per source partition, validated events into sealed
per-second buckets (pure state, no I/O; see docs/aggregator.md).

A ``PartitionSealer`` owns one partition of ``freight.events`` or ``sector.events``:

* ``feed_batch`` validates records (SPEC section 3, plus: the record key must be the event's
  SPEC key, reason ``key_mismatch``, and the type must belong on the topic, reason
  ``wrong_topic``), classifies them (SPEC section 4) and adds counted events to the bucket of
  their second, and to a *delta* bucket of events not yet reported provisionally.
* The partition's watermark is the greatest record timestamp read (ingest time; records of
  one partition are assumed to be in ingest order, as SPEC section 4 allows). Second ``s`` is
  *sealed* once ``watermark >= (s + 1) * 1000 + L``: no counted event of ``s`` can follow.
  ``through`` is the first unsealed second.
* Idle rule (``advance``): a partition that is caught up and has had no record for
  ``idle_ms`` advances its watermark by the wall-clock time elapsed since its last record
  (times ``idle_speed``), never further, and never beyond the broker's last answer for it.
  A partition that has never held a record is ``empty`` and does not hold the watermark
  back at all.
* ``sealed_messages`` / ``provisional_messages`` turn newly sealed buckets and the deltas
  into messages for the internal topic (``codec``).

Restart and rebalance: the committed offset's metadata is the partition's ``through``.
A new owner seeks to the first record that can hold a counted event of an unsealed second
(ingest time ``through * 1000 - F``), rebuilds the open buckets, and ignores re-read events
of sealed seconds. Records before the committed offset were accounted already (metrics,
DLQ) and are only used to rebuild state (``replay_until``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final, Protocol

import orjson

from consumers.aggregate.codec import (
    PROVISIONAL,
    SEALED,
    Entry,
    chunk_entries,
    encode_entry,
    encode_message,
)
from consumers.aggregate.promises import Promises
from consumers.buckets import ADDERS, Bucket
from consumers.events import DcLoad, Delivery, Output, Position, Shipment
from consumers.validation import REASONS, Invalid, Validator
from pulseboard import packs
from pulseboard.packs import RegionPack
from pulseboard.progress import MarkerError, marker_of
from pulseboard.spec import DEFAULT_FUTURE_MS, DEFAULT_LATENESS_MS

# How a partition's watermark is known (docs/aggregator.md section 2):
MARKERS: Final = "markers"  # from the progress markers of pulseboard's producers (exact)
IDLE: Final = "idle"  # from record timestamps and the wall-clock idle rule (foreign producers)
PROGRESS_MODES: Final = (MARKERS, IDLE)

KEY_MISMATCH: Final = "key_mismatch"
WRONG_TOPIC: Final = "wrong_topic"
INVALID_REASONS: Final = (*REASONS, KEY_MISMATCH, WRONG_TOPIC)

_NO_VALUE: Final = Invalid("not_json", "record has no value")


def _output_key(ev: Output) -> str:
    return ev.region + "|" + ev.sector


# Event class -> its SPEC section 2 key, for the types each events topic may hold.
# (A pack's classes are subclasses of these: see ``_keys_for``.)
FREIGHT_KEYS: Final[dict[type, Callable[[Any], str]]] = {
    Shipment: attrgetter("truck_id"),
    Position: attrgetter("truck_id"),
    Delivery: attrgetter("truck_id"),
}
SECTOR_KEYS: Final[dict[type, Callable[[Any], str]]] = {
    DcLoad: attrgetter("dc_id"),
    Output: _output_key,
}


def _keys_for(
    table: dict[type, Callable[[Any], str]], classes: Iterable[type]
) -> dict[type, Callable[[Any], str]]:
    """``table`` for the classes a validator decodes into: a plain dict, since the loop
    looks every record's class up in it."""
    return {cls: table[base] for cls in classes for base in table if issubclass(cls, base)}


class RecordLike(Protocol):
    """The parts of an aiokafka ``ConsumerRecord`` the sealer reads."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    # (headers too: read only from records with an empty value, where markers live)


@dataclass(frozen=True, slots=True)
class SealerConfig:
    lateness_ms: int = DEFAULT_LATENESS_MS
    future_ms: int = DEFAULT_FUTURE_MS
    idle_ms: int = 2000
    idle_speed: float = 1.0  # watermark ms per wall-clock ms while idle
    # After a spell in which the partition could not be watched, how long the idle rule
    # waits for producers to deliver what they buffered meanwhile (their reconnect backoff,
    # a new producer id, the backlog itself): well above aiokafka's and Java's 1-2 s.
    recovery_hold_ms: int = 10_000
    max_message_bytes: int = 256 * 1024  # a message's bucket entries are cut at this size
    progress: str = MARKERS
    # A producer silent this long while its partition is watched and caught up is given up
    # (crashed without leaving): its promise stops holding the others back.
    producer_timeout_ms: int = 30_000
    # Whose codes the events must use (SPEC section 10).
    pack: RegionPack = field(default_factory=lambda: packs.load(packs.DEFAULT_PACK))

    def __post_init__(self) -> None:
        if self.progress not in PROGRESS_MODES:
            raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)}")
        if self.producer_timeout_ms <= 0:
            raise ValueError("producer_timeout_ms must be > 0")
        if self.lateness_ms < 0 or self.future_ms < 0:
            raise ValueError("lateness_ms and future_ms must be >= 0")
        if self.idle_ms < 0 or self.recovery_hold_ms < 0:
            raise ValueError("idle_ms and recovery_hold_ms must be >= 0")
        if not self.idle_speed > 0:
            raise ValueError("idle_speed must be > 0")
        if self.max_message_bytes < 1024:
            raise ValueError("max_message_bytes must be >= 1024")


@dataclass(slots=True)
class FeedResult:
    """What one ``feed_batch`` did. Re-read records (offset below ``replay_until``) are
    only ``replayed``: they were accounted by a previous owner of the partition."""

    consumed: int = 0
    replayed: int = 0
    counted: int = 0
    late: int = 0
    future: int = 0
    after_seal: int = 0
    markers: int = 0  # progress markers read (never events)
    invalid: list[tuple[Any, str, str]] = field(default_factory=list)  # (record, reason, detail)


def parse_commit_metadata(metadata: str | None) -> int | None:
    """The ``through`` stored in a committed offset's metadata (None if absent)."""
    return _commit_field(metadata, "through")


def parse_commit_ended(metadata: str | None) -> int | None:
    """The ``end`` promise stored with a commit: the partition's input had ended there."""
    return _commit_field(metadata, "end")


def _commit_field(metadata: str | None, name: str) -> int | None:
    if not metadata:
        return None
    try:
        obj = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return None
    value = obj.get(name) if isinstance(obj, dict) else None
    return value if type(value) is int else None


def resume_from_ms(through: int, future_ms: int) -> int:
    """The ingest time a new owner re-reads from: a counted event of a second ``>= through``
    has an ingest time ``>= through * 1000 - F``."""
    return max(0, through * 1000 - future_ms)


def resume_offset(
    through: int | None, committed: int | None, found: int | None, begin: int, end: int
) -> int:
    """Where a new owner of a partition starts reading: the first record that can hold a
    counted event of an unsealed second (``found``: Kafka's time index for
    ``resume_from_ms``; none: the end), or the committed offset if that is earlier (never
    skip a record not read yet); without a committed ``through``, the beginning. Never
    before the first record still there (retention)."""
    if through is None:
        return begin
    start = found if found is not None else end
    if committed is not None:
        start = min(start, committed)
    return max(start, begin)


class PartitionSealer:
    """Open buckets, watermark and sealing of one source partition (see module doc)."""

    def __init__(
        self,
        topic: str,
        partition: int,
        *,
        freight: bool,
        sid: str,
        config: SealerConfig | None = None,
        through: int | None = None,
        replay_until: int = 0,
        now_ms: float = 0.0,
        ended_at: int | None = None,
    ) -> None:
        self.config = config or SealerConfig()
        self.topic = topic
        self.partition = partition
        self.src = f"{topic}:{partition}"
        self.sid = sid
        self._validator = Validator(self.config.pack)
        self._keys = _keys_for(
            FREIGHT_KEYS if freight else SECTOR_KEYS, self._validator.schema.classes
        )
        self._lateness = self.config.lateness_ms
        self._neg_future = -self.config.future_ms
        self.through = through  # first unsealed second (None: nothing sealed, no bound yet)
        self.through_sent = through  # ``through`` of the last sealed message made
        self.replay_until = replay_until
        self.buckets: dict[int, Bucket] = {}
        self.delta: dict[int, Bucket] = {}  # events not yet in a provisional message
        self.ingest: dict[int, int] = {}  # second -> greatest ingest_ts of its events
        self.sealed: list[Entry] = []  # sealed, not yet in a message
        self.hi: int | None = None  # greatest ts of counted events seen
        self.last_ts: int | None = None  # greatest record timestamp read
        # A committed through implies the previous owner's watermark reached this.
        self._base = None if through is None else through * 1000 + self._lateness
        self.wm: int | None = self._base  # effective watermark (records, then idle rule)
        self.last_wall = now_ms  # wall clock (ms) of the last record, or of the assignment
        self.hold_until = 0.0  # no idle advance before this (wall clock, ms): see ``resumed``
        self.empty = False
        self._empty_sent = False
        self.markers = self.config.progress == MARKERS
        self.promises = Promises(
            float(self.config.producer_timeout_ms), wm=self._base, ended_at=ended_at
        )
        self._caught_since: float | None = None  # watched and caught up without a break since
        self.expired: list[str] = []  # producers given up, not yet reported

    # ---------------------------------------------------------------- records

    def feed_batch(self, records: Iterable[RecordLike], now_ms: float) -> FeedResult:
        """Account records of this partition, in offset order."""
        res = FeedResult()
        lateness_ms = self._lateness
        neg_future = self._neg_future
        keys = self._keys
        validate = self._validator.validate
        buckets = self.buckets
        delta = self.delta
        ingest = self.ingest
        through = self.through if self.through is not None else -(2**63)
        replay_until = self.replay_until
        invalid = res.invalid
        last_ts = self.last_ts if self.last_ts is not None else -(2**63)
        hi = self.hi if self.hi is not None else -(2**63)
        consumed = replayed = counted = late = future = after_seal = 0
        seen = False
        for rec in records:
            seen = True
            ingest_ts = rec.timestamp
            if ingest_ts > last_ts:
                last_ts = ingest_ts
            new = rec.offset >= replay_until
            raw = rec.value
            if not raw:
                # Events are never empty; markers always are (``pulseboard.progress``).
                try:
                    marker = marker_of(getattr(rec, "headers", None))
                except MarkerError as exc:
                    if new:
                        consumed += 1
                        invalid.append((rec, "not_json", str(exc)))
                    else:
                        replayed += 1
                    continue
                if marker is not None:
                    self.promises.on_marker(marker, ingest_ts, now_ms)
                    res.markers += 1
                    continue
                ev = _NO_VALUE if raw is None else validate(raw)
            else:
                ev = validate(raw)
            if new:
                consumed += 1
            else:
                replayed += 1
            cls = type(ev)
            if cls is Invalid:
                if new:
                    invalid.append((rec, ev.reason, ev.detail))  # type: ignore[union-attr]
                continue
            key_of = keys.get(cls)
            if key_of is None:
                if new:
                    invalid.append((rec, WRONG_TOPIC, f"{cls.__name__} event on {self.topic}"))
                continue
            key = key_of(ev)
            if rec.key is None or rec.key != key.encode():
                if new:
                    invalid.append((rec, KEY_MISMATCH, f"record key is not {key[:100]!r}"))
                continue
            ts = ev.ts  # type: ignore[union-attr]
            diff = ingest_ts - ts
            if diff > lateness_ms:
                late += new
                continue
            if diff < neg_future:
                future += new
                continue
            s = ts // 1000
            if s < through:
                after_seal += new  # re-read events of sealed seconds are expected
                continue
            b = buckets.get(s)
            if b is None:
                b = buckets[s] = Bucket()
                ingest[s] = ingest_ts
            elif ingest_ts > ingest[s]:
                ingest[s] = ingest_ts
            d = delta.get(s)
            if d is None:
                d = delta[s] = Bucket()
            adder = ADDERS[cls]
            adder(b, ev)
            adder(d, ev)
            if ts > hi:
                hi = ts
            counted += new
        if seen:
            self.last_wall = now_ms
            self.last_ts = last_ts
            self.empty = False
            if not self.markers and (self.wm is None or last_ts > self.wm):
                self.wm = last_ts
            self._take_promises()
            if hi != -(2**63):
                self.hi = hi
        res.consumed = consumed
        res.replayed = replayed
        res.counted = counted
        res.late = late
        res.future = future
        res.after_seal = after_seal
        return res

    # ---------------------------------------------------------------- sealing

    def _take_promises(self) -> None:
        """The watermark the producers' markers prove (in ``idle`` mode only an ``end``
        counts: record timestamps and the idle rule do the rest). After an ``end`` promising
        ``P``, every event of the input has an ingest time of at most ``P``, so a counted one
        a ``ts`` of at most ``P + F``: every second up to that one is sealed, and no later
        one, so a new input (the next run) is counted as usual."""
        p = self.promises
        wm = p.wm if self.markers else None
        if p.ended:
            assert p.ended_at is not None
            end = ((p.ended_at + self.config.future_ms) // 1000 + 1) * 1000 + self._lateness
            wm = end if wm is None else max(wm, end)
        if wm is not None and (self.wm is None or wm > self.wm):
            self.wm = wm

    @property
    def newest_ms(self) -> int | None:
        """How far the partition's data has come (ingest time): its watermark, or its newest
        record when that is ahead. Sealing goes by the watermark (what producers promised);
        the screen's provisional values follow the newest data, as they did before markers,
        so an event shows as soon as its record is read."""
        if self.last_ts is None or (self.wm is not None and self.wm >= self.last_ts):
            return self.wm
        return self.last_ts

    @property
    def unpromised(self) -> bool:
        """Markers are expected but none came, though records did (a foreign producer)."""
        return self.markers and self.promises.wm is None and self.last_ts is not None

    @property
    def ended(self) -> bool:
        """The partition's input has ended (no producer has spoken since its ``end``)."""
        return self.promises.ended

    def advance(self, now_ms: float, caught_up: bool, answered_ms: float | None = None) -> None:
        """Seal every second the watermark has passed by ``L``. With ``markers`` progress the
        watermark is what the producers promised, and a producer silent for
        ``producer_timeout_ms`` while the partition is watched and caught up is given up.
        With ``idle`` progress the idle rule applies (``caught_up``: nothing left to read in
        the partition right now).

        ``answered_ms`` is when the broker last answered a fetch for the partition (same
        clock as ``now_ms``; default now). Quiet is only claimed up to that answer: a broker
        that has just gone away answers nothing, and its producers are buffering records
        stamped with times we would otherwise seal past."""
        cfg = self.config
        if self.markers:
            if caught_up and now_ms >= self.hold_until:
                if self._caught_since is None:
                    self._caught_since = now_ms
                self.expired += self.promises.expire(now_ms, self._caught_since)
            else:
                self._caught_since = None
            self._take_promises()
            self._seal_to(self.wm)
            return
        wm = self.wm
        if caught_up and now_ms >= self.hold_until:
            quiet_until = now_ms if answered_ms is None else min(now_ms, answered_ms)
            idle = quiet_until - self.last_wall
            if idle >= cfg.idle_ms:
                base = self.last_ts
                if base is None or (self._base is not None and self._base > base):
                    base = self._base
                if base is None:
                    self.empty = True  # no record ever, no committed state
                else:
                    candidate = base + int(idle * cfg.idle_speed)
                    if wm is None or candidate > wm:
                        wm = candidate
        self.wm = wm
        self._seal_to(wm)

    def _seal_to(self, wm: int | None) -> None:
        if wm is None:
            return
        through = (wm - self._lateness) // 1000
        if self.through is None or through > self.through:
            self._seal_below(through)
            self.through = through

    def resumed(self, now_ms: float) -> None:
        """The partition is watched again after a spell in which it could not be (the
        broker unreachable, or our loop stalled): nothing is known of that time, and its
        producers may be holding records stamped in it. Idle time counts from now, and the
        idle rule waits ``recovery_hold_ms`` for their backlog."""
        self.last_wall = max(self.last_wall, now_ms)
        self.hold_until = max(self.hold_until, now_ms + self.config.recovery_hold_ms)
        self._caught_since = None

    def _seal_below(self, through: int) -> None:
        for s in sorted(s for s in self.buckets if s < through):
            self.sealed.append((s, self.ingest.pop(s), self.buckets.pop(s)))
            self.delta.pop(s, None)

    @property
    def resume_ms(self) -> int | None:
        """Ingest time from which a new owner must re-read (None: from the beginning)."""
        if self.through_sent is None:
            return None
        return resume_from_ms(self.through_sent, self.config.future_ms)

    def commit_metadata(self) -> str:
        meta: dict[str, int | None] = {"through": self.through_sent}
        if self.promises.ended:
            meta["end"] = self.promises.ended_at
        return orjson.dumps(meta).decode()

    # --------------------------------------------------------------- messages

    def sealed_messages(self) -> list[bytes]:
        """Messages for the seconds sealed since the last call (none if nothing changed).
        Each covers ``[from, through)``; long runs are cut into several messages."""
        if self.through is None:
            if self.empty and not self._empty_sent:
                self._empty_sent = True
                return [
                    encode_message(SEALED, self.src, self.sid, start=None, through=None, empty=True)
                ]
            return []
        if not self.sealed and self.through == self.through_sent:
            return []
        encoded = [(s, encode_entry(s, ing, b)) for s, ing, b in self.sealed]
        runs = list(chunk_entries(encoded, self.config.max_message_bytes)) or [[]]
        out = []
        start = self.through_sent
        for i, run in enumerate(runs):
            through = runs[i + 1][0][0] if i + 1 < len(runs) else self.through
            out.append(
                encode_message(
                    SEALED,
                    self.src,
                    self.sid,
                    start=start,
                    through=through,
                    hi=self.hi,
                    wm=self.newest_ms,
                    entries=[e for _, e in run],
                    partitions=self.promises.partitions or None,
                    ended=self.promises.ended,
                )
            )
            start = through
        self.sealed.clear()
        self.through_sent = self.through
        self._empty_sent = False
        return out

    def provisional_messages(self) -> list[bytes]:
        """The deltas of the open seconds since the last call (none if nothing changed)."""
        if not self.delta:
            return []
        encoded = [(s, encode_entry(s, self.ingest[s], d)) for s, d in sorted(self.delta.items())]
        self.delta = {}
        return [
            encode_message(
                PROVISIONAL,
                self.src,
                self.sid,
                start=None,
                through=self.through,
                hi=self.hi,
                wm=self.newest_ms,
                entries=[e for _, e in run],
                ended=self.promises.ended,
            )
            for run in chunk_entries(encoded, self.config.max_message_bytes)
        ]

    @property
    def open_seconds(self) -> int:
        return len(self.buckets)
