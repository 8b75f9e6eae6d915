"""Arrivals recovered from a windowed sum, and the empty-run test (consumers/anomalies/arrivals.py
and the detector's use of it), against hand-worked tables and the true arrivals they came from."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from consumers.anomalies.arrivals import Arrivals, deviance, rate_score
from consumers.anomalies.detector import Band, Detector, DetectorConfig
from pulseboard.indicators import Record


def test_a_three_step_window_by_hand():
    # True arrivals by step: -2: 1, -1: 2, 0: 0 (the first window, value 3), then 3, 0, 1, 0, 0, 2.
    # Values: 3, 5, 3, 4, 1, 1, 2. Step 1 gives 2 (3 less the unknown 1 of its class), step 2
    # gives 0 (its class falls to its minimum: exact), step 4 is 0 and makes class 1 exact,
    # after which the window's value is all accounted for.
    arrivals = Arrivals(3)
    got = [arrivals.step(v) for v in (3, 5, 3, 4, 1, 1, 2)]
    assert got == [(0, 3), (2, 3), (0, 1), (1, 1), (0, 0), (0, 0), (2, 0)]
    assert arrivals.steps == 7


def test_never_above_the_truth_and_exact_once_the_slack_is_gone():
    rng = random.Random(7)
    width = 15
    for _ in range(50):
        # Bursty arrivals with quiet stretches, as trucks come.
        truth = [rng.choice((0, 0, 1, 3, 8)) * rng.randint(0, 4) for _ in range(400)]
        arrivals = Arrivals(width)
        got = []
        for i in range(width - 1, len(truth)):
            value = sum(truth[i - width + 1 : i + 1])
            arrived, slack = arrivals.step(value)
            got.append(arrived)
            if i == width - 1:
                assert (arrived, slack) == (0, value)
                continue
            assert arrived <= truth[i]
            window = truth[i - width + 1 : i + 1]
            recent = got[-width:] if len(got) >= width else [0] * (width - len(got)) + got
            assert slack == pytest.approx(sum(window) - sum(recent))
            if slack == 0:
                assert recent == window


def test_the_recent_estimate_by_hand():
    # A two-step window. True arrivals by step: -1: 3, 0: 5, then 4, 6, 2, 4, 6, 0; values
    # 8, 9, 10, 8, 6, 10, 6. The mean arrival over the stretch is 57 / 7 / 2 = 4.0714. Step 6
    # (class of steps 2, 4, 6: earlier truths 6 and 4, mean 5, spread 1) is estimated at its
    # truth 0 + (4.0714 - 5); step 5 (class of steps 1, 3, 5: earlier 4 and 2, mean 3) at
    # 6 + (4.0714 - 3). Each class's earlier steps vary by (1 + 1) / (2 - 1) = 2, so the
    # standard errors are sqrt(2 / 2) = 1 for one step and sqrt(2) for the two.
    arrivals = Arrivals(2)
    for v in (8, 9, 10, 8, 6, 10, 6):
        arrivals.step(v)
    mean = 57 / 14
    one, two = arrivals.recent(3)  # no more steps than the window
    assert one == pytest.approx((0 + mean - 5, 1.0))
    assert two == pytest.approx((0 + mean - 5 + 6 + mean - 3, math.sqrt(2)))
    assert arrivals.recent(1) == [one]
    assert arrivals.recent(2, min_earlier=3) == []  # two earlier steps are not enough
    # Before a class has two earlier steps there is nothing to compare with.
    fresh = Arrivals(2)
    for v in (8, 9, 10, 8, 6):
        fresh.step(v)
    assert fresh.recent(2) == []


def test_the_recent_estimate_holds_the_truth_within_its_error():
    # Trucks of 3-14 consignments, about two a minute, over a 15-minute window; after four
    # hours, the estimate of the last n minutes (n = 1..15) against what truly came.
    rng = random.Random(11)
    width, inside, cases = 15, 0, 0
    for _ in range(40):
        truth = [
            sum(rng.randint(3, 14) for _ in range(rng.choice((0, 1, 2, 2, 3, 4))))
            for _ in range(260)
        ]
        arrivals = Arrivals(width)
        for i in range(width - 1, len(truth)):
            arrivals.step(sum(truth[i - width + 1 : i + 1]))
        tails = arrivals.recent(width)
        assert len(tails) == width
        for n, (estimate, error) in enumerate(tails, 1):
            cases += 1
            inside += abs(estimate - sum(truth[-n:])) <= 2 * error
    assert inside / cases >= 0.9


def test_a_one_step_window_is_its_own_arrival():
    arrivals = Arrivals(1)
    assert [arrivals.step(v) for v in (4, 0, 7)] == [(4, 0), (0, 0), (7, 0)]


def test_reset_forgets_the_stretch():
    arrivals = Arrivals(3)
    for v in (3, 5, 3):
        arrivals.step(v)
    arrivals.reset()
    assert arrivals.steps == 0
    assert arrivals.step(9) == (0, 9)


def test_scores_by_hand():
    assert deviance(0, 4) == 8
    assert deviance(4, 4) == 0
    assert deviance(8, 4) == pytest.approx(2 * (8 * math.log(2) - 4))
    # Eight due in bursts of two: four bursts missing, as likely as a normal at -sqrt(8).
    assert rate_score(0, 0, 8, 2) == pytest.approx(-math.sqrt(8))
    # At most 2 arrived (1 burst) where 4 bursts were due: -sqrt(2 (1 ln(1/4) - 1 + 4)).
    assert rate_score(0, 2, 8, 2) == pytest.approx(-math.sqrt(2 * (math.log(0.25) + 3)))
    assert rate_score(16, 20, 8, 2) == pytest.approx(math.sqrt(2 * (8 * math.log(2) - 4)))
    assert rate_score(4, 12, 8, 2) == 0
    with pytest.raises(ValueError):
        Arrivals(0)


# A corridor whose trucks come in a four-minute rhythm, 10, 0, 20, 10 a minute (a minute with
# none in every fourth: every class of the 15-minute window meets a zero, so the recovery is
# exact after the first hour). "Days" of an hour; the usual level at the same minute of the
# three days before.
HOUR = DetectorConfig(
    watched=("corridor_shipments_15m",),
    rate_watched=("corridor_shipments_15m",),
    period_s=3600,
    offset_s=0,
    offsets=(0,),
    min_days=3,
    max_days=3,
    k_rate=6.0,
    k_rate_close=3.0,
    k_rate_dense=6.0,  # one threshold for every corridor, unless a test sets its own
)
RHYTHM = (10, 0, 20, 10)
CORRIDOR = "520300>520100"


def _corridor(hours: int, closed_from: int | None) -> list[Record]:
    def arrived(i: int) -> int:
        return 0 if closed_from is not None and i >= closed_from else RHYTHM[i % 4]

    return [
        Record(
            i * 60,
            "corridor_shipments_15m",
            CORRIDOR,
            sum(arrived(j) for j in range(i - 14, i + 1)),
        )
        for i in range(hours * 60)
    ]


def test_a_closure_is_called_out_once_its_empty_minutes_are_unlikely():
    # Closed from minute 30 of hour 4 (global minute 270, 270 % 4 == 2); minute 269 had none
    # anyway (rhythm), so the run is 2 at minute 270, 3 at 271, ... 6 at 274.
    # Usual level at a minute m: 160 - RHYTHM[(m + 1) % 4] (the phase seen 3 times, not 4, in
    # 15 minutes): 150, 150, 160, 140, 150 at minutes 30-34; per minute due: level / 15.
    # Waves: the 5-minute change of the sum is RHYTHM[m % 4] - RHYTHM[(m + 1) % 4], and less
    # the change 5 minutes before, 10, -30, 30, -10 for m % 4 = 0..3; over minutes 10..59 of
    # each past hour (12, 12, 13, 13 of them) the mean square is 25,000 / 50 = 500 and the
    # mean level 7,500 / 50 = 150, so the dispersion of a 5-minute total is
    # 500 / 4 / (5 x 150 / 15) = 2.5, plus 1% of the 5 minutes due.
    def score(run: int, level: float) -> float:
        due = level / 15
        return -math.sqrt(2 * run * due / (2.5 + 0.01 * 5 * due))

    assert score(2, 150) == pytest.approx(-3.65, abs=0.01)  # minute 270
    assert score(3, 150) == pytest.approx(-4.47, abs=0.01)  # minute 271
    assert score(4, 160) == pytest.approx(-5.30, abs=0.01)  # minute 272
    assert score(5, 140) == pytest.approx(-5.61, abs=0.01)  # minute 273
    out = Detector(HOUR).feed(_corridor(5, closed_from=4 * 60 + 30))
    opened = [c for c in out if c["state"] == "opened"]
    assert [(c["t"] // 60, c["key"]) for c in opened] == [(274, CORRIDOR)]
    assert opened[0]["score"] == pytest.approx(score(6, 150), abs=1e-3)  # -6.32


def test_the_same_rhythm_without_the_closure_gives_nothing():
    # Single empty minutes are the rhythm: at most 10.7 due in waves of ~3, score -2.65.
    det = Detector(HOUR)
    assert det.feed(_corridor(6, closed_from=None)) + det.flush() == []


def test_without_the_empty_run_test_the_level_does_not_see_it_in_half_an_hour():
    # The rhythm moves the 15-minute sum by 10, -20, 10, 0 a minute: its noise,
    # sqrt(15 / 2 x 150) = 33.5, puts 6 x that above the whole level of 150.
    config = replace(HOUR, rate_watched=())
    det = Detector(config)
    assert det.feed(_corridor(5, closed_from=4 * 60 + 30)) + det.flush() == []


def test_a_steady_ramp_of_the_day_is_not_waves():
    # Each hour the corridor's arrivals climb by one a minute (minute j of the hour brings j),
    # so from minute 30 on (lump_block 30) its 15-minute sum is 15 j - 105: every 5-minute
    # change is 75, and less the change before it, 0. The dispersion is the Poisson floor 1
    # plus 1% of the 5 minutes due (15 at 3 a minute): 1.15, not 75^2 / 2 / 15 = 187.5.
    config = replace(HOUR, lump_block=30)
    records = [
        Record(
            i * 60, "corridor_shipments_15m", CORRIDOR, sum(j % 60 for j in range(i - 14, i + 1))
        )
        for i in range(15, 5 * 60)
    ]
    det = Detector(config)
    det.feed(records)
    nk = ("corridor_shipments_15m", CORRIDOR)
    assert det.dispersion(nk, 4, 45, 3.0) == pytest.approx(1.15)


def test_a_busy_corridor_opens_at_the_lower_dense_threshold():
    # The closure above at k_rate 6 opens at minute 274 (score -6.32). With 4.5 where the usual
    # arrivals reach 10 a minute: the levels at minutes 270-272 are 150, 150, 160 (10 and more
    # a minute), so the runs of 2 and 3 (-3.65, -4.47) are short of it and the run of 4 at
    # minute 272 (-5.30) opens.
    dense = replace(HOUR, k_rate_dense=4.5, dense_per_step=10.0)
    opened = [c for c in Detector(dense).feed(_corridor(5, 4 * 60 + 30)) if c["state"] == "opened"]
    assert [c["t"] // 60 for c in opened] == [272]
    # A gate above the corridor's usual 9.3-10.7 a minute leaves it at k_rate: minute 274.
    sparse = replace(dense, dense_per_step=11.0)
    opened = [c for c in Detector(sparse).feed(_corridor(5, 4 * 60 + 30)) if c["state"] == "opened"]
    assert [c["t"] // 60 for c in opened] == [274]
    # The rhythm alone (single empty minutes, -2.65 at most) stays below the dense threshold.
    det = Detector(dense)
    assert det.feed(_corridor(6, closed_from=None)) + det.flush() == []


def test_a_corridor_that_never_empties_is_called_out_at_its_second_empty_minute():
    # Twenty shipments every minute: no class of the window ever meets an empty step, so the
    # slack stays at the whole window's 300 less what the closure has emptied, (15 - n) x 20
    # after n closed minutes, and alone would hide the closure until minute 11 of it (at most
    # 80 where 220 were due). The stretch's estimate of the closed minutes is 0 (every class
    # brought 20 before): due 20 a minute, waves none (dispersion floored at 1, plus 1% of the
    # 100 due in 5 minutes = 2), so a run of n scores -sqrt(2 x 20 n / 2): -4.47, then -6.32.
    def records(closed_from: int) -> list[Record]:
        return [
            Record(
                i * 60,
                "corridor_shipments_15m",
                CORRIDOR,
                20 * sum(j < closed_from for j in range(i - 14, i + 1)),
            )
            for i in range(5 * 60)
        ]

    opened = [c for c in Detector(HOUR).feed(records(4 * 60 + 30)) if c["state"] == "opened"]
    assert [c["t"] // 60 for c in opened] == [4 * 60 + 31]
    assert opened[0]["score"] == pytest.approx(-math.sqrt(40), abs=1e-3)


def test_the_dense_threshold_is_chosen_from_the_usual_arrivals_per_judgement():
    det = Detector(replace(HOUR, k_rate_dense=3.5, dense_per_step=2.0))
    corridor = ("corridor_shipments_15m", CORRIDOR)
    assert det.rate_threshold(corridor, Band(30.0, 1.0, 3)) == 3.5  # 2 a minute
    assert det.rate_threshold(corridor, Band(29.9, 1.0, 3)) == 6.0  # just under 2 a minute
    with pytest.raises(ValueError):
        replace(HOUR, k_rate_dense=2.0)  # below k_rate_close (3): what it opens is calm at once
