"""Progress markers (pulseboard.progress), the promises of a partition's producers
(consumers.aggregate.promises), the sealer reading them, and replay sessions
(pulseboard.sessions): hand-worked cases."""

from __future__ import annotations

import orjson
import pytest
from inprocess import FakeRecord

from consumers.aggregate.promises import Promises
from consumers.aggregate.sealer import (
    PartitionSealer,
    SealerConfig,
    parse_commit_ended,
    parse_commit_metadata,
)
from pulseboard.progress import (
    END,
    LEAVE,
    PROGRESS_HEADER,
    TICK,
    Marker,
    MarkerError,
    is_marker,
    marker_of,
)
from pulseboard.sessions import replay_refusal, session_for_log


def hdr(obj: object) -> list[tuple[str, bytes]]:
    return [(PROGRESS_HEADER, orjson.dumps(obj))]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        ([], None),
        ([("other", b"x")], None),
        (hdr({"p": "a1", "k": "tick", "n": 6}), Marker("a1", TICK, 6)),
        (hdr({"p": "a1", "k": "end", "n": 3, "extra": 1}), Marker("a1", END, 3)),
        ([("other", b"x"), *hdr({"p": "b", "k": "leave", "n": 1})], Marker("b", LEAVE, 1)),
    ],
)
def test_markers_are_read_from_their_header(headers, expected) -> None:
    assert marker_of(headers) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{", "not JSON"),
        (b"[1]", "not a JSON object"),
        (orjson.dumps({"k": "tick", "n": 1}), "producer id"),
        (orjson.dumps({"p": "", "k": "tick", "n": 1}), "producer id"),
        (orjson.dumps({"p": "x" * 65, "k": "tick", "n": 1}), "producer id"),
        (orjson.dumps({"p": "a", "k": "pause", "n": 1}), "kind"),
        (orjson.dumps({"p": "a", "k": "tick", "n": 0}), "partition count"),
        (orjson.dumps({"p": "a", "k": "tick", "n": "6"}), "partition count"),
        (orjson.dumps({"p": "a", "k": "tick", "n": True}), "partition count"),
    ],
)
def test_a_malformed_marker_is_an_error_not_a_silent_skip(raw: bytes, says: str) -> None:
    with pytest.raises(MarkerError, match=says):
        marker_of([(PROGRESS_HEADER, raw)])
    assert not is_marker(b"", [(PROGRESS_HEADER, raw)])


def test_only_empty_records_with_the_header_are_markers() -> None:
    good = hdr({"p": "a", "k": "tick", "n": 1})
    assert is_marker(b"", good) and is_marker(None, good)
    assert not is_marker(b"{}", good)  # an event never is, whatever its headers
    assert not is_marker(b"", [])


def m(producer: str, kind: str = TICK, n: int = 6) -> Marker:
    return Marker(producer, kind, n)


def test_the_watermark_is_the_least_promise_of_the_active_producers() -> None:
    p = Promises(timeout_ms=1000)
    assert p.wm is None
    p.on_marker(m("a"), 100, now_ms=0)
    assert p.wm == 100
    p.on_marker(m("b"), 50, now_ms=0)  # joins behind: the watermark never moves back
    assert p.wm == 100
    p.on_marker(m("a"), 300, now_ms=0)
    assert p.wm == 100  # b (50) holds it
    p.on_marker(m("b"), 200, now_ms=0)
    assert p.wm == 200
    p.on_marker(m("b"), 150, now_ms=0)  # a producer's promise never shrinks
    assert p.wm == 200 and p.active["b"][0] == 200
    p.on_marker(m("b", LEAVE), 250, now_ms=0)  # b leaves: a (300) alone
    assert p.wm == 300 and not p.ended
    p.on_marker(m("a", LEAVE), 400, now_ms=0)  # nobody left: the last promise stays
    assert p.wm == 400 and not p.ended and p.active == {}


def test_end_seals_everything_only_when_no_producer_is_left() -> None:
    p = Promises()
    p.on_marker(m("live"), 1000, now_ms=0)
    p.on_marker(m("replay"), 5000, now_ms=0)
    p.on_marker(m("replay", END), 6000, now_ms=0)
    assert not p.ended and p.wm == 1000  # a live producer still writes here
    p.on_marker(m("live", END), 2000, now_ms=0)
    assert p.ended


def test_the_greatest_partition_count_stated_is_kept() -> None:
    p = Promises()
    p.on_marker(m("a", n=6), 1, 0)
    p.on_marker(m("b", n=9), 1, 0)
    p.on_marker(m("a", n=6), 2, 0)
    assert p.partitions == 9


def test_a_silent_producer_is_given_up_after_watched_time_only() -> None:
    p = Promises(timeout_ms=1000)
    p.on_marker(m("a"), 100, now_ms=0)
    p.on_marker(m("b"), 500, now_ms=0)
    assert p.expire(now_ms=5000, watched_since_ms=4500) == []  # watched for 500 ms only
    p.on_marker(m("b"), 900, now_ms=4800)
    assert p.expire(now_ms=5600, watched_since_ms=4500) == ["a"]  # 1100 ms watched, silent
    assert p.wm == 900  # b counts alone now
    assert p.expire(now_ms=5700, watched_since_ms=0) == []  # b spoke 900 ms ago


