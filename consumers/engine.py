"""The indicator engine: pure state, no I/O (SPEC sections 4, 6, 7, 8).

Data flow::

    feed(event, ingest_ts, partition)
        -> classify (late / future / counted; SPEC section 4)
        -> Partial[partition].buckets[second]          (not final yet, mergeable)
    advance_watermark(wm)
        -> seconds s with wm >= (s + 1) * 1000 + L are *sealed*: the buckets of all
           partials for s are merged and handed to the final Windows, in order
        -> the final Windows slide to T = min(sealed, floor(hi / 1000) + 1) and the
           changelog emits records at the scheduled Ts
    flush()                       end of input: seal everything, emit up to the last T
    provisional(T)                screen values as of T (includes non-final events)

Final records depend only on the set of counted events, never on partitioning, arrival
order or when the watermark advanced, provided the watermark never passes an event that is
still to come (an event for an already sealed second is refused and counted as
``after_final``). docs/semantics.md has the full reasoning.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

from consumers.buckets import ADDERS, Bucket, Partial, merge_buckets
from consumers.changelog import Changelog, Record
from consumers.events import Event
from consumers.windows import Windows
from pulseboard import packs
from pulseboard.packs import RegionPack
from pulseboard.spec import DEFAULT_FUTURE_MS, DEFAULT_LATENESS_MS

COUNTED: Final = "counted"
LATE: Final = "late"
FUTURE: Final = "future"
AFTER_FINAL: Final = "after_final"


def classify(ts: int, ingest_ts: int, lateness_ms: int, future_ms: int) -> str:
    """SPEC section 4: ``late`` if lateness > L, ``future`` if lateness < -F, else counted.
    (``after_final`` is the engine's own refusal, not part of this rule.)"""
    lateness = ingest_ts - ts
    if lateness > lateness_ms:
        return LATE
    if lateness < -future_ms:
        return FUTURE
    return COUNTED


@dataclass(frozen=True, slots=True)
class EngineConfig:
    lateness_ms: int = DEFAULT_LATENESS_MS
    future_ms: int = DEFAULT_FUTURE_MS
    every: int = 1  # emit final records at the Ts divisible by this (plus the last at flush)
    # Whose events these are (province key, regions, digital sectors, time zone of "today").
    pack: RegionPack = field(default_factory=lambda: packs.load(packs.DEFAULT_PACK))

    def __post_init__(self) -> None:
        if self.lateness_ms < 0 or self.future_ms < 0:
            raise ValueError("lateness_ms and future_ms must be >= 0")
        if self.every < 1:
            raise ValueError("every must be >= 1")


@dataclass(slots=True)
class EngineStats:
    counted: int = 0
    late: int = 0
    future: int = 0
    after_final: int = 0
    lo_ts: int | None = None  # least / greatest ts of counted events
    hi_ts: int | None = None
    records: int = 0


class Engine:
    """Live and offline indicator state. Not thread-safe; drive it from one task."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.stats = EngineStats()
        self._lateness = self.config.lateness_ms
        self._neg_future = -self.config.future_ms
        self._every = self.config.every
        self._hi = -(2**63)  # mirrors stats.hi_ts / lo_ts without None checks
        self._lo = 2**63
        self._partials: dict[Hashable, Partial] = {}
        self._unsealed: list[int] = []  # heap of seconds some partial holds
        self._unsealed_set: set[int] = set()
        # Seconds below this are sealed (final): no partial may hold them any more.
        self._sealed = -(2**63)
        self._final = Windows(self.config.pack)
        self._final_log = Changelog()
        self._out: list[Record] = []
        self._last_emitted: int | None = None
        self._flushed = False
        self._live: Windows | None = None
        self._live_log = Changelog()
        self._live_full = False  # next provisional diff must compare every key

    # ------------------------------------------------------------------ input

    def feed(self, event: Event, ingest_ts: int, partition: Hashable = 0) -> str:
        """Account one *valid* event; returns COUNTED, LATE, FUTURE or AFTER_FINAL.
        ``partition`` identifies the source partition (any hashable, e.g. (topic, number))."""
        ts = event.ts
        lateness = ingest_ts - ts
        if lateness > self._lateness:
            self.stats.late += 1
            return LATE
        if lateness < self._neg_future:
            self.stats.future += 1
            return FUTURE
        s = ts // 1000
        if s < self._sealed:
            self.stats.after_final += 1
            return AFTER_FINAL
        part = self._partials.get(partition)
        if part is None:
            part = self._partials[partition] = Partial()
        b = part.buckets.get(s)
        if b is None:
            b = part.buckets[s] = Bucket()
            if s not in self._unsealed_set:
                self._unsealed_set.add(s)
                heapq.heappush(self._unsealed, s)
        ADDERS[type(event)](b, event)
        stats = self.stats
        stats.counted += 1
        if ts > self._hi:
            self._hi = stats.hi_ts = ts
        if ts < self._lo:
            self._lo = stats.lo_ts = ts
        if self._live is not None:
            self._live.add_event(s, event)
        return COUNTED

    def drop_partition(self, partition: Hashable) -> None:
        """Forget a revoked partition's not-yet-final events. To take it back, feed its
        events again from ingest time ``resume_ingest_ms()`` (earlier is harmless: events of
        sealed seconds are refused as AFTER_FINAL)."""
        if self._partials.pop(partition, None) is not None:
            self._live = None  # rebuilt from final + remaining partials on next use

    def resume_ingest_ms(self) -> int:
        """Earliest ingest time of an event that can still change a final value: a counted
        event with ts >= sealed * 1000 has ingest_ts >= ts - F."""
        if self._sealed == -(2**63):
            return 0
        return max(0, self._sealed * 1000 - self.config.future_ms)

    # ------------------------------------------------------------ final path

    @property
    def next_watermark_ms(self) -> int:
        """The smallest watermark that would seal another second (cheap gate for callers)."""
        if self._sealed == -(2**63):
            return -(2**63)
        return (self._sealed + 1) * 1000 + self._lateness

    @property
    def final_through(self) -> int | None:
        """The T the final values have been computed up to (None before the first)."""
        return self._final.as_of

    def advance_watermark(self, watermark_ms: int) -> list[Record]:
        """Ingest time has passed ``watermark_ms`` on every partition (no event with a
        smaller ingest_ts will still be fed). Returns the newly final records."""
        if self._flushed:
            raise RuntimeError("engine already flushed")
        sealed = (watermark_ms - self._lateness) // 1000
        if sealed <= self._sealed:
            return []
        self._seal_below(sealed)
        hi = self.stats.hi_ts
        if hi is not None:
            self._final.advance(min(sealed, hi // 1000 + 1), self._every, self._emit)
        return self._take()

    def flush(self) -> list[Record]:
        """End of input: everything is final. Emits up to T = floor(hi / 1000) + 1, that last
        T included even when ``every`` does not divide it. The engine accepts no more input."""
        if self._flushed:
            return []
        hi = self.stats.hi_ts
        if hi is not None:
            end = hi // 1000 + 1
            self._seal_below(end)
            self._final.advance(end, self._every, self._emit)
            if self._last_emitted != end and self._final.as_of == end:
                self._emit(end)
        self._flushed = True
        return self._take()

    def _seal_below(self, sealed: int) -> None:
        heap = self._unsealed
        partials = self._partials.values()
        while heap and heap[0] < sealed:
            s = heapq.heappop(heap)
            self._unsealed_set.discard(s)
            parts = [b for p in partials if (b := p.buckets.pop(s, None)) is not None]
            if parts:
                self._final.push(s, parts[0] if len(parts) == 1 else merge_buckets(parts))
        self._sealed = max(self._sealed, sealed)

    def _emit(self, t: int) -> None:
        recs = self._final_log.diff(self._final, t)
        self._out.extend(recs)
        self._last_emitted = t
        self.stats.records += len(recs)

    def _take(self) -> list[Record]:
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------ provisional path

    def provisional(self, as_of: int) -> list[Record]:
        """Screen values as of second ``as_of``: the records (t = the as-of second) of the
        (name, key)s whose provisional value changed since the previous call. ``as_of`` is
        monotonic: an earlier request than the last one is served as of the last one."""
        live = self._live_windows()
        live.advance(as_of if live.as_of is None else max(as_of, live.as_of))
        full, self._live_full = self._live_full, False
        return self._live_log.diff(live, live.as_of if live.as_of is not None else as_of, full=full)

    def provisional_snapshot(self) -> list[Record]:
        """All non-absent provisional values as of the last ``provisional`` call (for a
        screen that just connected)."""
        t = self._live.as_of if self._live is not None and self._live.as_of is not None else 0
        return self._live_log.snapshot(t)

    def _live_windows(self) -> Windows:
        if self._live is None:
            live = self._final.clone()
            for s in sorted(self._unsealed_set):
                parts = [b for p in self._partials.values() if (b := p.buckets.get(s)) is not None]
                if parts:
                    live.push(s, merge_buckets(parts))  # a copy: live mutates its buckets
            self._live = live
            self._live_full = True  # the new state's dirty marks are empty: compare all
        return self._live
