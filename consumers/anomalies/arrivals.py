"""What arrived in each step of a windowed sum, recovered from the sum alone (no I/O, no clock).

A windowed sum (``corridor_shipments_15m``: the shipments of the last 15 minutes) hides when
its items came: a corridor that closes takes 15 minutes to drain to zero, and a drop of a
third of it is within a normal day's noise. The arrivals themselves fall to zero at once.

Sampled once a step, a window of ``W`` steps changes by what arrived in the last step minus
what arrived ``W`` steps earlier: ``d(i) = a(i) - a(i - W)``. So along each residue class
``i mod W`` the arrivals are a running sum of the changes plus one unknown, the arrival of that
class inside the first window seen. Arrivals are never negative, so that unknown is at least
minus the running sum's minimum; taking exactly that gives the smallest arrivals consistent
with every value so far (``arrived``), each below the truth by a constant of its class. The
constants add up to what the first window held and the reconstruction does not explain, which
is known at every step (``slack`` = the window's value minus the reconstructed arrivals in it);
they fall to zero for a class as soon as one of its steps truly had no arrival (nights do that
for most keys), and then the reconstruction is exact. A closure is such a run of empty steps,
so it is recovered exactly whatever came before.

On a busy corridor no class meets an empty step all day, so the slack stays at the window's
whole floor and a closure's first empty minutes stay hidden under it. ``recent`` estimates
what the last steps held from the stretch itself: every class of the window sees the same
traffic, so a class's arrivals average the stretch's (the mean value over ``W``), and its
step differs from its own earlier steps by exactly the change of its running sum. The
estimate's standard error comes from how much those earlier steps spread.

``rate_score`` judges a total against its usual level as an overdispersed count (quasi-Poisson
deviance): items come in bursts (trucks of one shipper), so both are divided by the dispersion
(variance / mean of the total) before the Poisson deviance is taken; an empty stretch scores
``-sqrt(2 x expected / D)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Sums are in exact units (counts, cents / 100); what is below this is float rounding.
_EPS = 1e-6


@dataclass(slots=True)
class Arrivals:
    """Follows one windowed sum of ``width`` steps; ``step(value)`` once per step."""

    width: int
    _runs: list[float] = field(init=False)
    _lows: list[float] = field(init=False)
    _recent: list[float] = field(init=False)  # reconstructed arrivals, by residue class
    # Per residue class: sum, sum of squares and count of its running sums (``_runs``: the last).
    _run_sums: list[float] = field(init=False)
    _run_squares: list[float] = field(init=False)
    _run_counts: list[int] = field(init=False)
    _value_sum: float = 0.0
    _last: float | None = None
    _seen: int = 0
    _empty_run: int = 0
    _slack: float = 0.0

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"width must be >= 1 (got {self.width})")
        self.reset()

    def reset(self) -> None:
        """Forget everything (a gap or a cut: the next value starts a new stretch)."""
        self._runs = [0.0] * self.width
        self._lows = [0.0] * self.width
        self._recent = [0.0] * self.width
        self._run_sums = [0.0] * self.width
        self._run_squares = [0.0] * self.width
        self._run_counts = [0] * self.width
        self._value_sum = 0.0
        self._last = None
        self._seen = 0
        self._empty_run = 0
        self._slack = 0.0

    @property
    def steps(self) -> int:
        """Values seen since the stretch began."""
        return self._seen

    @property
    def empty_run(self) -> int:
        """The steps in a row, up to the last, in which nothing was recovered."""
        return self._empty_run

    @property
    def slack(self) -> float:
        """The last step's slack."""
        return self._slack

    def step(self, value: float) -> tuple[float, float]:
        """``(arrived, slack)`` for this step: the smallest arrival consistent with every value
        of the stretch, and how much of the window's value is not yet accounted for."""
        arrived, slack = self._place(value)
        self._empty_run = self._empty_run + 1 if arrived == 0 else 0
        self._slack = slack
        return arrived, slack

    def recent(self, n: int, min_earlier: int = 2) -> list[tuple[float, float]]:
        """``(estimate, standard error)`` of what arrived in the last 1, 2, ... ``n`` steps
        (``n`` at most the width), stopping before a step whose class has fewer than
        ``min_earlier`` earlier steps (at least 2: one says nothing of the spread).

        For a step of class k: the stretch's mean arrival per step (the mean value / W) plus
        how far its running sum is above the class's earlier running sums on average. Exact
        when every step brings the same; the error is the spread of the class's earlier
        arrivals over the square root of how many there were."""
        out: list[tuple[float, float]] = []
        if self.width == 1 or self._seen <= 1:
            return out
        mean_arrival = self._value_sum / self._seen / self.width
        estimate, variance = 0.0, 0.0
        for back in range(min(n, self.width, self._seen - 1)):
            r = (self._seen - 1 - back) % self.width
            earlier = self._run_counts[r] - 1
            if earlier < max(2, min_earlier):
                break
            run = self._runs[r]
            mean = (self._run_sums[r] - run) / earlier
            square = self._run_squares[r] - run * run
            spread = max(0.0, (square - earlier * mean * mean) / (earlier - 1))
            estimate += mean_arrival + run - mean
            variance += spread / earlier
            out.append((estimate, math.sqrt(variance)))
        return out

    def _place(self, value: float) -> tuple[float, float]:
        self._seen += 1
        self._value_sum += value
        if self.width == 1:  # the window is the step: its value is what arrived
            return value, 0.0
        if self._last is None:  # the first value: nothing of it is placed yet
            self._last = value
            return 0.0, value
        r = (self._seen - 1) % self.width
        run = self._runs[r] + value - self._last
        self._last = value
        self._runs[r] = run
        self._run_sums[r] += run
        self._run_squares[r] += run * run
        self._run_counts[r] += 1
        if run < self._lows[r]:
            self._lows[r] = run
        arrived = run - self._lows[r]
        self._recent[r] = arrived
        slack = value - sum(self._recent)
        return arrived, slack if slack > _EPS else 0.0


def deviance(x: float, mu: float) -> float:
    """The Poisson deviance ``2 (x ln(x / mu) - x + mu)`` of ``x`` against mean ``mu``."""
    if mu <= 0:
        return 0.0 if x <= 0 else math.inf
    if x <= 0:
        return 2 * mu
    return 2 * (x * math.log(x / mu) - x + mu)


def rate_score(low: float, high: float, expected: float, dispersion: float) -> float:
    """Signed score of a total known to lie in [``low``, ``high``] against ``expected``, items
    coming in waves of ``dispersion`` (variance / mean): the deviance residual of the bound
    nearest the usual level, ``-sqrt(2 x expected / dispersion)`` for a total of exactly 0,
    and 0 when the range holds the usual level."""
    d = max(dispersion, 1e-12)
    if high < expected:
        return -math.sqrt(deviance(high / d, expected / d))
    if low > expected:
        return math.sqrt(deviance(low / d, expected / d))
    return 0.0
