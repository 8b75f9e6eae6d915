"""One detector pass, many thresholds: the judgements recorded once, the hysteresis replayed.

A pass of the detector over 14 simulated days takes minutes, almost all of it in the usual
levels, the lumpiness and the empty runs; none of those depend on the thresholds (``k_open``,
``k_close``, ``k_rate``, ``k_rate_close``, ``k_rate_dense`` and its gate ``dense_per_step``
(read from the recorded usual level), ``k_rises``, ``min_rel``, the hysteresis counts).
``record`` runs the detector once with every key that has a usual level judged (no share
threshold) and keeps what each judgement hands to the hysteresis: value, expected, spread,
empty-run score. ``replay`` then feeds those to a fresh ``Detector``'s own ``_step`` (the
product's code, not a copy), applying the share threshold as ``Detector._judge`` does: a key
below its share of the indicator's total is skipped unless its call-out is open. The
call-outs are those of a full pass with the same configuration, as long as only the
thresholds above differ from the recorded one (``tests/test_anomaly_trace.py``).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, replace

from benchmarks.anomaly_days import run_days
from consumers.anomalies.detector import Band, Callout, Detector, DetectorConfig
from pulseboard.indicators import Record


@dataclass(slots=True)
class Trace:
    """Every judgement of keys with a usual level, in judgement order."""

    keys: list[tuple[str, str]] = field(default_factory=list)
    t: array = field(default_factory=lambda: array("q"))
    key: array = field(default_factory=lambda: array("l"))
    value: array = field(default_factory=lambda: array("d"))
    expected: array = field(default_factory=lambda: array("d"))
    spread: array = field(default_factory=lambda: array("d"))
    rise_spread: array = field(default_factory=lambda: array("d"))
    empty: array = field(default_factory=lambda: array("d"))


class _Recorder(Detector):
    """The detector with its hysteresis replaced by a record of what it would be given."""

    def __init__(self, config: DetectorConfig, trace: Trace) -> None:
        super().__init__(config)
        self.trace = trace
        self._index: dict[tuple[str, str], int] = {}

    def _step(
        self,
        t: int,
        nk: tuple[str, str],
        v: float,
        band: Band,
        empty: float,
        out: list[Callout],
    ) -> None:
        tr = self.trace
        i = self._index.get(nk)
        if i is None:
            i = self._index[nk] = len(tr.keys)
            tr.keys.append(nk)
        tr.t.append(t)
        tr.key.append(i)
        tr.value.append(v)
        tr.expected.append(band.expected)
        tr.spread.append(band.spread)
        tr.rise_spread.append(band.rise_spread)
        tr.empty.append(empty)


def record(days: list[list[list[Record]]], config: DetectorConfig) -> Trace:
    """The judgements of ``days`` (each a list of minutes' records), fed as ``run_days``
    feeds them."""
    trace = Trace()
    run_days(_Recorder(replace(config, min_share=0.0, min_shares=()), trace), days)
    return trace


@dataclass(frozen=True, slots=True)
class Opened:
    """An opened call-out and which test opened it."""

    callout: Callout
    by_level: bool
    by_empty: bool


def replay(trace: Trace, config: DetectorConfig) -> tuple[list[Callout], list[Opened]]:
    """The call-outs ``config`` gives on the recorded judgements, and each opening's test."""
    det = Detector(config)
    share_of = dict(config.min_shares)
    out: list[Callout] = []
    opened: list[Opened] = []
    keys = trace.keys
    n = len(trace.t)
    i = 0
    while i < n:
        t = trace.t[i]
        j = i
        totals: dict[str, float] = {}
        while j < n and trace.t[j] == t:
            name = keys[trace.key[j]][0]
            totals[name] = totals.get(name, 0.0) + abs(trace.expected[j])
            j += 1
        for r in range(i, j):
            nk = keys[trace.key[r]]
            expected = trace.expected[r]
            track = det._tracks.get(nk)
            is_open = track is not None and track.open
            share = share_of.get(nk[0], config.min_share)
            if abs(expected) < share * totals[nk[0]] and not is_open:
                continue
            before = len(out)
            v, band, empty = (
                trace.value[r],
                Band(expected, trace.spread[r], 0, trace.rise_spread[r]),
                trace.empty[r],
            )
            det._step(t, nk, v, band, empty, out)
            if len(out) > before and out[-1]["state"] == "opened":
                level = (v - expected) / band.spread_of(v)
                opened.append(Opened(out[-1], *det._opening_tests(nk, v, band, level, empty)))
        i = j
    return out, opened
