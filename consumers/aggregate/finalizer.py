"""Stage 2 of the live aggregator: sealed buckets of every source partition into final
indicator records, and provisional values for the screen (pure state, no I/O).

``FinalizerState`` is fed the messages of the internal topic in offset order:

* Sealed buckets are deduplicated per source partition: a bucket of second ``s`` from ``src``
  is new only if ``s >= through[src]`` (the greatest ``through`` seen from ``src``). A sealer
  that restarts re-sends seconds from its committed ``through``, which is never above the
  one already seen, so re-sent seconds are dropped and nothing is counted twice.
* Second ``s`` is final once every (non-empty) source partition's ``through`` is above it.
  The buckets of all partitions for it are merged and handed to the final ``Windows`` in
  second order, which then advances and emits changelog records exactly as ``Engine`` does:
  up to ``T = min(merged, floor(hi / 1000) + 1)``, ``hi`` the greatest counted ``ts`` seen.
* Provisional values come from a second ``Windows`` (``live``): the final state plus the
  sealed-but-not-merged seconds plus each partition's provisional deltas, folded in as they
  arrive (``Windows.add_bucket``). When a sealed bucket arrives, whatever the deltas had not
  brought yet (``bucket_minus``) is folded in, so live values never drift from the truth by
  more than the events not reported yet.

Restart (``checkpoint`` / restore): a checkpoint is the changelog's published values, the
"today" totals, every partition's ``through``, ``hi`` and two offsets of the internal topic:
``oR``, from which every bucket of the last hour before ``T`` can be read again, and ``oX``,
the last message reflected. A new owner re-reads ``[oR, oX]`` without merging, then sets the
checkpoint's bookkeeping, merges and slides to ``T`` silently, and continues; records of
``T <= suppress_through`` (already published) are computed but not returned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from consumers.aggregate.codec import BucketMessage, parse_int
from consumers.aggregate.livefold import bucket_minus
from consumers.buckets import Bucket
from consumers.changelog import Changelog, Record
from consumers.windows import MAX_WINDOW, Windows
from pulseboard import packs
from pulseboard.indicators import NAMES
from pulseboard.packs import RegionPack

CHECKPOINT_VERSION: Final = 1
TRUCK_WINDOW: Final = 300  # seconds whose trucks / dc readings a restore still needs


@dataclass(slots=True)
class FinalStats:
    sealed_messages: int = 0
    provisional_messages: int = 0
    duplicate_buckets: int = 0  # re-sent sealed seconds, dropped
    dropped_buckets: int = 0  # sealed buckets for seconds already final (see docs)
    final_records: int = 0
    suppressed_records: int = 0  # recomputed after a restart, already published before


@dataclass(slots=True)
class Checkpoint:
    t: int  # final values are as of this T
    merged: int  # seconds below were merged into the final windows
    through: dict[str, int]
    empty: list[str]
    sources: list[str]
    ended: list[str]
    hi: int | None
    ingest: int  # greatest ingest_ts reflected in the final values as of t
    published: dict[str, dict[str, Any]]
    today_day: int | None
    today_n: dict[str, int]
    today_v: dict[str, int]
    restore_offset: int  # oR
    last_offset: int  # oX

    def to_obj(self) -> dict[str, Any]:
        return {
            "k": "c",
            "v": CHECKPOINT_VERSION,
            "T": self.t,
            "M": self.merged,
            "through": self.through,
            "empty": self.empty,
            "sources": self.sources,
            "ended": self.ended,
            "hi": self.hi,
            "ingest": self.ingest,
            "pub": self.published,
            "today": {"day": self.today_day, "n": self.today_n, "v": self.today_v},
            "oR": self.restore_offset,
            "oX": self.last_offset,
        }

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Checkpoint:
        if obj.get("k") != "c" or obj.get("v") != CHECKPOINT_VERSION:
            raise ValueError("not a version 1 checkpoint")
        today = obj["today"]
        return cls(
            t=obj["T"],
            merged=obj["M"],
            through=dict(obj["through"]),
            empty=list(obj["empty"]),
            sources=list(obj["sources"]),
            ended=list(obj.get("ended", ())),
            hi=obj["hi"],
            ingest=obj["ingest"],
            published={name: dict(obj["pub"].get(name, {})) for name in NAMES},
            today_day=today["day"],
            today_n={k: parse_int(v) for k, v in today["n"].items()},
            today_v={k: parse_int(v) for k, v in today["v"].items()},
            restore_offset=obj["oR"],
            last_offset=obj["oX"],
        )


def commit_metadata(checkpoint_offset: int | None, emitted: int | None) -> str:
    """The finalizer's committed metadata: where its checkpoint is, what T it published."""
    return orjson.dumps({"c": checkpoint_offset, "e": emitted}).decode()


