"""Indicator records as the push server reads them, and its table of current values."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.fake_feed import FakeIndicators, encode, indicator_key
from web.indicators import Applied, BadRecord, Indicator, IndicatorTable, Removal, parse_record
from web.metadata import INDICATOR_NAMES


def test_a_record_parses_with_and_without_ingest_ts():
    raw = b'{"t": 1764000060, "name": "shipments_1m", "key": "520100", "value": 17, "final": true}'
    assert parse_record(b"shipments_1m|520100", raw) == Indicator(
        "shipments_1m", "520100", 17, 1764000060, True, None
    )
    with_ingest = orjson.dumps(
        {"t": 5, "name": "sector_value_1h", "key": "520100|big_data", "value": 1.5,
         "final": False, "ingest_ts": 5123}
    )  # fmt: skip
    assert parse_record(None, with_ingest).ingest_ms == 5123
    null = b'{"t": 5, "name": "on_time_rate_1h", "key": "520100", "value": null, "final": false}'
    assert parse_record(None, null).value is None


def test_a_tombstone_is_a_removal_split_at_the_first_bar():
    assert parse_record(b"sector_value_1h|520100|liquor", None) == Removal(
        "sector_value_1h", "520100|liquor"
    )
    with pytest.raises(BadRecord):
        parse_record(None, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not_json"),
        (b"[1]", "not_object"),
        (b'{"t": 1, "key": "k", "value": 1, "final": true}', "bad_name"),
        (b'{"t": 1, "name": "n", "key": 5, "value": 1, "final": true}', "bad_key"),
        (b'{"t": 1.5, "name": "n", "key": "k", "value": 1, "final": true}', "bad_t"),
        (b'{"t": true, "name": "n", "key": "k", "value": 1, "final": true}', "bad_t"),
        (b'{"t": 1, "name": "n", "key": "k", "value": "1", "final": true}', "bad_value"),
        (b'{"t": 1, "name": "n", "key": "k", "value": false, "final": true}', "bad_value"),
        (b'{"t": 1, "name": "n", "key": "k", "value": 1, "final": 1}', "bad_final"),
        (b'{"t": 1, "name": "n", "key": "k", "value": 1, "final": true, "ingest_ts": "x"}',
         "bad_ingest_ts"),
    ],
)  # fmt: skip
def test_records_that_are_not_indicators_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(BadRecord, match=reason):
        parse_record(b"n|k", raw)


def test_the_greatest_t_wins_and_on_equal_t_the_last_arrival():
    table = IndicatorTable.empty()
    assert table.apply(Indicator("x", "k", 1, 10, False)) is Applied.CHANGED
    assert table.apply(Indicator("x", "k", 2, 9, True)) is Applied.OLDER
    assert table.apply(Indicator("x", "k", 3, 10, True)) is Applied.CHANGED  # final after
    assert table.apply(Indicator("x", "k", 3, 10, True)) is Applied.SAME
    assert table.apply(Indicator("x", "k", 4, 10, False)) is Applied.CHANGED  # last wins
    assert table.values[("x", "k")].value == 4
    assert table.apply(Removal("x", "k")) is Applied.REMOVED
    assert table.apply(Removal("x", "k")) is Applied.SAME


records = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 5), st.integers(-3, 3)), max_size=40
)


@given(records)
def test_the_table_equals_the_last_arrival_among_the_greatest_t(rs):
    table = IndicatorTable.empty()
    for name, t, v in rs:
        table.apply(Indicator(name, "k", v, t, False))
    for name in ("a", "b"):
        mine = [(t, v) for n, t, v in rs if n == name]
        if not mine:
            assert (name, "k") not in table.values
            continue
        best = max(t for t, _ in mine)
        expected = [v for t, v in mine if t == best][-1]
        assert table.values[(name, "k")].value == expected


def test_the_fake_feed_speaks_the_contract():
    model = FakeIndicators(seed=3)
    full = model.all_records(1_764_000_000, 1_764_000_000_000)
    names = {r["name"] for r in full}
    assert names == INDICATOR_NAMES
    for r in full:
        parsed = parse_record(indicator_key(r["name"], r["key"]), encode(r))
        assert isinstance(parsed, Indicator) and parsed.ingest_ms == 1_764_000_000_000
    keys = {(r["name"], r["key"]) for r in full}
    assert ("corridor_shipments_15m", "520100>CN-CQ") in keys
    assert ("sector_value_1h", "520000|big_data") in keys
    step = model.step(1_764_000_001)
    assert 0 < len(step) < len(full) + 1
    assert {(r["name"], r["key"]) for r in step} <= keys
