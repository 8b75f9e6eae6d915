"""The history's pure decisions, against hand-worked tables: session names, API parameters,
the message codec, state and series from index rows, and the index's handling of replaced,
cut and dropped sessions (on a temporary SQLite file, no Kafka)."""

from __future__ import annotations

import pytest

from pulseboard.history import codec, days, lookup, params
from pulseboard.history.codec import BadMessage, Begin, Cut, Data, Drop, End
from pulseboard.history.params import ApiError, SessionRange
from pulseboard.history.sessions import BadSessionName, check_session_name
from pulseboard.history.store import HistoryReader, HistoryWriter, IndexInUse
from pulseboard.localday import LocalDays

# 2026-12-03T14:05:00+08:00 = 2026-01-01 (1767225600) + 336 days + 06:05 UTC.
T_1405_CST = 1_767_225_600 + 336 * 86_400 + 6 * 3600 + 5 * 60


@pytest.mark.parametrize("name", ["live", "a", "0", "day-1_x", "a" * 63, "2026-12-03"])
def test_valid_session_names(name):
    assert check_session_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "it is empty"),
        ("Live", "it contains 'L'"),
        ("-a", "must start with a lower-case letter or a digit"),
        ("_a", "must start with a lower-case letter or a digit"),
        ("a/b", "it contains '/'"),
        ("a.b", "it contains '.'"),
        ("a b", "it contains ' '"),
        ("a" * 64, "it has 64 characters (at most 63)"),
        ("caf\u00e9", "it contains '\u00e9'"),
    ],
)
def test_invalid_session_names_say_why(name, why):
    with pytest.raises(BadSessionName, match="not allowed") as info:
        check_session_name(name)
    assert why in str(info.value)


@pytest.mark.parametrize(
    ("text", "t"),
    [
        ("1764000060", 1_764_000_060),
        ("0", 0),
        ("2026-12-03T14:05:00+08:00", T_1405_CST),
        ("2026-12-03T14:05:00 08:00", T_1405_CST),  # '+' unescaped in a URL
        ("2026-12-03T06:05:00Z", T_1405_CST),
        ("2026-12-03T06:05:00+00:00", T_1405_CST),
        ("2026-12-03 14:05:00+08:00", T_1405_CST),
    ],
)
def test_times_as_seconds_or_iso(text, t):
    assert params.parse_time(text) == t


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2026-12-03T14:05:00", "has no UTC offset"),
        ("2026-12-03T14:05:00.5+08:00", "is not a whole second"),
        ("-5", "out of range"),
        ("yesterday", "neither integer Unix seconds nor ISO 8601"),
        ("1.5", "neither integer"),
    ],
)
def test_bad_times(text, fragment):
    with pytest.raises(ApiError) as info:
        params.parse_time(text)
    assert info.value.status == 400 and fragment in info.value.message


def test_state_parameters():
    q = params.parse_state("session=day-1&t=2026-12-03T14:05:00%2B08:00")
    assert (q.session, q.t) == ("day-1", T_1405_CST)
    for query, fragment in [
        ("t=5", "missing parameter 'session'"),
        ("session=live", "missing parameter 't'"),
        ("session=live&t=", "missing parameter 't'"),
        ("session=live&t=5&t=6", "parameter 't' given twice"),
        ("session=live&t=5&at=6", "unknown parameter 'at'"),
        ("session=..%2Fx&t=5", "not allowed"),
        ("session=live&t=5&session=x", "parameter 'session' given twice"),
    ]:
        with pytest.raises(ApiError) as info:
            params.parse_state(query)
        assert info.value.status == 400 and fragment in info.value.message, query


def test_sessions_takes_no_parameters():
    with pytest.raises(ApiError) as info:
        params.parse_query("x=1", ())
    assert info.value.message == "unknown parameter 'x'; this request takes no parameters"
    assert params.parse_query("", ()) == {}