def parse_commit_metadata(metadata: str | None) -> tuple[int | None, int | None]:
    """(checkpoint offset, T published through) from committed metadata; None for what is
    missing or unreadable (then the finalizer rebuilds from the start of its topic)."""
    try:
        meta = orjson.loads(metadata) if metadata else {}
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(meta, dict):
        return None, None
    c, e = meta.get("c"), meta.get("e")
    return (c if type(c) is int else None), (e if type(e) is int else None)


@dataclass(slots=True)
class _Restore:
    ckpt: Checkpoint
    first_needed: int  # buckets of earlier seconds are not needed (left every window)
    thin_before: int  # buckets of earlier seconds are needed without trucks / dc


class FinalizerState:
    """Merging, final changelog and provisional values (see module doc)."""

    def __init__(
        self,
        sources: Iterable[str],
        *,
        checkpoint: Checkpoint | None = None,
        suppress_through: int | None = None,
        pack: RegionPack | None = None,
    ) -> None:
        # Whose province key, regions and "today" the windows use (default: the default pack).
        self.pack = pack or packs.load(packs.DEFAULT_PACK)
        self.sources: set[str] = set(sources)
        self.through: dict[str, int] = {}
        self.empty: set[str] = set()
        self.pending: dict[int, Bucket] = {}  # sealed by some partitions, not merged yet
        self._pending_heap: list[int] = []
        self._pending_ingest: dict[int, int] = {}
        self.merged: int | None = None  # seconds below were handed to the final windows
        self.final = Windows(self.pack)
        self.log = Changelog()
        self.hi: int | None = None
        self.first_offset: dict[int, int] = {}  # second -> offset of its first bucket
        self._ingest_heap: list[tuple[int, int]] = []  # (second, ingest) pushed, not emitted
        self.final_ingest = 0
        self.suppress_through = suppress_through
        self.emitted: int | None = None  # last T the final records were computed for
        self._out: list[tuple[Record, int]] = []
        self.stats = FinalStats()
        # Provisional side.
        self.prov: dict[str, dict[int, Bucket]] = {}
        self.prov_sid: dict[str, str] = {}
        self.wm: dict[str, int] = {}
        self.ended_src: set[str] = set()  # sources whose input has ended
        self._newest: int | None = None  # greatest watermark of an input that went on
        self.seen_ingest = 0
        self.live: Windows | None = None
        self.live_log = Changelog()
        self._live_full = False
        self._restore: _Restore | None = None
        if checkpoint is not None:
            self.sources.update(checkpoint.sources)
            self._restore = _Restore(
                checkpoint,
                first_needed=checkpoint.t - MAX_WINDOW,
                thin_before=checkpoint.t - TRUCK_WINDOW - 1,
            )
            if checkpoint.restore_offset > checkpoint.last_offset:
                self.finish_restore()

    # ------------------------------------------------------------------ state

    @property
    def restoring(self) -> bool:
        return self._restore is not None

    @property
    def restore_until(self) -> int | None:
        """While restoring: the last offset to re-read before the checkpoint applies."""
        return self._restore.ckpt.last_offset if self._restore is not None else None

    @property
    def thin_before(self) -> int | None:
        """While restoring: buckets of seconds below this may be decoded thin."""
        return self._restore.thin_before if self._restore is not None else None

    # --------------------------------------------------------------- messages

    def on_sealed(self, offset: int, m: BucketMessage) -> None:
        """A sealed message (offset in the internal topic, in increasing order)."""
        self.stats.sealed_messages += 1
        src = m.src
        self.sources.add(src)
        self._note(src, m)
        if m.ended:
            self.ended_src.add(src)
        else:
            self.ended_src.discard(src)
        restore = self._restore
        known = self.through.get(src)
        if m.empty:
            if known is None:
                self.empty.add(src)
            return
        merged = self.merged
        prov = self.prov.get(src)
        for s, ing, b in m.entries:
            if known is not None and s < known:
                self.stats.duplicate_buckets += 1
                continue
            if restore is not None:
                if s < restore.first_needed:
                    continue
            elif merged is not None and s < merged:
                self.stats.dropped_buckets += 1
                continue
            self.first_offset.setdefault(s, offset)
            if ing > self.seen_ingest:
                self.seen_ingest = ing
            if restore is None:
                part = prov.pop(s, None) if prov is not None else None
                if self.live is not None:
                    self.live.add_bucket(s, b if part is None else bucket_minus(b, part))
            self._add_pending(s, ing, b)
        if m.through is not None and (known is None or m.through > known):
            self.through[src] = m.through
            if prov:
                for s in [s for s in prov if s < m.through]:
                    del prov[s]
        self.empty.discard(src)
        if restore is None:
            self._merge()

    def on_provisional(self, m: BucketMessage) -> None:
        self.stats.provisional_messages += 1
        if self._restore is not None:
            return
        src = m.src
        self.sources.add(src)
        self._note(src, m)
        prov = self.prov.get(src)
        if prov is None or self.prov_sid.get(src) != m.sid:
            # A new session of this partition's sealer: its deltas start from nothing, so
            # the previous session's deltas must go (the live state is rebuilt).
            if prov:
                self.live = None
            prov = self.prov[src] = {}
            self.prov_sid[src] = m.sid
        known = self.through.get(src)
        live = self.live
        for s, ing, d in m.entries:
            if known is not None and s < known:
                continue
            if ing > self.seen_ingest:
                self.seen_ingest = ing
            have = prov.get(s)
            if live is not None:
                live.add_bucket(s, d)
            if have is None:
                prov[s] = d
            else:
                have.merge_from(d)

    def _note(self, src: str, m: BucketMessage) -> None:
        if m.partitions is not None:
            # The topic has (at least) this many partitions: one added at run time must be
            # heard from before any second it could hold is made final.
            topic = src.rpartition(":")[0]
            for p in range(m.partitions):
                self.sources.add(f"{topic}:{p}")
        if m.hi is not None and (self.hi is None or m.hi > self.hi):
            self.hi = m.hi
        if m.wm is not None and m.wm > self.wm.get(src, -(2**63)):
            self.wm[src] = m.wm
        # An ended input's watermark runs past it by the allowances: not "newest data".
        if m.wm is not None and not m.ended and (self._newest is None or m.wm > self._newest):
            self._newest = m.wm

    def _add_pending(self, s: int, ing: int, b: Bucket) -> None:
        have = self.pending.get(s)
        if have is None:
            self.pending[s] = b
            heapq.heappush(self._pending_heap, s)
            self._pending_ingest[s] = ing
        else:
            have.merge_from(b)
            if ing > self._pending_ingest[s]:
                self._pending_ingest[s] = ing

    # ------------------------------------------------------------ final path

    def watermark_second(self) -> int | None:
        """Seconds below this are sealed on every partition (None: some partition unknown)."""
        bounds = []
        for src in self.sources:
            if src in self.empty:
                continue
            t = self.through.get(src)
            if t is None:
                return None
            bounds.append(t)
        return min(bounds) if bounds else None

    def _merge(self) -> None:
        m = self.watermark_second()
        if m is None or (self.merged is not None and m <= self.merged):
            return
        self._push_below(m)
        self.merged = m
        if self.hi is not None:
            self.final.advance(min(m, self.hi // 1000 + 1), 1, self._emit)

    def _push_below(self, m: int) -> None:
        heap = self._pending_heap
        while heap and heap[0] < m:
            s = heapq.heappop(heap)
            self.final.push(s, self.pending.pop(s))
            heapq.heappush(self._ingest_heap, (s, self._pending_ingest.pop(s)))

    def _emit(self, t: int) -> None:
        heap = self._ingest_heap
        while heap and heap[0][0] < t:
            ing = heapq.heappop(heap)[1]
            if ing > self.final_ingest:
                self.final_ingest = ing
        recs = self.log.diff(self.final, t)
        self.emitted = t
        if self.suppress_through is not None and t <= self.suppress_through:
            self.stats.suppressed_records += len(recs)
            return
        ing = self.final_ingest
        self._out.extend((r, ing) for r in recs)
        self.stats.final_records += len(recs)

    def take_final(self) -> list[tuple[Record, int]]:
        """Final records made since the last call, in SPEC order, each with the greatest
        ingest_ts its value reflects."""
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------ provisional

    def provisional(self) -> tuple[list[Record], int]:
        """Records of the provisional values that changed since the last call, as of the
        second after the newest watermark, and the greatest ingest_ts they reflect."""
        as_of = self.live_as_of()
        if self._restore is not None or as_of is None:
            return [], self.seen_ingest
        if self.ended and self.live is not None and self.live.as_of != as_of:
            self.live = None  # the input is over: show the final state itself
        live = self._live_windows()
        if live.as_of is None or as_of > live.as_of:
            live.advance(as_of)
        full, self._live_full = self._live_full, False
        t = live.as_of if live.as_of is not None else as_of
        return self.live_log.diff(live, t, full=full), self.seen_ingest

    @property
    def ended(self) -> bool:
        """Every source partition's input has ended (``pulseboard.progress``)."""
        return bool(self.sources) and self.sources <= self.ended_src

    def newest_wm(self) -> int | None:
        """The newest watermark reported by a partition whose input went on (ms)."""
        return self._newest

    def live_as_of(self) -> int | None:
        """The T provisional values are as of: the second after the newest watermark; once
        every partition's input has ended, the final T, so that the screen then shows
        exactly the final values instead of sliding on with the wall clock."""
        if self.ended:
            return self.final.as_of
        wm = self.newest_wm()
        return None if wm is None else wm // 1000 + 1

    def _live_windows(self) -> Windows:
        live = self.live
        if live is None:
            live = self.final.clone()
            seconds: set[int] = set(self.pending)
            for prov in self.prov.values():
                seconds.update(prov)
            for s in sorted(seconds):
                b = Bucket()
                have = self.pending.get(s)
                if have is not None:
                    b.merge_from(have)
                for prov in self.prov.values():
                    part = prov.get(s)
                    if part is not None:
                        b.merge_from(part)
                live.push(s, b)
            self.live = live
            self._live_full = True
        return live

    # ------------------------------------------------------- checkpoint/restore

    def checkpoint(self, last_offset: int) -> Checkpoint | None:
        """The state after the message at ``last_offset`` (None before the first final T)."""
        t = self.final.as_of
        if t is None or self.merged is None or self._restore is not None:
            return None
        first_needed = t - MAX_WINDOW
        for s in [s for s in self.first_offset if s < first_needed]:
            del self.first_offset[s]
        restore_offset = min(self.first_offset.values(), default=last_offset + 1)
        return Checkpoint(
            t=t,
            merged=self.merged,
            through=dict(self.through),
            empty=sorted(self.empty),
            sources=sorted(self.sources),
            ended=sorted(self.ended_src),
            hi=self.hi,
            ingest=self.final_ingest,
            published={name: dict(v) for name, v in self.log.published.items()},
            today_day=self.final.today_day,
            today_n=dict(self.final.ship_today_n),
            today_v=dict(self.final.ship_today_v),
            restore_offset=restore_offset,
            last_offset=last_offset,
        )

    def finish_restore(self) -> None:
        """Everything up to the checkpoint's last offset was re-read: take over its
        bookkeeping and bring the final state to its T silently."""
        restore = self._restore
        if restore is None:
            return
        ck = restore.ckpt
        self._restore = None
        self.through = dict(ck.through)
        self.empty = set(ck.empty)
        self.sources.update(ck.sources)
        self.ended_src = set(ck.ended)
        if ck.hi is not None and (self.hi is None or ck.hi > self.hi):
            self.hi = ck.hi
        self._push_below(ck.merged)
        self.merged = ck.merged
        self.final.advance(ck.t)  # no emit: silent
        for dirty in self.final.dirty.values():
            dirty.clear()
        self.final.today_day = ck.today_day
        self.final.ship_today_n = dict(ck.today_n)
        self.final.ship_today_v = dict(ck.today_v)
        self.log.published = {name: dict(ck.published.get(name, {})) for name in NAMES}
        heap = self._ingest_heap
        while heap and heap[0][0] < ck.t:
            heapq.heappop(heap)
        self.final_ingest = ck.ingest
        self.emitted = ck.t
        self.live = None
        # Later messages may complete more seconds than the checkpoint had merged.
        self._merge()
