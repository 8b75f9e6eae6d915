"""Whether a partition is watched, caught up, or coming back from a blind spell (pure state;
docs/aggregator.md section 2, "Outages").

A partition is watched while fetches for it are answered and the sealer's loop runs. A spell
without either (the broker unreachable; the loop stalled, e.g. in a commit that waits for
Kafka) tells nothing about that time, and producers may have been buffering records stamped
in it: such a partition is not idle, and when watched again it gets time for their backlog
(``PartitionSealer.resumed``)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

# A fetch answers within fetch_max_wait_ms (500) when the broker is up; several times that
# without an answer means we cannot see the partition (broker down or unreachable).
SEEN_WITHIN_MS: Final = 3000


@dataclass(frozen=True, slots=True)
class Seen:
    caught_up: bool  # watched, nothing fetched for it this time, position at the high watermark
    answered_ms: float | None  # when the broker last answered a fetch for it (loop clock)
    resumed: bool  # watched again after a blind spell: the idle rule must wait


@dataclass(slots=True)
class Watch:
    blind: set[Hashable] = field(default_factory=set)
    last_tick_ms: float | None = None
    stalled: bool = False  # the last tick came more than SEEN_WITHIN_MS after the one before

    def tick(self, now_ms: float) -> None:
        """Once per loop turn, before ``see`` is asked about each partition."""
        self.stalled = self.last_tick_ms is not None and now_ms - self.last_tick_ms > SEEN_WITHIN_MS
        self.last_tick_ms = now_ms

    def see(
        self,
        tp: Hashable,
        *,
        now_ms: float,
        wall_ms: float,
        polled_wall_ms: float | None,
        last_record_ms: float,
        fetched_now: bool,
        highwater: int | None,
        position: int,
    ) -> Seen:
        """``now_ms``: the loop's clock; ``wall_ms``: the wall clock (the client stamps its
        fetch answers with it, ``polled_wall_ms``); ``last_record_ms``: when the partition
        last had a record, or was assigned (loop clock)."""
        seen = polled_wall_ms is not None and wall_ms - polled_wall_ms < SEEN_WITHIN_MS
        resumed = False
        if not seen and (polled_wall_ms is not None or now_ms - last_record_ms >= SEEN_WITHIN_MS):
            self.blind.add(tp)  # (not just assigned and waiting for its first fetch)
        elif self.stalled or tp in self.blind:
            self.blind.discard(tp)
            resumed = True
        caught_up = seen and not fetched_now and highwater is not None and position >= highwater
        answered = None if polled_wall_ms is None else now_ms - (wall_ms - polled_wall_ms)
        return Seen(caught_up, answered, resumed)

    def forget(self, tp: Hashable) -> None:
        self.blind.discard(tp)