def test_series_parameters_and_point_limits():
    q = params.parse_series("session=live&name=shipments_1m&key=520100&from=100&to=200&step=60")
    assert (q.name, q.key, q.t_from, q.t_to, q.step) == ("shipments_1m", "520100", 100, 200, 60)
    # 0..10079 at 1 s is exactly 10,080 points: allowed; one more is not.
    ok = params.parse_series("session=a&name=tonnage_1h&key=x&from=0&to=10079&step=1")
    assert ok.t_to == 10_079
    cases = [
        ("from=0&to=10080&step=1", 400, "10081 points, at most 10080; use step >= 2"),
        # 100000 / 10079 = 9.92: step 10 gives 10,001 points.
        ("from=0&to=100000&step=1", 400, "use step >= 10"),
        ("from=100&to=50&step=1", 400, "from (100) is after to (50)"),
        ("from=0&to=5&step=0", 400, "step='0' must be a whole number of seconds >= 1"),
        ("from=0&to=5&step=1.5", 400, "must be a whole number"),
    ]
    for tail, status, fragment in cases:
        with pytest.raises(ApiError) as info:
            params.parse_series(f"session=a&name=tonnage_1h&key=x&{tail}")
        assert (info.value.status, fragment in info.value.message) == (status, True), tail
    with pytest.raises(ApiError) as info:
        params.parse_series("session=a&name=tonnage&key=x&from=0&to=1&step=1")
    assert info.value.status == 404 and "unknown indicator name 'tonnage'" in info.value.message


def test_range_check():
    s = SessionRange("day", 100, 200, 5)
    params.check_in_range(s, 100)
    params.check_in_range(s, 200)
    for t in (99, 201):
        with pytest.raises(ApiError) as info:
            params.check_in_range(s, t)
        assert info.value.message == f"t={t} is outside session 'day', which covers 100..200"


def test_codec_bytes_and_errors():
    assert (
        codec.encode(Data(None, [(1, "a", "b", 2)])) == b'{"k":"data","g":null,"r":[[1,"a","b",2]]}'
    )
    assert codec.encode(End("g1", 5, 9, 3)) == b'{"k":"end","g":"g1","from":5,"to":9,"records":3}'
    assert codec.decode(b'{"k":"cut","g":null,"t":7}') == Cut(None, 7)
    assert codec.decode(b'{"k":"drop"}') == Drop()
    assert codec.decode(b'{"k":"data","g":"x","r":[[1,"n","k",0.5],[2,"n","k",null]]}') == Data(
        "x", [(1, "n", "k", 0.5), (2, "n", "k", None)]
    )
    for raw in (None, b"", b"{}", b'{"k":"nope"}', b'{"k":"cut","t":"x","g":null}', b"\xff"):
        with pytest.raises(BadMessage):
            codec.decode(raw)
    recs = [(t, "n", "k", t) for t in range(5)]
    chunks = codec.data_messages(recs, "g", per_message=2)
    assert [codec.decode(c).r for c in chunks] == [recs[0:2], recs[2:4], recs[4:5]]


def test_state_from_rows_leaves_out_absent_and_cut_values():
    rows = [
        ("shipments_1m", "520000", 100, 5),
        ("shipments_1m", "520100", 90, 0),  # count back to 0: absent
        ("on_time_rate_1h", "520000", 95, None),  # rate null: absent
        ("on_time_rate_1h", "520100", 99, 0.0),  # a rate of 0 is a value
        ("tonnage_1h", "520000", 80, 3.5),
        ("tonnage_1h", "520100", 80, 1e-7),  # a sum within 1e-6 of 0 is 0
    ]
    assert lookup.state_values(rows, None) == {
        "shipments_1m|520000": 5,
        "on_time_rate_1h|520100": 0.0,
        "tonnage_1h|520000": 3.5,
    }
    assert lookup.state_values(rows, 85) == {
        "shipments_1m|520000": 5,
        "on_time_rate_1h|520100": 0.0,
    }
    assert lookup.state_values(rows, 100) == {"shipments_1m|520000": 5}


def test_series_values_carry_and_cuts():
    points = [(10, None, None), (20, 15, 3), (30, 15, 3), (40, 35, 0), (50, 45, 7)]
    assert lookup.series_values("shipments_1m", points, []) == [0, 3, 3, 0, 7]
    # A cut at 25: the record of 15 no longer counts from 25 on; one at 45 counts at 45.
    assert lookup.series_values("shipments_1m", points, [25, 45]) == [0, 3, 0, 0, 7]
    rate = [(10, None, None), (20, 12, 0.5), (30, 12, 0.5)]
    assert lookup.series_values("on_time_rate_1h", rate, [30]) == [None, 0.5, None]
    assert lookup.series_times(100, 160, 30) == [100, 130, 160]
    assert lookup.series_times(100, 159, 30) == [100, 130]


def _state(reader: HistoryReader, name: str, t: int) -> dict:
    found = reader.session(name)
    assert found is not None
    return reader.state(found[0], t)


