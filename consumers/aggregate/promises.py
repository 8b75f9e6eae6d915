"""What the producers of one partition have promised (pure state; ``pulseboard.progress``).

The partition's watermark is the least promise among its *active* producers: a producer is
active from its first marker until it leaves, ends, or is given up after ``timeout_ms`` of
watched silence. The watermark never moves back: a producer that joins with an older
promise than the watermark cannot unseal anything (its older records would be counted in
``records_after_seal_total``; with wall-clock producers that cannot happen, and a replay
into a session starts before anything is sealed).

With no active producer the watermark stays where the last promise left it. After an
``end`` from the last active producer the partition's input is over (``ended_at``: its
promise); the sealer then seals every second an event of that input can fall in. A producer
that speaks later opens it again (a new input, e.g. the next live run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pulseboard.progress import END, LEAVE, Marker


@dataclass(slots=True)
class Promises:
    timeout_ms: float = 30_000.0
    active: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (ts, wall seen)
    wm: int | None = None  # the partition's watermark (ingest time, ms); None: unknown
    ended_at: int | None = None  # the promise of the ``end`` that closed the input
    partitions: int = 0  # greatest partition count any marker stated for the topic

    def on_marker(self, marker: Marker, ts: int, now_ms: float) -> None:
        """A marker read from the partition (``ts``: its record timestamp)."""
        if marker.partitions > self.partitions:
            self.partitions = marker.partitions
        pid = marker.producer
        if marker.kind == END or marker.kind == LEAVE:
            self.active.pop(pid, None)
            self._raise(ts)
            if marker.kind == END and not self.active:
                self.ended_at = ts if self.ended_at is None else max(self.ended_at, ts)
            return
        self.ended_at = None  # a producer speaks: the partition's input goes on
        have = self.active.get(pid)
        self.active[pid] = (ts if have is None or ts > have[0] else have[0], now_ms)
        self._update()

    def _raise(self, ts: int) -> None:
        """A leaving producer's promise holds for the time the others have not promised yet;
        with nobody left it is the partition's."""
        if not self.active and (self.wm is None or ts > self.wm):
            self.wm = ts
        self._update()

    def _update(self) -> None:
        if not self.active:
            return
        low = min(ts for ts, _ in self.active.values())
        if self.wm is None or low > self.wm:
            self.wm = low

    @property
    def ended(self) -> bool:
        return self.ended_at is not None and not self.active

    def expire(self, now_ms: float, watched_since_ms: float) -> list[str]:
        """Give up producers silent for ``timeout_ms`` of time in which the partition was
        watched (``watched_since_ms``: since when it has been watched and caught up without a
        break). Returns their ids. Their partition keeps its watermark; other producers'
        promises then count alone."""
        gone = [
            pid
            for pid, (_, seen) in self.active.items()
            if now_ms - max(seen, watched_since_ms) >= self.timeout_ms
        ]
        for pid in gone:
            del self.active[pid]
        if gone:
            self._update()
        return gone
