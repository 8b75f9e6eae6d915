"""The aggregator's pacing decisions (consumers/aggregate/pacing.py), with hand-worked
times in milliseconds."""

import math

import pytest

from consumers.aggregate.pacing import HELD_RECHECK_MS, Pacer, poll_timeout_ms


def test_the_poll_waits_only_until_the_next_publication_is_due():
    assert poll_timeout_ms(1000.0, 1030.0, idle_ms=100, holding=False) == 30
    assert poll_timeout_ms(1000.0, 1030.2, idle_ms=100, holding=False) == 31  # never early
    assert poll_timeout_ms(1000.0, 1500.0, idle_ms=100, holding=False) == 100
    assert poll_timeout_ms(1000.0, 990.0, idle_ms=100, holding=False) == 0  # overdue
    assert poll_timeout_ms(1000.0, math.inf, idle_ms=50, holding=False) == 50
    assert poll_timeout_ms(1000.0, -math.inf, idle_ms=50, holding=False) == 0  # never published


def test_held_records_are_looked_at_again_soon():
    assert HELD_RECHECK_MS == 5
    assert poll_timeout_ms(1000.0, 1030.0, idle_ms=100, holding=True) == 5
    assert poll_timeout_ms(1000.0, 1003.0, idle_ms=100, holding=True) == 3
    assert poll_timeout_ms(1000.0, 2000.0, idle_ms=2, holding=True) == 2


def test_without_input_it_is_a_slow_timer():
    p = Pacer(250.0)
    assert p.is_due(0.0)  # the first publication is due at once
    p.published(0.0)
    assert p.due_ms() == 500.0  # two intervals
    assert not p.is_due(499.0)
    p.published(510.0)  # 10 ms late: the next counts from 500, not from 510
    assert p.due_ms() == 1000.0


def test_input_after_a_quiet_spell_goes_out_at_once():
    p = Pacer(250.0)
    p.published(0.0)
    p.input(900.0)  # more than an interval since the last publication was due
    assert p.due_ms() == 900.0
    p.published(903.0)
    assert p.due_ms() == 1400.0  # no input: 900 + 2 * 250
    p.input(950.0)  # soon after: waits for the spacing, 900 + 250
    p.input(1000.0)  # a later input does not move the pending time
    assert p.due_ms() == 1150.0


def test_slack_lets_a_follower_fall_into_step_with_its_upstream():
    # Upstream messages every 250 ms from 10; the follower published at 0. Spacing
    # 0.8 * 250 = 200: the message of 10 waits until 200 (190 ms), that of 260 until 400
    # (140), 510 until 600 (90), 760 until 800 (40), then 1010 and 1260 at once: 50 ms
    # less each step (slack times the interval).
    p = Pacer(250.0, slack=0.2)
    p.published(0.0)
    waits = []
    for arrival in (10.0, 260.0, 510.0, 760.0, 1010.0, 1260.0):
        p.input(arrival)
        due = p.due_ms()
        waits.append(due - arrival)
        p.published(due)
    assert waits == [190.0, 140.0, 90.0, 40.0, 0.0, 0.0]


def test_without_slack_input_every_interval_goes_out_every_interval():
    # Loop turns at these times, with or without new input: input at 1 and 30 waits for
    # 100, that of 130 for 200, that of 290 for 300 (a turn at 250 finds nothing due).
    p = Pacer(100.0)
    p.published(0.0)
    out = []
    for now, fresh in ((1.0, True), (30.0, True), (100.0, False), (130.0, True),
                       (200.0, False), (250.0, False), (290.0, True), (300.0, False)):  # fmt: skip
        if fresh:
            p.input(now)
        if p.is_due(now):
            out.append(now)
            p.published(now)
    assert out == [100.0, 200.0, 300.0]


def test_a_stall_is_not_followed_by_a_burst():
    p = Pacer(100.0)
    p.published(0.0)
    p.published(5000.0)  # 4,800 ms late: the spacing starts again from now
    assert p.due_ms() == 5200.0
    p.input(5010.0)
    assert p.due_ms() == 5100.0


@pytest.mark.parametrize(("interval", "slack"), [(0.0, 0.0), (-5.0, 0.0), (100.0, 1.0)])
def test_bad_settings_are_refused(interval, slack):
    with pytest.raises(ValueError):
        Pacer(interval, slack)
