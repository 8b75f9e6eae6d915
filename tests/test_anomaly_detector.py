"""The anomaly detector (consumers/anomalies/detector.py) against hand-worked tables.

A small "day" keeps the tables readable: period 600 s, one judgement a minute, so a day has
10 slots; the usual level is taken at the same slot only (offsets (0,)) on the 3 previous
days. Expected values are worked out by hand from docs/anomalies.md's definitions:
expected = median, spread = max(1.4826 x MAD, 5% of expected, sqrt(expected + 1) for counts,
sqrt(W/2 x mean square minute step) of the past days: 0 for the flat past days used here).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from consumers.anomalies.detector import Detector, DetectorConfig, median
from consumers.anomalies.follow import Follower
from pulseboard.history.codec import Begin, Cut, Data
from pulseboard.indicators import Record

SMALL = DetectorConfig(
    period_s=600,
    offset_s=0,
    cadence_s=60,
    offsets=(0,),
    min_days=3,
    max_days=3,
    k_open=3.0,
    k_close=1.5,
    open_after=2,
    close_after=2,
    rel_floor=0.05,
)
NAME, KEY = "shipments_1m", "520100"


def day_records(day: int, values: list[int], name: str = NAME, key: str = KEY) -> list[Record]:
    return [Record(day * 600 + slot * 60, name, key, v) for slot, v in enumerate(values)]


def run(days: list[list[int]], config: DetectorConfig = SMALL) -> list[dict]:
    det = Detector(config)
    out = []
    for d, values in enumerate(days):
        out += det.feed(day_records(d, values))
    return out + det.flush()


USUAL = [[100] * 10, [104] * 10, [96] * 10]


def test_a_drop_opens_after_two_judgements_goes_on_and_closes_after_two_calm_ones():
    # Past days at every slot: 100, 104, 96 -> median 100, deviations 0, 4, 4 -> MAD 4,
    # 1.4826 * 4 = 5.93; 5% of 100 = 5; sqrt(101) = 10.0499 (the count floor wins).
    spread = math.sqrt(101)
    today = [100, 60, 58, 61, 100, 100, 100, 100, 100, 100]
    out = run([*USUAL, today])
    assert [(c["t"], c["state"], c["value"]) for c in out] == [
        (3 * 600 + 2 * 60, "opened", 58),  # 60 is one hit (score -3.98), 58 the second
        (3 * 600 + 3 * 60, "ongoing", 61),
        (3 * 600 + 4 * 60, "ongoing", 100),  # first calm judgement
        (3 * 600 + 5 * 60, "closed", 100),  # second calm judgement
    ]
    opened = out[0]
    assert opened["name"] == NAME and opened["key"] == KEY
    assert opened["expected"] == 100
    assert opened["low"] == pytest.approx(100 - 3 * spread, abs=1e-6)
    assert opened["high"] == pytest.approx(100 + 3 * spread, abs=1e-6)
    assert opened["score"] == pytest.approx((58 - 100) / spread, abs=1e-3)
    assert list(opened) == [
        "t",
        "name",
        "key",
        "value",
        "expected",
        "low",
        "high",
        "score",
        "state",
    ]


def test_a_single_outlying_judgement_does_not_open():
    today = [100, 60, 100, 60, 100, 60, 100, 100, 100, 100]
    assert run([*USUAL, today]) == []


def test_a_quiet_day_gives_no_callout():
    assert run([*USUAL, [101, 99, 103, 97, 100, 108, 92, 100, 105, 95]]) == []


def test_while_learning_nothing_is_judged_however_far_off():
    # Only two past days on day 2: even a drop to 0 is not called out.
    assert run([[100] * 10, [100] * 10, [0] * 10]) == []


def test_an_incident_in_a_past_day_does_not_move_the_usual_level():
    # Day 1 was an outage (0 all day). Median of 100, 0, 104 is still 100; MAD: deviations
    # 0, 100, 4 -> 4. So a drop to 50 today is still called out.
    out = run([[100] * 10, [0] * 10, [104] * 10, [100, 50, 50, 50, 100, 100, 100, 100, 100, 100]])
    assert [(c["t"] - 1800, c["state"]) for c in out][:1] == [(120, "opened")]
    assert out[0]["expected"] == 100


def test_a_small_relative_change_is_not_called_out_even_when_its_score_is_large():
    # A sum indicator (no count floor): past 1000, 1000, 1000 -> MAD 0, spread = 5% = 50.
    # 800 is score -4 but only 20% below usual (< min_rel 30%): no call-out; 600 (40%) is.
    name, key = "sector_value_1h", "520300|liquor"
    det = Detector(SMALL)
    out = []
    for d in range(3):
        out += det.feed(day_records(d, [1000] * 10, name, key))
    out += det.feed(
        day_records(3, [800, 800, 800, 600, 600, 1000, 1000, 1000, 1000, 1000], name, key)
    )
    out += det.flush()
    assert [(c["t"] - 1800, c["state"], c["value"]) for c in out] == [
        (240, "opened", 600),
        (300, "ongoing", 1000),
        (360, "closed", 1000),
    ]
    assert out[0]["low"] == 850 and out[0]["high"] == 1150


def test_the_value_carries_forward_between_records_and_judgements_are_once_a_minute():
    # Records only when the value changes (a changelog): 100 at the start of each quiet
    # day, 20 at day 3 minute 1 and nothing after: every later minute is judged on 20.
    det = Detector(SMALL)
    out = []
    for d in range(3):
        out += det.feed([Record(d * 600, NAME, KEY, 100)])
    out += det.feed([Record(1800, NAME, KEY, 100), Record(1800 + 61, NAME, KEY, 20)])
    out += det.flush(1800 + 599)
    # Minute 1 (T=1860) still sees 100 (the 20 arrives at 1861); 20 from T=1920 on.
    assert [(c["t"] - 1800, c["state"]) for c in out] == [
        (180, "opened"),
        *[(60 * m, "ongoing") for m in range(4, 10)],
    ]


def test_records_out_of_order_are_counted_and_not_used():
    det = Detector(SMALL)
    det.feed([Record(100, NAME, KEY, 5)])
    det.feed([Record(50, NAME, KEY, 7)])
    assert det.stats.behind == 1
    assert det.values[(NAME, KEY)] == 5


def test_same_records_in_any_slicing_give_the_same_callouts():
    records = [
        r for d, v in enumerate([*USUAL, [100, 60, 58, 61, 100] * 2]) for r in day_records(d, v)
    ]
    whole = Detector(SMALL)
    a = whole.feed(records) + whole.flush()
    one_by_one = Detector(SMALL)
    b = [c for r in records for c in one_by_one.feed([r])] + one_by_one.flush()
    assert a == b and a


def test_median_by_hand():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_bad_configuration_fails_fast():
    with pytest.raises(ValueError, match="not a count or a sum"):
        DetectorConfig(watched=("on_time_rate_1h",))
    with pytest.raises(ValueError, match="divide"):
        DetectorConfig(cadence_s=7)
    with pytest.raises(ValueError, match="k_close"):
        DetectorConfig(k_open=2.0, k_close=3.0)


def test_follower_applies_the_current_generation_cuts_and_skips_what_was_published():
    msgs = [Data(None, [(d * 600 + s * 60, NAME, KEY, 100) for s in range(10)]) for d in range(3)]
    drop = [(1800 + s * 60, NAME, KEY, v) for s, v in enumerate([100, 60, 58, 61, 100, 100, 100])]
    f = Follower(SMALL)
    out = [c for m in msgs for c in f.apply(m)] + f.apply(Data(None, drop))
    out += f.apply(Cut(None, 1800 + 600))
    assert [c["state"] for c in out] == ["opened", "ongoing", "ongoing", "closed"]
    # A restarted service that already published up to the "ongoing" at 1980 hands out
    # only what came after it.
    again = Follower(SMALL, published_until=1800 + 180)
    out2 = [c for m in [*msgs, Data(None, drop), Cut(None, 2400)] for c in again.apply(m)]
    assert out2 == out[2:]
    # A replayed session's new generation starts over; data of another generation is stray.
    g = Follower(SMALL)
    assert g.apply(Begin("g1")) == [] and g.apply(Data("g0", drop)) == []
    assert g.skipped_messages == 1


def test_a_rise_in_a_quiet_hour_takes_the_days_dispersion_times_its_usual_level():
    # Two "hours" of 5 judgements (lump_block 5). Past days: 10 in the first (it never moves:
    # its own mean square step is 0), then 90, 110, 90, 110, 90. Over the day (slots 1-9) the
    # steps are 0, 0, 0, 0, 80, 20, -20, 20, -20: square sum 8,000; the values sum to
    # 40 + 490 = 530; the dispersion Var / mean = 1/2 x 8,000 / 530 = 7.547. At a quiet slot
    # (usual 10) the spread is sqrt(7.547 x 10) = 8.69, not the Poisson floor sqrt(11) = 3.32:
    # 30 scores 2.30 (6.03 against the floor) and is no call-out; 50 scores 4.60 and is one.
    config = replace(SMALL, lump_block=5)
    past = [[10, 10, 10, 10, 10, 90, 110, 90, 110, 90]] * 3
    assert run([*past, [10, 10, 30, 30, 10, 90, 110, 90, 110, 90]], config) == []
    out = run([*past, [10, 10, 50, 50, 10, 90, 110, 90, 110, 90]], config)
    assert [(c["t"] - 1800, c["state"]) for c in out][:1] == [(180, "opened")]
    spread = math.sqrt(4000 / 530 * 10)
    assert out[0]["expected"] == 10
    assert out[0]["high"] == pytest.approx(10 + 3 * spread, abs=1e-6)
    assert out[0]["score"] == pytest.approx(40 / spread, abs=1e-3)
    # A drop is judged on the hour's own noise (the Poisson floor here): two judgements of 0
    # score -10 / sqrt(11) = -3.015 and open; the low bound is 10 - 3 sqrt(11) = 0.050.
    out = run([*past, [10, 10, 0, 0, 10, 90, 110, 90, 110, 90]], config)
    assert [(c["t"] - 1800, c["state"]) for c in out][:1] == [(180, "opened")]
    assert out[0]["score"] == pytest.approx(-10 / math.sqrt(11), abs=1e-3)
    assert out[0]["low"] == pytest.approx(10 - 3 * math.sqrt(11), abs=1e-6)


def test_lumpiness_widens_the_band_from_how_the_past_days_moved_minute_to_minute():
    # Past days alternate 90, 110, ...: every minute step is +-20, mean square 400. For a
    # one-minute window (W = 1 judgement) the hour's spread is sqrt(1/2 x 400) = 14.14, above
    # the Poisson floor sqrt(110 + 1) = 10.54 and 5% of 110 = 5.5 (MAD is 0: same every day).
    # The day's dispersion (one block here: slots 1-9, square sum 9 x 400 = 3,600, values
    # 5 x 110 + 4 x 90 = 910) is 1/2 x 3,600 / 910 = 1.978; at a slot whose usual is 110
    # it gives sqrt(1.978 x 110) = 14.75, the larger: the spread.
    alternating = [90, 110] * 5
    out = run([alternating] * 3 + [[90, 110, 90, 110, 40, 40, 90, 110, 90, 110]])
    assert [(c["t"] - 1800, c["state"]) for c in out][:1] == [(300, "opened")]
    assert out[0]["expected"] == 110
    assert out[0]["high"] == pytest.approx(110 + 3 * math.sqrt(1800 / 910 * 110), abs=1e-6)
