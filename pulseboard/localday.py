"""Local calendar days of a time zone, for "today" (SPEC section 6: since the latest LOCAL
midnight in the pack's time zone).

A day is named by its local date's number of days since 1970-01-01, so consecutive days have
consecutive numbers whatever their length (23, 24 or 25 hours when the UTC offset changes),
and for a zone at a fixed offset ``off`` the number is ``(second + off) // 86400``, as the
checkpoints and day seeds written before packs existed have it.
The hot path asks "which day holds this second" once per second of event time; the answer
is the remembered day when the second falls in it, so the time zone database is consulted
about once per day, not once per question.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

DAY_S = 86_400
_EPOCH: Final = date(1970, 1, 1).toordinal()


class LocalDays:
    """Day numbers and day starts (epoch seconds) of the time zone ``time_zone``."""

    __slots__ = ("_day", "_hi", "_lo", "_starts", "tz")

    def __init__(self, time_zone: str) -> None:
        self.tz = ZoneInfo(time_zone)
        self._starts: dict[int, int] = {}  # ordinal -> first epoch second of that day
        # The last day asked about: seconds in [_lo, _hi) are in day _day.
        self._lo = 0
        self._hi = 0
        self._day = 0

    def day(self, second: int) -> int:
        """The local day (days since 1970-01-01) holding epoch second ``second``."""
        if self._lo <= second < self._hi:
            return self._day
        day = datetime.fromtimestamp(second, self.tz).date().toordinal() - _EPOCH
        self._lo, self._hi, self._day = self.start(day), self.start(day + 1), day
        return day

    def start(self, day: int) -> int:
        """The first epoch second of local day ``day``: its midnight, or, where the clocks
        skip midnight, the first instant that exists on that date."""
        found = self._starts.get(day)
        if found is None:
            found = self._starts[day] = self._first_second(date.fromordinal(day + _EPOCH))
        return found

    def _first_second(self, day: date) -> int:
        midnight = datetime(day.year, day.month, day.day)
        # Both readings of a possibly ambiguous or missing wall-clock midnight; in a gap,
        # fold 0 reads it with the offset before the change, which lands on the change itself.
        candidates = {
            int(midnight.replace(tzinfo=self.tz, fold=fold).timestamp()) for fold in (0, 1)
        }
        on_day = [c for c in candidates if self._date(c) == day]
        if on_day:
            first = min(on_day)
        else:  # a gap longer than the difference of the two readings: search the change
            first = max(candidates)
            while self._date(first) < day:
                first += 60
        while self._date(first - 1) == day:  # never later than the day's first second
            first -= 1
        return first

    def _date(self, second: int) -> date:
        return datetime.fromtimestamp(second, self.tz).date()

    def label(self, day: int) -> str:
        """The local date as YYYY-MM-DD."""
        return date.fromordinal(day + _EPOCH).isoformat()
