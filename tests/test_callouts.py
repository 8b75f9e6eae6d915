"""Call-outs without I/O: the anomaly record parser, the push server's board and its place in
the push protocol, and "which call-outs were active at T" from the history index (a
temporary SQLite file), all against hand-worked tables."""

from __future__ import annotations

import orjson
import pytest

from pulseboard.anomalies import Anomaly, BadAnomaly, parse_anomaly
from pulseboard.history.codec import Cut, Data
from pulseboard.history.store import HistoryReader, HistoryWriter
from web.callouts import CalloutBoard
from web.metadata import ClientTiming, build_meta
from web.protocol import ClientSession, Hub, Limits, Timing

WALL = 1_764_000_000_000
CORRIDOR = "corridor_shipments_15m"
ZUNYI_GUIYANG = "520300>520100"


def rec(state="opened", t=100, score=-4.0, name=CORRIDOR, key=ZUNYI_GUIYANG, value=3) -> Anomaly:
    return Anomaly(t, name, key, value, 17, 12, 22, score, state)


def raw(obj: dict, key: bytes | None = None) -> tuple[bytes, bytes]:
    k = key if key is not None else f"{obj.get('name')}|{obj.get('key')}".encode()
    return k, orjson.dumps(obj)


GOOD = {
    "t": 100, "name": CORRIDOR, "key": ZUNYI_GUIYANG, "value": 3, "expected": 17,
    "low": 12, "high": 22, "score": -4.5, "state": "opened",
}  # fmt: skip


def test_parse_a_record_and_its_severity():
    a = parse_anomaly(*raw(GOOD))
    assert a == Anomaly(100, CORRIDOR, ZUNYI_GUIYANG, 3, 17, 12, 22, -4.5, "opened")
    assert a.severity == 4.5
    assert parse_anomaly(*raw({**GOOD, "value": None, "state": "closed"})).value is None


@pytest.mark.parametrize(
    ("change", "key", "why"),
    [
        ({"state": "open"}, None, "bad_state"),
        ({"t": -1}, None, "bad_t"),
        ({"t": 1.5}, None, "bad_t"),
        ({"t": True}, None, "bad_t"),
        ({"name": ""}, None, "bad_name"),
        ({"key": 5}, None, "bad_key"),
        ({"score": "high"}, None, "bad_band"),
        ({"low": None}, None, "bad_band"),
        ({"expected": float("nan")}, None, "bad_band"),
        ({"value": "3"}, None, "bad_value"),
        ({}, b"corridor_shipments_15m|520300>520200", "key_mismatch"),
    ],
)
def test_bad_records_say_why(change, key, why):
    k, v = raw({**GOOD, **change}, key)
    with pytest.raises(BadAnomaly, match=why):
        parse_anomaly(k, v)


@pytest.mark.parametrize(
    ("value", "why"), [(None, "tombstone"), (b"{", "not_json"), (b"[1]", "not_object")]
)
def test_not_records(value, why):
    with pytest.raises(BadAnomaly, match=why):
        parse_anomaly(b"a|b", value)


def test_board_opens_updates_closes_and_ignores_older_records():
    board = CalloutBoard()
    # (record, changed?, active as (name, key, t, since, score))
    steps = [
        (rec("opened", 100, -4.0), True, [(CORRIDOR, ZUNYI_GUIYANG, 100, 100, -4.0)]),
        (rec("ongoing", 105, -6.0), True, [(CORRIDOR, ZUNYI_GUIYANG, 105, 100, -6.0)]),
        (rec("ongoing", 105, -6.0), False, [(CORRIDOR, ZUNYI_GUIYANG, 105, 100, -6.0)]),
        (rec("ongoing", 103, -9.0), False, [(CORRIDOR, ZUNYI_GUIYANG, 105, 100, -6.0)]),
        (rec("opened", 110, 3.0, "dc_power_mw_5m", "520900"), True, [
            (CORRIDOR, ZUNYI_GUIYANG, 105, 100, -6.0), ("dc_power_mw_5m", "520900", 110, 110, 3.0),
        ]),
        (rec("closed", 120, -1.0), True, [("dc_power_mw_5m", "520900", 110, 110, 3.0)]),
        # A record from before the close (read again after a restart) does not reopen it.
        (rec("ongoing", 115, -6.0), False, [("dc_power_mw_5m", "520900", 110, 110, 3.0)]),
        (rec("closed", 121, -1.0), False, [("dc_power_mw_5m", "520900", 110, 110, 3.0)]),
        # Ongoing with no opening seen (a topic that no longer holds it): active from here.
        (rec("ongoing", 130, 7.5, "export_value_by_country_1h", "VN"), True, [
            ("export_value_by_country_1h", "VN", 130, 130, 7.5),
            ("dc_power_mw_5m", "520900", 110, 110, 3.0),
        ]),
        # A new opening after an opening restarts its "since".
        (rec("opened", 140, 2.0, "dc_power_mw_5m", "520900"), True, [
            ("export_value_by_country_1h", "VN", 130, 130, 7.5),
            ("dc_power_mw_5m", "520900", 140, 140, 2.0),
        ]),
    ]  # fmt: skip
    for i, (record, changed, active) in enumerate(steps):
        assert board.apply(record) is changed, i
        got = [(c["name"], c["key"], c["t"], c["since"], c["score"]) for c in board.wire()]
        assert got == active, i