def test_index_replace_stale_writer_cut_and_drop(tmp_path):
    w = HistoryWriter(tmp_path, "h")
    w.apply(
        [
            ("day", Begin("g1"), 0),
            (
                "day",
                Data("g1", [(10, "shipments_1m", "520000", 4), (12, "tonnage_1h", "x", 1.5)]),
                0,
            ),
            ("day", End("g1", 10, 20, 2), 0),
            ("live", Data(None, [(100, "shipments_1m", "520000", 9)]), 0),
            ("live", Data(None, [(105, "shipments_1m", "520000", 11)]), 0),
        ],
        {0: 5},
    )
    r = HistoryReader(tmp_path)
    assert [(s.name, s.t_from, s.t_to, s.records) for s in r.sessions()] == [
        ("live", 100, 105, 2),
        ("day", 10, 20, 2),
    ]
    assert _state(r, "day", 11) == {"shipments_1m|520000": 4}
    assert _state(r, "day", 20) == {"shipments_1m|520000": 4, "tonnage_1h|x": 1.5}
    # Replaced: hidden until its end; the old generation's late data is ignored.
    w.apply(
        [
            ("day", Begin("g2"), 0),
            ("day", Data("g2", [(30, "shipments_1m", "520000", 1)]), 0),
            ("day", Data("g1", [(31, "shipments_1m", "520000", 99)]), 0),
        ],
        {0: 8},
    )
    assert [s.name for s in r.sessions()] == ["live"]
    w.apply([("day", End("g2", 30, 40, 1), 0)], {0: 9})
    assert [(s.name, s.t_from, s.t_to, s.records) for s in r.sessions()][1] == ("day", 30, 40, 1)
    assert _state(r, "day", 40) == {"shipments_1m|520000": 1}
    # A cut at 103: live's value of 100 does not carry past it; 105's does.
    w.apply([("live", Cut(None, 103), 0)], {0: 10})
    assert _state(r, "live", 102) == {"shipments_1m|520000": 9}
    assert _state(r, "live", 104) == {}
    assert _state(r, "live", 105) == {"shipments_1m|520000": 11}
    # The same live record again (an aggregator republishing) is not counted twice.
    w.apply([("live", Data(None, [(105, "shipments_1m", "520000", 11)]), 0)], {0: 11})
    assert r.session("live")[1].records == 2  # type: ignore[index]
    w.apply([("day", Drop(), 0)], {0: 12})
    assert r.session("day") is None and w.positions() == {0: 12}
    # One writer per folder; reopening resumes from the stored positions.
    with pytest.raises(IndexInUse):
        HistoryWriter(tmp_path, "h")
    w.close()
    again = HistoryWriter(tmp_path, "h")
    assert again.positions() == {0: 12}
    again.close()
    # A folder built from another topic is rebuilt, not mixed.
    fresh = HistoryWriter.open_or_rebuild(tmp_path, "other")
    assert fresh.positions() == {}
    fresh.close()
    r.close()


def test_index_retention_and_sessions_missing_their_start(tmp_path):
    w = HistoryWriter(tmp_path, "h")
    day_ms = 86_400_000
    w.apply(
        [
            ("old", Begin("a"), 1 * day_ms),
            ("old", Data("a", [(5, "shipments_1m", "520000", 1)]), 1 * day_ms),
            ("old", End("a", 5, 5, 1), 1 * day_ms),
            ("new", Begin("b"), 9 * day_ms),
            ("new", Data("b", [(5, "shipments_1m", "520000", 2)]), 9 * day_ms),
            ("new", End("b", 5, 5, 1), 9 * day_ms),
            # Retention took this one's begin: its rest is never shown.
            ("part", Data("c", [(5, "shipments_1m", "520000", 3)]), 9 * day_ms),
            ("part", End("c", 5, 5, 1), 9 * day_ms),
            ("live", Data(None, [(86_400 * 2, "shipments_1m", "520000", 4)]), 0),
            ("live", Data(None, [(86_400 * 2, "tonnage_1h", "520000", 1.5)]), 0),
            ("live", Data(None, [(86_400 * 4, "shipments_1m", "520000", 5)]), 0),
            # A backfilled day ends like this: live stays shown.
            ("live", End(None, 86_400 * 2, 86_400 * 4, 3), 0),
        ],
        {0: 12},
    )
    r = HistoryReader(tmp_path)
    assert [s.name for s in r.sessions()] == ["live", "new", "old"]
    # Now day 10, retention 7 days: the horizon is day 3. "old" ended on day 1: gone;
    # live's records of day 2 are gone and its range starts at the horizon.
    assert w.prune(10 * day_ms, 7 * day_ms) == 3
    assert [(s.name, s.t_from, s.records) for s in r.sessions()] == [
        ("live", 86_400 * 3, 1),
        ("new", 5, 1),
    ]
    assert _state(r, "live", 86_400 * 4) == {"shipments_1m|520000": 5}
    w.close()
    r.close()


