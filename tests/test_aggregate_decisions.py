"""The aggregator's Kafka edges decide nothing: the decisions they used to hold, as plain
functions and state objects, against hand-worked cases (resume offsets, commit metadata,
dead letters, watched/blind/caught-up, parked state)."""

from __future__ import annotations

from collections import Counter

import pytest
from aiokafka.structs import OffsetAndMetadata
from inprocess import FakeRecord

from consumers.aggregate.dlq import dead_letters
from consumers.aggregate.finalizer import commit_metadata, parse_commit_metadata
from consumers.aggregate.rebalance import Parking
from consumers.aggregate.sealer import resume_from_ms, resume_offset
from consumers.aggregate.watching import SEEN_WITHIN_MS, Watch


@pytest.mark.parametrize(
    ("through", "committed", "found", "begin", "end", "start"),
    [
        (None, None, None, 0, 50, 0),  # never committed: from the beginning
        (None, None, None, 7, 50, 7),  # ... of what retention left
        (100, 40, 30, 0, 50, 30),  # the time index points before the commit
        (100, 40, 45, 0, 50, 40),  # never skip a record not read yet
        (100, None, 45, 0, 50, 45),
        (100, 40, None, 0, 50, 40),  # nothing that late in the index: the end, or the commit
        (100, None, None, 0, 50, 50),
        (100, 40, 30, 35, 50, 35),  # deleted by retention meanwhile
    ],
)
def test_where_a_new_owner_starts_reading(through, committed, found, begin, end, start) -> None:
    assert resume_offset(through, committed, found, begin, end) == start


def test_the_resume_time_reaches_back_by_the_future_allowance() -> None:
    assert resume_from_ms(1_764_000_000, 5000) == 1_764_000_000_000 - 5000
    assert resume_from_ms(3, 5000) == 0


@pytest.mark.parametrize(
    ("metadata", "parsed"),
    [
        ('{"c": 12, "e": 1764000000}', (12, 1764000000)),
        ('{"c": null, "e": 5}', (None, 5)),
        ('{"c": "12", "e": 5.0}', (None, None)),
        ("{", (None, None)),
        ("[1]", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_finalizer_commit_metadata_is_read_forgivingly(metadata, parsed) -> None:
    assert parse_commit_metadata(metadata) == parsed


def test_finalizer_commit_metadata_round_trips() -> None:
    assert parse_commit_metadata(commit_metadata(7, 1764000001)) == (7, 1764000001)
    assert parse_commit_metadata(commit_metadata(None, None)) == (None, None)


def test_dead_letters_keep_the_record_and_say_why_and_where() -> None:
    recs = [
        FakeRecord(5, 1000, b"T1", b"{bad"),
        FakeRecord(6, 1001, None, None),
        FakeRecord(7, 1002, b"T2", None),
        FakeRecord(9, 1003, None, "é".encode()),
    ]
    invalid = [
        (recs[0], "not_json", "JSON is malformed"),
        (recs[1], "not_json", "record has no value"),
        (recs[2], "not_json", "record has no value"),
        (recs[3], "key_mismatch", "record key is not 'é'"),
    ]
    out, counts = dead_letters(invalid, "freight.events", 4)
    assert counts == Counter({"not_json": 3, "key_mismatch": 1})
    assert [(r.value, r.key, r.timestamp_ms) for r in out] == [
        (b"{bad", b"T1", 1000),
        (b"", None, 1001),  # Kafka needs a key or a value
        (None, b"T2", 1002),
        ("é".encode(), None, 1003),
    ]
    assert list(out[3].headers) == [
        ("pulseboard-reason", b"key_mismatch"),
        ("pulseboard-detail", "record key is not 'é'".encode()),
        ("pulseboard-source-topic", b"freight.events"),
        ("pulseboard-source-partition", b"4"),
        ("pulseboard-source-offset", b"9"),
    ]


def see(watch: Watch, now: float, polled: float | None, **kw):
    args = {"wall_ms": now, "last_record_ms": 0.0, "fetched_now": False}
    args |= {"highwater": 10, "position": 10}
    args |= kw
    return watch.see("p", now_ms=now, polled_wall_ms=polled, **args)


def test_watched_caught_up_blind_and_resumed() -> None:
    w = Watch()
    w.tick(1000)
    s = see(w, 1000, polled=900)
    assert s.caught_up and s.answered_ms == 900 and not s.resumed
    assert not see(w, 1000, polled=900, fetched_now=True).caught_up  # records came now
    assert not see(w, 1000, polled=900, position=9).caught_up  # not at the high watermark
    assert not see(w, 1000, polled=900, highwater=None).caught_up
    # Just assigned, no fetch answered yet: neither watched nor blind.
    fresh = see(w, 1000, polled=None, last_record_ms=500)
    assert not fresh.caught_up and fresh.answered_ms is None and "p" not in w.blind
    # No answer for SEEN_WITHIN_MS: blind, not caught up ...
    w.tick(5000)
    blind = see(w, 5000, polled=5000 - SEEN_WITHIN_MS)
    assert not blind.caught_up and "p" in w.blind
    # ... until answers come again: then resumed (the idle rule waits for backlogs).
    w.tick(5100)
    back = see(w, 5100, polled=5050)
    assert back.resumed and back.caught_up and "p" not in w.blind
    assert not see(w, 5100, polled=5050).resumed  # once


def test_a_stalled_loop_counts_as_a_blind_spell() -> None:
    w = Watch()
    w.tick(1000)
    see(w, 1000, polled=990)
    w.tick(1000 + SEEN_WITHIN_MS + 1)  # the loop did not turn for over 3 s
    assert w.stalled
    assert see(w, 4200, polled=4190).resumed


def test_parked_state_is_reused_only_if_nobody_committed_since() -> None:
    parking: Parking[str, int] = Parking()
    om = OffsetAndMetadata(10, '{"through": 5}')
    parking.park("a", 1, om)
    parking.park("b", 2, om)
    held = parking.take_all()
    assert parking.take_all() == {}  # taken once
    assert Parking.reusable(held, "a", OffsetAndMetadata(10, '{"through": 5}')) == 1
    assert Parking.reusable(held, "b", OffsetAndMetadata(11, '{"through": 5}')) is None
    assert Parking.reusable(held, "b", None) is None
    assert Parking.reusable(held, "c", om) is None
