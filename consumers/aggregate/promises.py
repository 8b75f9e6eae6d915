"""What the producers of one partition have promised (pure state; ``pulseboard.progress``).

The partition's watermark is the least promise among its *active* producers: a producer is
active from its first marker until it leaves, ends, or is given up after ``timeout_ms`` of
watched silence. The watermark never moves back: a producer that joins with an older
promise than the watermark cannot unseal anything (its older records would be counted in
``records_after_seal_total``; with wall-clock producers that cannot happen, and a replay
into a session starts before anything is sealed).

With no active producer the watermark stays where the last promise left it, except after
an ``end``: then the partition's input is over and every second is sealed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pulseboard.progress import END, LEAVE, Marker


@dataclass(slots=True)
class Promises:
    timeout_ms: float = 30_000.0
    active: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (ts, wall seen)
    wm: int | None = None  # the partition's watermark (ingest time, ms); None: unknown
    ended: bool = False
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
                self.ended = True
            return
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