def test_backfill_days_are_cst_calendar_days():
    # 2026-12-03 14:05 CST; that day's CST midnight is 2026-12-02T16:00Z.
    midnight = 1_767_225_600 + 336 * 86_400 - 8 * 3600
    cst = LocalDays("Asia/Shanghai")  # the guizhou pack's time zone
    assert days.local_midnight(T_1405_CST, cst) == midnight
    assert days.local_midnight(midnight, cst) == midnight
    assert days.local_midnight(midnight - 1, cst) == midnight - 86_400
    got = days.backfill_days(T_1405_CST, (1, 7), seed=2, calendar=cst)
    assert [(d.label, d.start, d.end) for d in got] == [
        ("2026-11-26", midnight - 7 * 86_400, midnight - 6 * 86_400),
        ("2026-12-02", midnight - 86_400, midnight),
    ]
    # Seeds differ per day and are stable: seed * 1,000,003 + the CST day number.
    assert got[1].seed == 2 * 1_000_003 + (midnight - 86_400 + 8 * 3600) // 86_400
    assert days.parse_days_ago("1,7") == (1, 7)
    for bad in ("", "0", "1,1", "x", "400"):
        with pytest.raises(ValueError, match="--backfill-days"):
            days.parse_days_ago(bad)


def test_day_cut_opens_with_the_state_at_midnight_and_stops_before_the_next():
    day = days.Day(start=1_000, seed=0)
    cut = days.DayCut(day)
    warmup = [
        (990, "shipments_1m", "a", 3),
        (995, "tonnage_1h", "b", 2.0),
        (998, "tonnage_1h", "c", 1.0),
        (1_000, "tonnage_1h", "c", 0),  # back to absent exactly at midnight
    ]
    assert cut.feed(warmup) == []
    after = [(1_001, "shipments_1m", "a", 4), (1_002, "on_time_rate_1h", "a", None)]
    assert cut.feed(after) == [
        (1_000, "shipments_1m", "a", 3),
        (1_000, "tonnage_1h", "b", 2.0),
        *after,
    ]
    tail = [(87_399, "shipments_1m", "a", 5), (87_400, "shipments_1m", "a", 6)]
    assert cut.feed(tail) == [(87_399, "shipments_1m", "a", 5)]
    assert cut.finish() == []
    # A run whose changes all fall before midnight still opens the day.
    quiet = days.DayCut(day)
    assert quiet.feed([(999, "shipments_1m", "a", 1)]) == []
    assert quiet.finish() == [(1_000, "shipments_1m", "a", 1)]


def test_history_configuration():
    from pathlib import Path

    from pulseboard.config import ConfigError, config_from_env
    from pulseboard.topics import topic_configs

    c = config_from_env({"PULSEBOARD_STATE_DIR": "/s", "PULSEBOARD_TOPIC_PREFIX": "p."})
    assert c.history_retention_days == 30
    assert c.history_index_dir == Path("/s/history/p.indicators.history")
    assert topic_configs(c, "indicators.history")["retention.ms"] == str(30 * 86_400_000)
    assert topic_configs(c, "anomalies")["retention.ms"] == str(30 * 86_400_000)
    c = config_from_env(
        {"PULSEBOARD_HISTORY_RETENTION_DAYS": "0.5", "PULSEBOARD_HISTORY_DIR": "/i"}
    )
    assert topic_configs(c, "indicators.history")["retention.ms"] == "43200000"
    # Call-outs annotate the history: half a day is 12 h = 43,200,000 ms for both.
    assert topic_configs(c, "anomalies")["retention.ms"] == "43200000"
    assert topic_configs(c, "anomalies")["cleanup.policy"] == "delete"
    assert c.history_index_dir == Path("/i")
    for bad in ("0", "-1", "x"):
        with pytest.raises(ConfigError, match="PULSEBOARD_HISTORY_RETENTION_DAYS"):
            config_from_env({"PULSEBOARD_HISTORY_RETENTION_DAYS": bad})
