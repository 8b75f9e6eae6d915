"""Daily rhythms in the area's local time (the region pack's time zone): how busy the roads
and the data centres are.

A curve is sampled once per minute and interpolated linearly; the freight curve is scaled
so its mean over a day is exactly 1, which makes "mean rate over a simulated day" a plain
multiplication.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pulseboard.localday import LocalDays

DAY_MS = 86_400_000
_MINUTE_MS = 60_000
_MINUTES = 1440


def _bump(h: float, centre: float, width: float) -> float:
    # Circular distance in hours, so a bump near midnight wraps around.
    d = (h - centre + 12.0) % 24.0 - 12.0
    return math.exp(-((d / width) ** 2))


def _freight_shape(h: float) -> float:
    # Quiet night (lowest around 03:00-05:00), a mid-morning and a stronger afternoon peak,
    # and a lighter evening tail of long-haul and city deliveries.
    return (
        0.2
        + 1.15 * _bump(h, 10.0, 2.6)
        + 1.25 * _bump(h, 15.3, 2.9)
        + 0.45 * _bump(h, 20.5, 2.2)
        + 0.06 * _bump(h, 0.5, 2.0)
    )


def _datacentre_shape(h: float) -> float:
    # Internet load: trough before dawn, rising through the day, peak in the evening.
    return 0.25 * _bump(h, 10.5, 3.0) + 0.55 * _bump(h, 15.0, 3.0) + 0.75 * _bump(h, 21.0, 2.8)


@dataclass(frozen=True, slots=True)
class DailyCurve:
    """A periodic function of the local time of day, as 1441 per-minute samples."""

    samples: tuple[float, ...]
    clock: LocalDays = field(compare=False)

    @staticmethod
    def from_shape(
        shape: Callable[[float], float], *, mean_one: bool, time_zone: str
    ) -> DailyCurve:
        values = [shape(m / 60.0) for m in range(_MINUTES)]
        if mean_one:
            # The mean of a periodic piecewise-linear curve is the mean of its samples.
            mean = sum(values) / _MINUTES
            values = [v / mean for v in values]
        else:
            lo, hi = min(values), max(values)
            values = [(v - lo) / (hi - lo) for v in values]
        return DailyCurve(tuple([*values, values[0]]), LocalDays(time_zone))

    def since_midnight_ms(self, t_ms: int) -> int:
        """Local time of day in ms (on a 25-hour day, the last hour wraps to 00:00 again)."""
        clock = self.clock
        return (t_ms - clock.start(clock.day(t_ms // 1000)) * 1000) % DAY_MS

    def hour(self, t_ms: int) -> float:
        return self.since_midnight_ms(t_ms) / 3_600_000

    def at(self, t_ms: int) -> float:
        m, rem = divmod(self.since_midnight_ms(t_ms), _MINUTE_MS)
        a = self.samples[m]
        return a + (self.samples[m + 1] - a) * (rem / _MINUTE_MS)

    @property
    def peak(self) -> float:
        return max(self.samples)


def freight_curve(time_zone: str) -> DailyCurve:
    """Activity multiplier for trucks and business output; its daily mean is 1."""
    return DailyCurve.from_shape(_freight_shape, mean_one=True, time_zone=time_zone)


def datacentre_curve(time_zone: str) -> DailyCurve:
    """Data-centre load shape scaled to [0, 1]: 0 at the pre-dawn trough, 1 at the evening peak."""
    return DailyCurve.from_shape(_datacentre_shape, mean_one=False, time_zone=time_zone)
