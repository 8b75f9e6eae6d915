"""When the aggregator's loops publish and how long they may wait for records (pure: the
time comes in as a number; docs/aggregator.md sections 2 and 4).

Two waits used to sit on the event → frame path that no interval asked for:

* A loop waited for records up to a fixed time (100 ms in the sealer) even when a
  publication fell due sooner, so at 10,000 events/s a provisional message went out with the
  next fetch, up to a fetch's wait after its time (``poll_timeout_ms``).
* The finalizer published provisional values on a clock of its own, out of phase with the
  sealer's provisional messages, so each one waited up to a second whole interval for that
  clock (``Pacer``: publish once new input is there, at most once per spacing)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def poll_timeout_ms(now_ms: float, due_ms: float, *, idle_ms: int, holding: bool) -> int:
    """How long a loop may wait for records: until its next publication is due, never more
    than ``idle_ms``, and at most ``HELD_RECHECK_MS`` while records wait behind a batch on
    its way (they leave as soon as it is acknowledged)."""
    limit = min(idle_ms, HELD_RECHECK_MS) if holding else idle_ms
    wait = due_ms - now_ms  # infinite when nothing is due, or nothing was ever published
    if wait >= limit:
        return limit
    return math.ceil(wait) if wait > 0 else 0


HELD_RECHECK_MS = 5
IDLE_INTERVALS = 2


@dataclass(slots=True)
class Pacer:
    """Leading-edge pacing of a publication derived from input.

    New input is published as soon as it is there, but publications are at least
    ``(1 - slack) * interval_ms`` apart; without new input one is due every
    ``IDLE_INTERVALS`` intervals (for what changes without input, such as windows sliding
    on; twice, so that against input every interval it never fires just before the input
    and makes it wait a spacing). Spacing is measured between due times, not between the times
    the loop got round to them, so a late turn does not push every later one back. Against
    an upstream that itself publishes every ``interval_ms``, ``slack`` lets the pacer fall
    into step with it instead of keeping a phase offset (up to an interval) for ever; for a
    first stage (no periodic upstream) it is 0."""

    interval_ms: float
    slack: float = 0.0
    last_due_ms: float = -math.inf
    pending_since_ms: float | None = None

    def __post_init__(self) -> None:
        if self.interval_ms <= 0:
            raise ValueError(f"interval_ms must be > 0 (got {self.interval_ms})")
        if not 0.0 <= self.slack < 1.0:
            raise ValueError(f"slack must be in [0, 1) (got {self.slack})")

    def input(self, now_ms: float) -> None:
        """New input arrived (the first since the last publication counts)."""
        if self.pending_since_ms is None:
            self.pending_since_ms = now_ms

    def due_ms(self) -> float:
        """When the next publication is due."""
        if self.pending_since_ms is None:
            return self.last_due_ms + IDLE_INTERVALS * self.interval_ms
        return max(self.last_due_ms + (1.0 - self.slack) * self.interval_ms, self.pending_since_ms)

    def is_due(self, now_ms: float) -> bool:
        return now_ms >= self.due_ms()

    def published(self, now_ms: float) -> None:
        """A publication was made at ``now_ms``. The next spacing counts from its due time
        if the loop was late by at most an interval; later than that (a stall, or the first
        publication) from now, so a stall is not followed by a burst of publications."""
        due = self.due_ms()
        late = now_ms - due
        self.last_due_ms = due if 0.0 <= late <= self.interval_ms else now_ms
        self.pending_since_ms = None
