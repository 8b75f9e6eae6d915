"""Which days a backfill computes, and how one day's changelog becomes that day's history
(pure: no clock, no I/O; docs/history.md).

A day is a local calendar day of the region pack's time zone (SPEC sections 6 and 10)
``[start, end)`` in seconds: 24 hours long, or 23 or 25 on a day the UTC offset changes. Its
simulation starts ``WARMUP_S`` early so the hour windows are full at midnight, as they are
on a wall that has been running; the records of the warm-up are not stored, but the state
they reach is: the day's first stored T (its midnight) carries every value as of then.
The day stores Ts ``start .. end - 1``; the next midnight belongs to the next day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pulseboard.history.codec import HistoryRecord
from pulseboard.history.lookup import is_absent
from pulseboard.indicators import Value
from pulseboard.localday import LocalDays

DAY_S: Final = 86_400
WARMUP_S: Final = 3_600
DEFAULT_DAYS_AGO: Final = (1, 7)  # yesterday, and the same weekday a week ago


@dataclass(frozen=True, slots=True)
class Day:
    start: int  # local midnight, epoch seconds
    seed: int
    end: int = 0  # the next local midnight (0: start + 24 h)
    label: str = ""  # the local date, YYYY-MM-DD

    def __post_init__(self) -> None:
        if self.end == 0:
            object.__setattr__(self, "end", self.start + DAY_S)


def local_midnight(t: int, calendar: LocalDays) -> int:
    """The local midnight at or before second ``t``."""
    return calendar.start(calendar.day(t))


def parse_days_ago(text: str) -> tuple[int, ...]:
    """``"1,7"`` -> (1, 7): whole days before today, each >= 1, no repeats."""
    try:
        days = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--backfill-days {text!r} is not a list like 1,7") from None
    if not days or any(d < 1 or d > 366 for d in days) or len(set(days)) != len(days):
        raise ValueError(f"--backfill-days {text!r}: days ago must be distinct, 1..366")
    return days


def backfill_days(now: int, days_ago: Iterable[int], seed: int, calendar: LocalDays) -> list[Day]:
    """The days to compute, oldest first. Each day's simulation seed is derived from the
    run's seed and the day, so every day differs and recomputing a day gives it again."""
    today = calendar.day(now)
    return [
        Day(calendar.start(d), seed * 1_000_003 + d, calendar.start(d + 1), calendar.label(d))
        for d in sorted(today - n for n in days_ago)
    ]


class DayCut:
    """Turns the changelog of a simulation run (warm-up included) into the day's stored
    records: none before ``start``; at ``start`` every value as of ``start`` (the
    carried-forward warm-up plus the changes at ``start``); then the changes up to
    ``end - 1``."""

    def __init__(self, day: Day) -> None:
        self.start = day.start
        self.last = day.end - 1
        self._state: dict[tuple[str, str], Value] | None = {}

    def feed(self, records: Iterable[HistoryRecord]) -> list[HistoryRecord]:
        out: list[HistoryRecord] = []
        for rec in records:
            t = rec[0]
            if t > self.last:
                break
            if self._state is not None:
                if t <= self.start:
                    self._state[(rec[1], rec[2])] = rec[3]
                    continue
                out.extend(self._opening())
            out.append(rec)
        return out

    def finish(self) -> list[HistoryRecord]:
        """At the end of the run: the opening state if no record came after ``start``."""
        return self._opening() if self._state is not None else []

    def _opening(self) -> list[HistoryRecord]:
        state, self._state = self._state or {}, None
        return [
            (self.start, name, key, value)
            for (name, key), value in sorted(state.items())
            if not is_absent(name, value)
        ]
