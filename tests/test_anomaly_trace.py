"""benchmarks/anomaly_trace.py: the recorded judgements, replayed under other thresholds, give
exactly the call-outs of a full detector pass with those thresholds (the full pass is the
independent model here: it runs the share threshold and the hysteresis itself)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from benchmarks.anomaly_days import run_days
from benchmarks.anomaly_trace import record, replay
from consumers.anomalies.detector import Callout, Detector, DetectorConfig
from pulseboard.indicators import Record

HOUR_DAY = DetectorConfig(period_s=3600, offset_s=0, offsets=(0,), min_days=3, max_days=3)
CORRIDORS = {"A>B": 6.0, "C>D": 3.0, "E>F": 0.02}  # arrivals a minute; E>F is below 1%
REGIONS = {"520100": 40.0, "520200": 25.0}


def simulated_days(seed: int, days: int) -> list[list[list[Record]]]:
    """Minutes of records: 15-minute corridor counts of random arrivals (closed for 20
    minutes on the last day), and per-minute regional counts (halved for 10 minutes)."""
    rng = random.Random(seed)
    recent: dict[str, list[int]] = {k: [] for k in CORRIDORS}
    out = []
    for day in range(days):
        minutes = []
        for m in range(60):
            t = day * 3600 + m * 60
            last = day == days - 1
            recs = []
            for key, rate in CORRIDORS.items():
                closed = last and key == "A>B" and 20 <= m < 40
                n = 0 if closed else sum(rng.random() < rate / 8 for _ in range(8))
                n *= rng.choice((1, 1, 1, 3))  # waves
                recent[key] = (recent[key] + [n])[-15:]
                recs.append(Record(t, "corridor_shipments_15m", key, sum(recent[key])))
            for key, rate in REGIONS.items():
                low = last and key == "520100" and 10 <= m < 20
                mean = rate / 2 if low else rate
                recs.append(Record(t, "shipments_1m", key, round(rng.gauss(mean, mean**0.5))))
            minutes.append(recs)
        out.append(minutes)
    return out


def full_pass(days: list[list[list[Record]]], config: DetectorConfig) -> list[Callout]:
    return run_days(Detector(config), days)


def without_value(callouts: list[dict]) -> list[dict]:
    return [{k: v for k, v in c.items() if k != "value"} for c in callouts]


@pytest.mark.parametrize(
    "thresholds",
    [
        {},
        {"k_open": 3.0, "k_close": 1.5},
        {"k_rate": 2.5, "k_rate_close": 1.0},
        # A>B (6 a minute) dense, C>D (3) not: the replay must apply the gate as a pass does
        # (A>B's closure opens at 2.5, three minutes before k_rate 6 alone would open it).
        {"k_rate": 6.0, "k_rate_dense": 2.5, "dense_per_step": 4.0, "k_rate_close": 1.0},
        {"k_rate": 1.5, "k_rate_dense": 6.0, "dense_per_step": 4.0, "k_rate_close": 1.0},
        {"k_open": 2.0, "k_close": 1.0, "k_rate": 2.0, "k_rate_close": 1.0, "min_rel": 0.1},
    ],
)
def test_replayed_thresholds_give_the_full_pass_callouts(thresholds):
    days = simulated_days(7, 6)
    trace = record(days, HOUR_DAY)
    config = replace(HOUR_DAY, **thresholds)
    expected = full_pass(days, config)
    got, opened = replay(trace, config)
    assert without_value(got) == without_value(expected)
    assert [o.callout for o in opened] == [c for c in got if c["state"] == "opened"]
    assert all(o.by_level or o.by_empty for o in opened)


def test_the_days_call_something_out_so_the_comparison_can_fail():
    days = simulated_days(7, 6)
    loose = replace(HOUR_DAY, k_open=2.0, k_close=1.0, k_rate=2.0, k_rate_close=1.0)
    opened = [c for c in full_pass(days, loose) if c["state"] == "opened"]
    assert {c["key"] for c in opened} >= {"A>B", "520100"}