def rec(offset: int, ts: int, producer: str, kind: str = TICK, n: int = 6) -> FakeRecord:
    headers = tuple(hdr({"p": producer, "k": kind, "n": n}))
    return FakeRecord(offset, ts, None, b"", headers)


def ship(offset: int, ts: int, ingest: int, truck: str = "T1") -> FakeRecord:
    event = {
        "v": 1, "id": f"e{offset}", "type": "shipment", "ts": ts, "truck_id": truck,
        "shipment_id": f"s{offset}", "shipper_id": "p", "origin": "520100", "dest": "CN-GD",
        "cargo": "tea", "weight_kg": 1000, "value_cny": 10.0, "export_country": None,
    }  # fmt: skip
    return FakeRecord(offset, ingest, truck.encode(), orjson.dumps(event))


T0 = 1_764_000_000_000


def test_the_sealer_seals_what_markers_promise_and_never_what_records_suggest() -> None:
    sl = PartitionSealer("freight.events", 0, freight=True, sid="a", config=SealerConfig())
    # Records alone (even far ahead) seal nothing: only a producer's promise does.
    res = sl.feed_batch([ship(0, T0, T0 + 100), ship(1, T0 + 90_000, T0 + 90_000)], 0)
    sl.advance(10_000, caught_up=True)
    assert res.counted == 2 and res.markers == 0 and sl.through is None and sl.unpromised
    res = sl.feed_batch([rec(2, T0 + 31_000, "p")], 0)
    sl.advance(10_000, caught_up=True)
    # promise T0 + 31 s, L = 30 s: second T0/1000 is sealed, the next one not yet
    assert res.markers == 1 and res.consumed == 0 and not res.invalid
    assert sl.through == T0 // 1000 + 1 and not sl.unpromised
    assert [s for s, _, _ in sl.sealed] == [T0 // 1000]
    msgs = sl.sealed_messages()
    assert orjson.loads(msgs[0])["n"] == 6
    sl.feed_batch([rec(3, T0 + 95_000, "p", END)], 0)
    sl.advance(10_000, caught_up=True)
    # The input ended at T0 + 95 s: a counted event of it has ts <= T0 + 95 s + F (5 s), so
    # every second up to T0 + 100 s is sealed, and none after.
    assert sl.ended and sl.through == T0 // 1000 + 101
    assert [s for s, _, _ in sl.sealed] == [(T0 + 90_000) // 1000]
    assert orjson.loads(sl.sealed_messages()[-1])["end"] is True
    assert orjson.loads(sl.commit_metadata()) == {"through": T0 // 1000 + 101, "end": T0 + 95_000}
    # A producer that speaks later opens a new input: counted as usual from there on.
    sl.feed_batch([rec(4, T0 + 200_000, "next"), ship(5, T0 + 199_000, T0 + 200_000)], 0)
    sl.advance(10_000, caught_up=True)
    assert not sl.ended and sl.through == T0 // 1000 + 170  # (T0 + 200 s - L) / 1000
    assert sl.sealed == []  # nothing of the new input was in a sealed second
    assert sl.buckets.keys() == {(T0 + 199_000) // 1000}


def test_a_restarted_sealer_knows_its_input_had_ended() -> None:
    meta = orjson.dumps({"through": T0 // 1000 + 101, "end": T0 + 95_000}).decode()
    sl = PartitionSealer(
        "freight.events",
        0,
        freight=True,
        sid="b",
        through=parse_commit_metadata(meta),
        ended_at=parse_commit_ended(meta),
    )
    sl.advance(0, caught_up=True)
    assert sl.ended and sl.through == T0 // 1000 + 101


def test_a_malformed_marker_goes_to_the_dlq_as_invalid() -> None:
    sl = PartitionSealer("freight.events", 0, freight=True, sid="a")
    bad = FakeRecord(0, T0, None, b"", ((PROGRESS_HEADER, b"{"),))
    res = sl.feed_batch([bad], 0)
    assert res.consumed == 1 and [(r, reason) for r, reason, _ in res.invalid] == [
        (bad, "not_json")
    ]


@pytest.mark.parametrize(
    ("path", "session"),
    [
        ("day.jsonl.gz", "day"),
        ("/tmp/logs/Day 3.jsonl", "day-3"),
        ("recorded.json", "recorded"),
        ("live.jsonl", "replay"),  # never the live session
        ("___.jsonl", "replay"),
        ("-", "replay"),
        ("ü.jsonl", "replay"),
        ("x" * 80 + ".jsonl", "x" * 63),
    ],
)
def test_a_replay_session_is_named_after_its_log(path: str, session: str) -> None:
    assert session_for_log(path) == session


@pytest.mark.parametrize(
    ("session", "force", "consumers", "records", "refused"),
    [
        ("live", False, 0, 10, None),
        ("live", False, 2, 0, "consuming the live topics"),
        ("live", True, 2, 0, None),
        ("day", False, 1, 0, None),  # a session's own aggregator is expected
        ("day", False, 0, 5, "already holds 5 records"),
        ("day", True, 0, 5, None),
    ],
)
def test_when_a_replay_is_refused(session, force, consumers, records, refused) -> None:
    why = replay_refusal(session, force=force, live_consumers=consumers, records_in_topics=records)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why and "--force" in why
