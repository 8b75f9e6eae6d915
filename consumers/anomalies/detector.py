"""Anomaly call-outs from final indicator records (no I/O, no clock).

``Detector.feed(records)`` takes the SPEC section 8 changelog in ``t`` order (one record at a
time or in batches; the slicing never matters) and returns the call-outs it decides, so the
same records always give the same call-outs, live or offline.

* **Cadence.** The watched (name, key)s are judged at every ``t`` divisible by ``cadence_s``
  (60: once per minute of event time), on their value as of that ``t`` (the changelog carried
  forward). A judgement at ``T`` is made once a record with ``t > T`` arrives (all of ``T``'s
  records are then in), or at ``flush``.
* **Usual level.** For the slot of the day (``T`` modulo ``period_s``, days starting at local
  midnight), the values seen at the same slot +- ``offsets`` on each of the last ``max_days``
  days. ``expected`` = their median; the spread = 1.4826 x their median absolute deviation,
  floored by ``rel_floor`` x expected and, for counts, by ``sqrt(expected + 1)`` (a Poisson
  count's own noise, which a few quiet days can under-state), and by how windowed sums move
  (``lumpiness``); rises are judged against a spread at least the past days' dispersion times
  the usual level (rare big items: a container worth millions at night).
* **Score** = (value - expected) / spread (the rise spread above ``expected``); ``low`` /
  ``high`` = expected -+ ``k_open`` x the spread of that side.
* **Learning.** A (name, key) is not judged until ``min_days`` past days hold values at its
  slot: no call-out can come from a baseline of one or two days.
* **Hysteresis.** A call-out opens after ``open_after`` judgements in a row with
  ``|score| >= k_open`` and a relative change of at least ``min_rel``; it is ``ongoing`` at
  every judgement after that, and closes after ``close_after`` judgements in a row with
  ``|score| < k_close``.
* **Gaps.** Judgements inside a gap of more than ``max_gap_s`` between two records are
  skipped (nothing was running); a record behind the position already judged is counted in
  ``behind`` and not used (the input must be in ``t`` order).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from consumers.anomalies.arrivals import Arrivals, rate_score
from pulseboard.indicators import KINDS, Kind, Record, Value

WATCHED: Final = (
    "corridor_shipments_15m",
    "dc_power_mw_5m",
    "export_value_by_country_1h",
    "sector_value_1h",
    "shipments_1m",
)
STATES: Final = ("opened", "ongoing", "closed")
MAD_TO_SD: Final = 1.4826  # a normal distribution's stddev per median absolute deviation
CST_OFFSET_S: Final = 8 * 3600
# The windows of the summed indicators (SPEC section 7), for ``Detector.lumpiness``.
WINDOW_S: Final = {
    "corridor_shipments_15m": 900,
    "shipments_1m": 60,
    "export_value_by_country_1h": 3600,
    "sector_value_1h": 3600,
    "tonnage_1h": 3600,
    "freight_value_1h": 3600,
    "export_value_1h": 3600,
    "deliveries_1h": 3600,
    "output_value_1h": 3600,
}


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    watched: tuple[str, ...] = WATCHED
    cadence_s: int = 60
    period_s: int = 86_400  # one "day" of the daily rhythm
    offset_s: int = CST_OFFSET_S  # days start at local (CST) midnight
    min_days: int = 3
    max_days: int = 7
    offsets: tuple[int, ...] = (-10, -5, 0, 5, 10)  # slots around the time of day
    k_open: float = 6.0
    k_close: float = 3.0
    min_rel: float = 0.3
    rel_floor: float = 0.1
    # Per indicator where the defaults do not fit: data-centre power is a smooth sum of a
    # few big loads (an outage of one of several is a 15-25% drop, and 2% is its noise).
    rel_floors: tuple[tuple[str, float], ...] = (("dc_power_mw_5m", 0.02),)
    min_rels: tuple[tuple[str, float], ...] = (("dc_power_mw_5m", 0.1),)
    # A key is judged only while its usual level is at least this share of its indicator's
    # total over all keys: a partner or corridor that sees a consignment now and then is
    # all bursts, no level.
    min_share: float = 0.01
    # ...except where the keys are not bursts but smooth sums: a region's data centres.
    min_shares: tuple[tuple[str, float], ...] = (("dc_power_mw_5m", 0.0),)
    # Counts: the spread is at least sqrt(count_floor x (expected + 1)), a Poisson count's.
    count_floor: float = 1.0
    # Lumpiness (see ``lumpiness``) is measured over blocks of this many judgements.
    lump_block: int = 60
    # The empty-run test (see ``empty``): the windowed sums named here are also judged on
    # how long nothing has arrived, recovered from the sum alone
    # (consumers/anomalies/arrivals.py), against the usual arrivals at that time of past days
    # (measured over spans of ``rate_span`` judgements).
    rate_watched: tuple[str, ...] = ("corridor_shipments_15m",)
    rate_span: int = 5
    # An empty run's total is at most its estimate from the stretch plus this many standard
    # errors (``Arrivals.recent``), or the slack where that is lower.
    recent_z: float = 2.0
    # ...once each class has this many earlier judgements in the stretch (after a midnight
    # cut two or three would say little of the spread, and nights are quiet).
    recent_min: int = 10
    k_rate: float = 5.0
    k_rate_close: float = 2.0
    # ...and at ``k_rate_dense`` where the usual arrivals are at least ``dense_per_step`` a
    # judgement: on a busy corridor a few empty minutes are decisive, while sparse ones
    # reach -4 on their own several times a day (docs/anomalies.md: the measured grid).
    k_rate_dense: float = 3.75
    dense_per_step: float = 9.0
    # Rises of the level test need this score where the default does not fit.
    k_rises: tuple[tuple[str, float], ...] = (("corridor_shipments_15m", 9.0),)
    open_after: int = 2
    close_after: int = 3
    max_gap_s: int = 3_600
    # "mad": median and MAD (the product's choice); "zscore": mean and standard deviation,
    # kept for the measured comparison (docs/anomalies.md).
    method: str = "mad"

    def __post_init__(self) -> None:
        for name in self.watched:
            if KINDS.get(name) not in (Kind.COUNT, Kind.SUM):
                raise ValueError(f"watched indicator {name!r} is not a count or a sum")
        if self.cadence_s < 1 or self.period_s % self.cadence_s:
            raise ValueError(
                f"cadence_s ({self.cadence_s}) must be >= 1 and divide period_s ({self.period_s})"
            )
        if not 1 <= self.min_days <= self.max_days:
            raise ValueError(f"need 1 <= min_days ({self.min_days}) <= max_days ({self.max_days})")
        if not 0 < self.k_close <= self.k_open:
            raise ValueError(f"need 0 < k_close ({self.k_close}) <= k_open ({self.k_open})")
        if self.recent_z < 0 or self.recent_min < 2:
            raise ValueError(
                f"need recent_z >= 0 (got {self.recent_z}) and recent_min >= 2"
                f" (got {self.recent_min})"
            )
        if self.method not in ("mad", "zscore"):
            raise ValueError(f"method must be mad or zscore (got {self.method!r})")
        if self.open_after < 1 or self.close_after < 1:
            raise ValueError("open_after and close_after must be >= 1")
        if not 0 < self.k_rate_close <= min(self.k_rate, self.k_rate_dense):
            raise ValueError(
                f"need 0 < k_rate_close ({self.k_rate_close}) <= k_rate ({self.k_rate})"
                f" and k_rate_dense ({self.k_rate_dense})"
            )
        for name in self.rate_watched:
            steps = WINDOW_S.get(name, 0) // self.cadence_s
            if name not in self.watched or steps < 1 or WINDOW_S[name] % self.cadence_s:
                raise ValueError(
                    f"rate-watched indicator {name!r} must be watched and a windowed sum whose"
                    f" window is a multiple of cadence_s ({self.cadence_s} s)"
                )
            if not 1 <= 2 * self.rate_span <= steps and steps > 1:
                raise ValueError(
                    f"rate_span ({self.rate_span}) must be 1..{steps // 2}, half the"
                    f" judgements in {name}'s window"
                )


# One output record: {"t","name","key","value","expected","low","high","score","state"},
# built in that key order, so it encodes as JSON in that order.
Callout = dict[str, object]


@dataclass(slots=True)
class _Track:
    """Where one (name, key) stands: hysteresis counters and whether it is called out."""

    open: bool = False
    hits: int = 0
    calm: int = 0


@dataclass(frozen=True, slots=True)
class Band:
    expected: float
    spread: float
    days: int
    # Rises are judged against at least this (``Detector.lumpiness``); 0: ``spread``.
    rise_spread: float = 0.0

    @property
    def above(self) -> float:
        """The spread of values above the usual level."""
        return max(self.spread, self.rise_spread)

    def spread_of(self, v: float) -> float:
        """The spread ``v`` is judged against."""
        return self.above if v > self.expected else self.spread


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def mean_std_band(samples: list[float], *, count: float, rel_floor: float, days: int) -> Band:
    """Mean and standard deviation of ``samples``, with the same floors as ``robust_band``."""
    n = len(samples)
    m = sum(samples) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in samples) / max(1, n - 1))
    spread = max(sd, rel_floor * abs(m), 1e-9)
    if count:
        spread = max(spread, math.sqrt(count * (m + 1.0)))
    return Band(m, spread, days)


def robust_band(samples: list[float], *, count: float, rel_floor: float, days: int) -> Band:
    """Median and MAD-based spread of ``samples``, with the floors described above."""
    m = median(samples)
    mad = median([abs(x - m) for x in samples])
    spread = max(MAD_TO_SD * mad, rel_floor * abs(m), 1e-9)
    if count:
        spread = max(spread, math.sqrt(count * (m + 1.0)))
    return Band(m, spread, days)


@dataclass(slots=True)
class DetectorStats:
    judged: int = 0
    learning: int = 0
    behind: int = 0
    skipped_gaps: int = 0


class Detector:
    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = c = config or DetectorConfig()
        self._watched = frozenset(c.watched)
        self._slots = c.period_s // c.cadence_s
        self.values: dict[tuple[str, str], Value] = {}  # carried forward, watched only
        # (name, key) -> day -> value at each slot of that day (0 where absent).
        self._history: dict[tuple[str, str], dict[int, array]] = {}
        self._judged_slots: dict[int, bytearray] = {}  # day -> 1 where the slot was judged
        self._tracks: dict[tuple[str, str], _Track] = {}
        # Per-indicator settings, looked up at every judgement.
        self._rel_floor = dict(c.rel_floors)
        self._min_rel = dict(c.min_rels)
        self._min_share = dict(c.min_shares)
        self._k_rise = dict(c.k_rises)
        # (name, key, day, block, span) -> (count, sum of values, sum of squared changes over
        # ``span`` judgements) on a past day: ``lumpiness`` (span 1) and ``dispersion``.
        self._changes: dict[
            tuple[tuple[str, str], int, int, int, bool], tuple[int, float, float] | None
        ] = {}
        # (name, key, day) -> the median dispersion of the days before it (``lumpiness``).
        self._dispersions: dict[tuple[tuple[str, str], int], float] = {}
        # The empty-run test: each rate-watched (name, key)'s arrivals (see arrivals.py).
        self._rate_watched = frozenset(c.rate_watched)
        self._arrivals: dict[tuple[str, str], Arrivals] = {}
        self._last_t: int | None = None  # greatest record t seen
        self._next: int | None = None  # next judgement T
        self.stats = DetectorStats()

    # ----------------------------------------------------------------- input

    def feed(self, records: Iterable[Record]) -> list[Callout]:
        out: list[Callout] = []
        watched = self._watched
        for rec in records:
            t = rec.t
            if self._last_t is not None and t < self._last_t:
                self.stats.behind += 1
                continue
            self._judge_before(t, out)
            self._last_t = t
            if rec.name in watched:
                self.values[(rec.name, rec.key)] = rec.value
        return out

    def cut(self, t: int) -> list[Callout]:
        """A history ``cut`` at t: no value carries across it."""
        out: list[Callout] = []
        self._judge_before(t, out)
        self.values = dict.fromkeys(self.values, 0)
        self._restart_arrivals()
        return out

    def flush(self, t: int | None = None) -> list[Callout]:
        """Judge every T up to ``t`` (default: the last record's t): the input has ended."""
        out: list[Callout] = []
        end = self._last_t if t is None else t
        if end is not None:
            self._judge_before(end + 1, out)
        return out

    # ----------------------------------------------------------------- judging

    def _judge_before(self, t: int, out: list[Callout]) -> None:
        """Judge every cadence T < t not judged yet (all records of T are in)."""
        cad = self.config.cadence_s
        if self._next is None:
            self._next = -(-t // cad) * cad  # first multiple at or after the first record
        if self._last_t is not None and t - self._last_t > self.config.max_gap_s:
            while self._next <= self._last_t:  # what the records before the gap decided
                self._judge(self._next, out)
                self._next += cad
            skipped = max(0, (t - self._next + cad - 1) // cad)
            self.stats.skipped_gaps += skipped
            self._restart_arrivals()
            self._next = -(-t // cad) * cad
            return
        while self._next < t:
            self._judge(self._next, out)
            self._next += cad

    def _restart_arrivals(self) -> None:
        """A cut or a gap: what the sums held before it says nothing about what arrives after."""
        for arrivals in self._arrivals.values():
            arrivals.reset()

    def _day_slot(self, t: int) -> tuple[int, int]:
        c = self.config
        day, within = divmod(t + c.offset_s, c.period_s)
        return day, within // c.cadence_s

    def _judge(self, t: int, out: list[Callout]) -> None:
        c = self.config
        day, slot = self._day_slot(t)
        judged = self._judged_slots.get(day)
        if judged is None:
            judged = self._judged_slots[day] = bytearray(self._slots)
            self._forget_before(day - c.max_days - 1)
        judged[slot] = 1
        bands: list[tuple[tuple[str, str], float, Band | None]] = []
        totals: dict[str, float] = {}
        for nk, value in self.values.items():
            v = float(value or 0)
            band = self.band(nk, day, slot)
            self._remember(nk, day, slot, v)
            if nk[0] in self._rate_watched:
                self._follow_arrivals(nk, v)
            bands.append((nk, v, band))
            if band is not None:
                totals[nk[0]] = totals.get(nk[0], 0.0) + abs(band.expected)
        for nk, v, band in bands:
            if band is None:
                self.stats.learning += 1
                continue
            track = self._tracks.get(nk)
            share = self._min_share.get(nk[0], c.min_share)
            if abs(band.expected) < share * totals[nk[0]] and not (track and track.open):
                continue  # too small to have a level (an open call-out still closes)
            self.stats.judged += 1
            empty = self.empty(nk, day, slot, band) if nk[0] in self._rate_watched else 0.0
            self._step(t, nk, v, band, empty, out)

    def band(self, nk: tuple[str, str], day: int, slot: int) -> Band | None:
        """The usual level of ``nk`` at (day, slot) from the days before ``day``, or None
        while learning."""
        c = self.config
        hist = self._history.get(nk, {})
        samples: list[float] = []
        days = 0
        n = self._slots
        for d in range(day - 1, day - c.max_days - 1, -1):
            used = False
            for o in c.offsets:
                dd, s = divmod(d * n + slot + o, n)
                if dd >= day:  # only what was before today: never the anomaly itself
                    continue
                judged = self._judged_slots.get(dd)
                if judged is None or not judged[s]:
                    continue
                row = hist.get(dd)
                samples.append(row[s] if row is not None else 0.0)
                used = True
            days += used
        if days < c.min_days:
            return None
        fit = robust_band if c.method == "mad" else mean_std_band
        count = c.count_floor if KINDS[nk[0]] is Kind.COUNT else 0.0
        rel_floor = self._rel_floor.get(nk[0], c.rel_floor)
        band = fit(samples, count=count, rel_floor=rel_floor, days=days)
        lump, rise = self.lumpiness(nk, day, slot, band.expected)
        spread = max(band.spread, lump)
        return Band(band.expected, spread, days, max(spread, rise))

    def lumpiness(
        self, nk: tuple[str, str], day: int, slot: int, expected: float
    ) -> tuple[float, float]:
        """(the noise of a windowed sum, the larger noise its rises are judged against).

        The noise, from how the sum moves from one judgement to the next: a sum over a window
        of W judgements, of items arriving independently, changes each step by (what
        arrived) - (what left), so Var(step) = 2 Var(one step's arrivals) and Var(sum) =
        W Var(one step's arrivals) = W/2 Var(step), whatever the items' sizes: bursts of
        shipments and containers worth millions included. Var(step) is the mean square step
        in the same hour of each past day; the median over days is taken.

        Rises: at least the day's dispersion times ``expected``. Where items are few (a
        partner's exports at night: one container on one night in three) the hour's median
        misses them, and one container worth millions would be called out each night it
        comes. Items of the same sizes arrive all day, only more or fewer an hour, so the
        variance over the mean of the sum (E[size^2] / E[size]) is the same at every hour: it
        is taken from the whole of each past day and scaled by the usual level at this hour.
        Only rises: a sum of rare big items has a long upper tail only (their absence cannot
        take it below 0), and a slump of a partner's daytime exports is judged on the hour's
        own noise."""
        steps = WINDOW_S.get(nk[0], 0) // self.config.cadence_s
        if steps == 0:
            return 0.0, 0.0
        block = slot // self.config.lump_block
        per_day = []
        for d in range(day - 1, day - self.config.max_days - 1, -1):
            got = self._block_changes(nk, d, block, 1)
            if got is not None:
                per_day.append(got[2] / got[0])  # the mean square step
        hour = steps / 2 * median(per_day) if per_day else 0.0
        rise = max(hour, self._day_dispersion(nk, day, steps) * max(expected, 0.0))
        return math.sqrt(hour), math.sqrt(rise)

    def _day_dispersion(self, nk: tuple[str, str], day: int, steps: int) -> float:
        """Var(sum) / mean(sum) of a windowed sum over whole past days (W/2 x the day's mean
        square step over its mean value), the median over the days before ``day``."""
        got = self._dispersions.get((nk, day))
        if got is not None:
            return got
        per_day = []
        blocks = -(-self._slots // self.config.lump_block)
        for d in range(day - 1, day - self.config.max_days - 1, -1):
            n, total, square = 0, 0.0, 0.0
            for block in range(blocks):
                b = self._block_changes(nk, d, block, 1)
                if b is not None:
                    n, total, square = n + b[0], total + b[1], square + b[2]
            if n and total > 0:
                per_day.append(steps / 2 * square / total)
        got = self._dispersions[(nk, day)] = median(per_day) if per_day else 0.0
        return got

    def _block_changes(
        self, nk: tuple[str, str], day: int, block: int, span: int, ramp_free: bool = False
    ) -> tuple[int, float, float] | None:
        """(count, sum of values, sum of squared ``span``-judgement changes) over the
        judged pairs of a block of a past day (cached: a past day no longer changes), or
        None where the day or the block holds none. ``ramp_free``: each change less the one
        before it (a steady rise or fall of the day cancels)."""
        key = (nk, day, block, span, ramp_free)
        if key in self._changes:
            return self._changes[key]
        judged = self._judged_slots.get(day)
        if judged is None:
            return None
        row = self._history.get(nk, {}).get(day)  # None: the value was 0 all day
        back = 2 * span if ramp_free else span
        lo = max(back, block * self.config.lump_block)
        hi = min(self._slots, block * self.config.lump_block + self.config.lump_block)
        n, total, square = 0, 0.0, 0.0
        for s in range(lo, hi):
            if judged[s] and judged[s - span] and judged[s - back]:
                n += 1
                if row is not None:
                    total += row[s]
                    change = row[s] - row[s - span]
                    if ramp_free:
                        change -= row[s - span] - row[s - back]
                    square += change**2
        got = (n, total, square) if n else None
        self._changes[key] = got
        return got

    # ----------------------------------------------------------------- arrivals

    def _follow_arrivals(self, nk: tuple[str, str], v: float) -> None:
        arrivals = self._arrivals.get(nk)
        if arrivals is None:
            steps = WINDOW_S[nk[0]] // self.config.cadence_s
            arrivals = self._arrivals[nk] = Arrivals(steps)
        arrivals.step(v)

    def empty(self, nk: tuple[str, str], day: int, slot: int, band: Band) -> float:
        """The score of the run of judgements in which nothing arrived, ending now.

        What arrived in the run is at most the slack (each step of it is its class's
        minimum, and a class is above its minimum by at most the slack; 0 once every class
        has met an empty step); due were ``n`` x the usual arrivals per judgement, the usual
        level over the window's judgements; items come in waves of ``dispersion``. The score
        is minus the deviance residual of that upper bound against what was due (0 when
        something arrived or the bound is not below it). Only empty runs are judged: a
        closure stops its corridor dead, while a partial dip and any rise are the level
        test's (a burst of one shipper's thirty trucks is normal traffic, heavier-tailed than
        a count model of past days allows).

        On a busy corridor no class ever empties, so the slack stays near the whole window
        and hides a closure's first minutes. Each tail of the run is therefore also judged on
        the stretch's estimate of it plus ``recent_z`` standard errors
        (``Arrivals.recent``); the score is the lowest."""
        arrivals = self._arrivals[nk]
        run = min(arrivals.empty_run, arrivals.width)
        if run == 0 or arrivals.steps <= run:
            return 0.0  # something arrived, or the run reaches back to the stretch's start
        per_step = band.expected / arrivals.width
        dispersion = self.dispersion(nk, day, slot, per_step)
        score = rate_score(0.0, arrivals.slack, run * per_step, dispersion)
        if arrivals.slack == 0:
            return min(0.0, score)  # exact: the whole run is the lowest, no estimate needed
        for n, (estimate, error) in enumerate(arrivals.recent(run, self.config.recent_min), 1):
            high = min(arrivals.slack, max(0.0, estimate + self.config.recent_z * error))
            score = min(score, rate_score(0.0, high, n * per_step, dispersion))
        return min(0.0, score)

    def dispersion(self, nk: tuple[str, str], day: int, slot: int, per_step: float) -> float:
        """Variance / mean of what arrives in ``rate_span`` judgements, from the past days'
        values in the same hour block: over S judgements a windowed sum of W changes by what
        came in them minus what left, the S-judgement totals now and W before. That change
        less the one S before it holds four totals, disjoint while W >= 2 S, so its mean
        square is four times the variance of an S-judgement total, and the day's steady
        rises and falls cancel (the morning's ramp in a single change read as waves twice
        their size, docs/anomalies.md). At one judgement's scale it would miss that trucks
        leave in waves lasting minutes. Floored at 1 for counts (Poisson), and widened by
        (``rel_floor`` x the span's due)^2 / due: a busier day is not an incident."""
        c = self.config
        block = slot // c.lump_block
        n, total, square = 0, 0.0, 0.0
        for d in range(day - 1, day - c.max_days - 1, -1):
            got = self._block_changes(nk, d, block, c.rate_span, ramp_free=True)
            if got is not None:
                n, total, square = n + got[0], total + got[1], square + got[2]
        due = c.rate_span * per_step
        measured = 0.0
        if n and total > 0:
            width = self._arrivals[nk].width
            span_mean = c.rate_span * (total / n) / width
            measured = square / n / 4 / span_mean
        floor = 1.0 if KINDS[nk[0]] is Kind.COUNT else 0.0
        rel_floor = self._rel_floor.get(nk[0], c.rel_floor)
        return max(measured, floor, 1e-12) + rel_floor**2 * due

    # ----------------------------------------------------------------- memory

    def _remember(self, nk: tuple[str, str], day: int, slot: int, v: float) -> None:
        if v == 0.0 and nk not in self._history:
            return
        days = self._history.setdefault(nk, {})
        row = days.get(day)
        if row is None:
            row = days[day] = array("d", bytes(8 * self._slots))
        row[slot] = v

    def _forget_before(self, day: int) -> None:
        for k in [k for k in self._changes if k[1] < day]:
            del self._changes[k]
        for dk in [dk for dk in self._dispersions if dk[1] < day]:
            del self._dispersions[dk]
        for d in [d for d in self._judged_slots if d < day]:
            del self._judged_slots[d]
        for days in self._history.values():
            for d in [d for d in days if d < day]:
                del days[d]

    def _step(
        self,
        t: int,
        nk: tuple[str, str],
        v: float,
        band: Band,
        empty: float,
        out: list[Callout],
    ) -> None:
        c = self.config
        track = self._tracks.get(nk)
        if track is None:
            track = self._tracks[nk] = _Track()
        level = (v - band.expected) / band.spread_of(v)
        # The score reported is the test's that is further past its own threshold.
        rate_k = self.rate_threshold(nk, band)
        score = level if abs(level) / c.k_open >= abs(empty) / rate_k else empty
        if not track.open:
            by_level, by_empty = self._opening_tests(nk, v, band, level, empty)
            # An empty run is its own persistence (every judgement of it had nothing), so
            # it opens at once; a level must be off ``open_after`` judgements in a row.
            if by_level or by_empty:
                track.hits += 1
                if track.hits >= c.open_after or by_empty:
                    track.open, track.hits, track.calm = True, 0, 0
                    out.append(self._callout(t, nk, v, band, score, "opened"))
            else:
                track.hits = 0
            return
        if abs(level) < c.k_close and abs(empty) < c.k_rate_close:
            track.calm += 1
            if track.calm >= c.close_after:
                track.open, track.calm = False, 0
                out.append(self._callout(t, nk, v, band, score, "closed"))
                return
        else:
            track.calm = 0
        out.append(self._callout(t, nk, v, band, score, "ongoing"))

    def _opening_tests(
        self, nk: tuple[str, str], v: float, band: Band, level: float, empty: float
    ) -> tuple[bool, bool]:
        """(the level test, the empty-run test), each past its own threshold to open."""
        c = self.config
        min_rel = self._min_rel.get(nk[0], c.min_rel)
        big = abs(v - band.expected) >= min_rel * max(abs(band.expected), 1e-9)
        k = self._k_rise.get(nk[0], c.k_open) if level > 0 else c.k_open
        return abs(level) >= k and big, abs(empty) >= self.rate_threshold(nk, band)

    def rate_threshold(self, nk: tuple[str, str], band: Band) -> float:
        """The empty-run score that opens: ``k_rate_dense`` where the usual arrivals per
        judgement (the usual level over the window's judgements) reach ``dense_per_step``."""
        c = self.config
        steps = WINDOW_S.get(nk[0], 0) // c.cadence_s
        if steps and band.expected / steps >= c.dense_per_step:
            return c.k_rate_dense
        return c.k_rate

    def _callout(
        self, t: int, nk: tuple[str, str], v: float, band: Band, score: float, state: str
    ) -> Callout:
        k = self.config.k_open
        value = self.values.get(nk)
        return Callout(
            t=t,
            name=nk[0],
            key=nk[1],
            value=value if value is not None else 0,
            expected=_round(band.expected),
            low=_round(max(0.0, band.expected - k * band.spread)),
            high=_round(band.expected + k * band.above),
            score=round(score, 3),
            state=state,
        )

    # ----------------------------------------------------------------- views

    @property
    def active(self) -> list[tuple[str, str]]:
        """The (name, key)s called out now."""
        return sorted(nk for nk, tr in self._tracks.items() if tr.open)

    def learning(self) -> bool:
        """True until ``min_days`` days have been judged before the current one."""
        if self._next is None:
            return True
        day, _ = self._day_slot(self._next)
        return sum(1 for d in self._judged_slots if d < day) < self.config.min_days


def _round(x: float) -> float:
    return round(x, 6)