def test_equal_severity_is_ordered_by_name_then_key():
    board = CalloutBoard()
    for name, key, score in [("b", "2", 5.0), ("a", "9", -5.0), ("b", "1", 5.0), ("c", "0", 6)]:
        board.apply(rec("opened", 1, score, name, key))
    assert [(c["name"], c["key"]) for c in board.wire()] == [
        ("c", "0"), ("a", "9"), ("b", "1"), ("b", "2"),
    ]  # fmt: skip


def _hub() -> Hub:
    return Hub(build_meta(ClientTiming(4, 5, 10)), Timing())


def test_callouts_ride_in_snapshots_and_in_the_next_delta_when_they_change():
    hub = _hub()
    hub.ingest_anomaly(rec("opened", 100, -4.0), 0.0)  # while catching up: no delta owed
    assert hub.flush_due() is None
    hub.mark_ready()
    client = ClientSession(Limits(), 0.0)
    snap = orjson.loads(client.next_frame(hub, WALL).data)
    assert snap["seq"] == 0 and snap["type"] == "snapshot"  # no broadcast yet
    assert snap["callouts"] == [
        {"name": CORRIDOR, "key": ZUNYI_GUIYANG, "t": 100, "since": 100, "value": 3,
         "expected": 17, "low": 12, "high": 22, "score": -4.0},
    ]  # fmt: skip
    # A change is gathered like any other (20 ms), then sent whole in one delta.
    assert hub.ingest_anomaly(rec("ongoing", 101, -5.0), 1.0) is True
    assert hub.flush_due() == pytest.approx(1.02)
    delta = hub.flush(1.02, WALL + 1020)
    assert delta is not None and delta.changes == 1
    client.offer(delta)
    msg = orjson.loads(client.next_frame(hub, WALL).data)
    assert msg["seq"] == 1 and msg["type"] == "delta" and msg["changes"] == []
    assert [(c["t"], c["since"], c["score"]) for c in msg["callouts"]] == [(101, 100, -5.0)]
    # Nothing changed: nothing to send; a close sends the empty list.
    assert hub.ingest_anomaly(rec("ongoing", 101, -5.0), 2.0) is False
    assert hub.flush_due() is None
    hub.ingest_anomaly(rec("closed", 102, -1.0), 3.0)
    client.offer(hub.flush(3.5, WALL + 3500))
    msg = orjson.loads(client.next_frame(hub, WALL).data)
    assert msg["seq"] == 2 and msg["callouts"] == []
    # A delta without call-out changes carries no "callouts" (the page keeps its list).
    from web.indicators import Indicator

    hub.ingest(Indicator("shipments_1m", "520000", 5, 103, False), 5.0, WALL)
    client.offer(hub.flush(5.5, WALL))
    msg = orjson.loads(client.next_frame(hub, WALL).data)
    assert msg["seq"] == 3 and "callouts" not in msg


# -- time travel: the index --------------------------------------------------------------


def _active(reader: HistoryReader, t: int) -> list[tuple]:
    found = reader.session("live")
    assert found is not None
    return [(c["key"], c["t"], c["since"], c["score"]) for c in reader.callouts(found[0], t)]


def test_index_answers_the_callouts_active_at_any_second(tmp_path):
    w = HistoryWriter(tmp_path, "h")
    data = [("live", Data(None, [(90, "shipments_1m", "520000", 9)]), 0)]
    w.apply(
        data,
        {0: 1},
        [
            rec("opened", 100, -4.0, key="a"),
            rec("ongoing", 105, -6.0, key="a"),
            rec("opened", 102, 3.0, key="b"),
            rec("closed", 110, -1.0, key="a"),
            rec("ongoing", 120, 5.0, key="c"),  # its opening is not in the topic
            rec("opened", 130, -8.0, key="a"),  # opens again
        ],
        {0: 6, 1: 0},
    )
    r = HistoryReader(tmp_path)
    table = {
        99: [],
        100: [("a", 100, 100, -4.0)],
        101: [("a", 100, 100, -4.0)],
        102: [("a", 100, 100, -4.0), ("b", 102, 102, 3.0)],
        105: [("a", 105, 100, -6.0), ("b", 102, 102, 3.0)],
        110: [("b", 102, 102, 3.0)],
        120: [("c", 120, 120, 5.0), ("b", 102, 102, 3.0)],
        130: [("a", 130, 130, -8.0), ("c", 120, 120, 5.0), ("b", 102, 102, 3.0)],
    }
    for t, want in table.items():
        assert _active(r, t) == want, t
    assert w.anomaly_positions() == {0: 6, 1: 0}
    # Nothing carries across a cut: at 125, the call-outs of before it are gone.
    w.apply([("live", Cut(None, 125), 0)], {0: 2})
    assert _active(r, 124) == [("c", 120, 120, 5.0), ("b", 102, 102, 3.0)]
    assert _active(r, 125) == []
    assert _active(r, 130) == [("a", 130, 130, -8.0)]
    # Retention: the records of Ts before the horizon go, as for values.
    w.prune(200 * 1000 + 7 * 86_400_000, 7 * 86_400_000)
    assert _active(r, 130) == []
    w.close()
    r.close()


def test_a_client_that_fell_behind_gets_the_callouts_in_its_snapshot():
    hub = _hub()
    hub.mark_ready()
    slow = ClientSession(Limits(max_queue_frames=2), 0.0)
    fast = ClientSession(Limits(), 0.0)
    for session in (slow, fast):
        session.next_frame(hub, WALL)  # the connect snapshots (seq 0: no broadcast yet)
    # Three call-out deltas: the slow client's queue (2 frames) overflows on the third.
    for i, (state, score) in enumerate([("opened", -4.0), ("ongoing", -5.0), ("ongoing", -7.0)]):
        hub.ingest_anomaly(rec(state, 100 + i, score), float(i))
        delta = hub.flush(float(i), WALL)
        assert delta is not None
        slow.offer(delta)
        fast.offer(delta)
    got = orjson.loads(slow.next_frame(hub, WALL).data)
    assert got["seq"] == 3 and got["type"] == "snapshot"  # as of the third broadcast
    assert [(c["t"], c["since"], c["score"]) for c in got["callouts"]] == [(102, 100, -7.0)]
    assert slow.next_frame(hub, WALL) is None
    # The other client got every delta, in sequence.
    seen = [orjson.loads(fast.next_frame(hub, WALL).data) for _ in range(3)]
    assert [(m["seq"], m["type"], m["callouts"][0]["score"]) for m in seen] == [
        (1, "delta", -4.0), (2, "delta", -5.0), (3, "delta", -7.0),
    ]  # fmt: skip


def test_a_replayed_sessions_callouts_travel_with_its_generation(tmp_path):
    from pulseboard.history import codec
    from pulseboard.history.codec import Anomalies, Begin, End

    g1 = [rec("opened", 10, -4.0, key="x"), rec("closed", 30, -1.0, key="x")]
    # The bytes: one row per record, in the record's field order, and back.
    (message,) = codec.anomaly_messages(g1, "g1")
    assert orjson.loads(message) == {
        "k": "anomalies",
        "g": "g1",
        "r": [
            [10, CORRIDOR, "x", 3, 17, 12, 22, -4.0, "opened"],
            [30, CORRIDOR, "x", 3, 17, 12, 22, -1.0, "closed"],
        ],
    }
    assert codec.decode(message) == Anomalies("g1", [tuple(r) for r in orjson.loads(message)["r"]])
    assert len(codec.anomaly_messages(g1 * 3, None, per_message=4)) == 2

    w = HistoryWriter(tmp_path, "h")
    data = Data("g1", [(10, "shipments_1m", "520000", 4)])
    w.apply([("day", Begin("g1"), 0), ("day", data, 0), ("day", codec.decode(message), 0),
             ("day", End("g1", 10, 40, 1), 0)], {0: 4})  # fmt: skip
    r = HistoryReader(tmp_path)
    sid = r.session("day")[0]  # type: ignore[index]
    assert [(c["key"], c["since"]) for c in r.callouts(sid, 20)] == [("x", 10)]
    assert r.callouts(sid, 30) == []
    # Replaced: the old generation's call-outs go with it, and its stray ones are ignored.
    g2 = codec.anomaly_messages([rec("opened", 12, 5.0, key="y")], "g2")[0]
    w.apply([("day", Begin("g2"), 0), ("day", Data("g2", [(10, "shipments_1m", "520000", 1)]), 0),
             ("day", codec.decode(g2), 0), ("day", codec.decode(message), 0),
             ("day", End("g2", 10, 40, 1), 0)], {0: 9})  # fmt: skip
    sid = r.session("day")[0]  # type: ignore[index]
    assert [(c["key"], c["since"], c["score"]) for c in r.callouts(sid, 20)] == [("y", 12, 5.0)]
    w.close()
    r.close()
