"""The internal topic's bucket codec: exact round trips, wide ints, thin decoding, chunking."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.aggregate.codec import (
    PROVISIONAL,
    SEALED,
    chunk_entries,
    decode_entry,
    decode_message,
    encode_entry,
    encode_message,
)
from consumers.buckets import Bucket
from pulseboard import packs

GUIZHOU = packs.load("guizhou")
REGION_CODES = GUIZHOU.region_codes
SECTORS = GUIZHOU.sector_codes

REGIONS = sorted(REGION_CODES)
text = st.text(min_size=1, max_size=12)  # any Unicode, including "|", quotes, newlines
big = st.integers(min_value=0, max_value=2**80)  # beyond 64 bits too
small = st.integers(min_value=0, max_value=10**12)


def encode_bucket(b: Bucket) -> bytes:
    """A lone bucket: the entry of second 0 ingested at 0."""
    return encode_entry(0, 0, b)


def decode_bucket(raw: bytes) -> Bucket:
    return decode_entry(orjson.loads(raw))[2]


@st.composite
def buckets(draw: st.DrawFn, ints: st.SearchStrategy[int] = small) -> Bucket:
    b = Bucket()
    b.ship = draw(st.dictionaries(st.sampled_from(REGIONS), st.lists(ints, min_size=4, max_size=4)))
    b.corridor = draw(st.dictionaries(text, ints, max_size=4))
    b.country = draw(st.dictionaries(st.sampled_from(["US", "VN", "DE"]), ints))
    b.trucks = draw(
        st.dictionaries(st.sampled_from(REGIONS), st.sets(text, min_size=1, max_size=5))
    )
    b.deliv = draw(st.dictionaries(text, st.lists(ints, min_size=3, max_size=3), max_size=4))
    b.output = draw(
        st.dictionaries(st.tuples(st.sampled_from(REGIONS), st.sampled_from(SECTORS)), ints)
    )
    b.dc = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(REGIONS), text),
            st.tuples(
                st.integers(min_value=0, max_value=2**63 - 1), text, ints, st.integers(0, 10**6)
            ),
            max_size=4,
        )
    )
    return b


@settings(max_examples=300, deadline=None)
@given(buckets())
def test_round_trip_is_exact(b: Bucket) -> None:
    back = decode_bucket(encode_bucket(b))
    assert back.canonical() == b.canonical()
    # Types survive too (the windows compare ints exactly and unpack rows).
    for row in back.ship.values():
        assert all(type(x) is int for x in row)
    for reading in back.dc.values():
        assert type(reading) is tuple


@settings(max_examples=100, deadline=None)
@given(buckets(big))
def test_wide_ints_round_trip(b: Bucket) -> None:
    raw = encode_bucket(b)
    back = decode_bucket(raw)
    assert back.canonical() == b.canonical()


def test_wide_int_is_flagged_and_narrow_is_not() -> None:
    b = Bucket()
    b.output[("520100", "software")] = 2**70
    wide = encode_entry(5, 7, b)
    assert orjson.loads(wide)[3] == 1
    b.output[("520100", "software")] = 2**62
    assert len(orjson.loads(encode_entry(5, 7, b))) == 3


def test_empty_bucket_is_tiny() -> None:
    assert encode_bucket(Bucket()) == b"[0,0,{}]"


def test_message_round_trip_and_thin_decoding() -> None:
    b = Bucket()
    b.ship["520100"] = [1, 2000, 3_500_000, 0]
    b.trucks["520100"] = {"T1", "T2"}
    b.dc[("520100", "DC|1")] = (1000, "e1", 5, 6)
    entries = [encode_entry(s, 1000 * s, b) for s in (10, 11, 12)]
    raw = encode_message(
        SEALED, "freight.events:2", "sid", start=10, through=13, hi=12_345, wm=99, entries=entries
    )
    m = decode_message(raw)
    assert (m.kind, m.src, m.sid, m.start, m.through, m.empty, m.hi, m.wm) == (
        SEALED,
        "freight.events:2",
        "sid",
        10,
        13,
        False,
        12_345,
        99,
    )
    assert [(s, i) for s, i, _ in m.entries] == [(10, 10_000), (11, 11_000), (12, 12_000)]
    assert all(e[2].canonical() == b.canonical() for e in m.entries)
    thin = decode_message(raw, thin_before=12)
    assert [bool(e[2].trucks) for e in thin.entries] == [False, False, True]
    assert [bool(e[2].dc) for e in thin.entries] == [False, False, True]
    assert all(e[2].ship == b.ship for e in thin.entries)


def test_empty_and_provisional_messages() -> None:
    empty = decode_message(encode_message(SEALED, "s:0", "x", start=None, through=None, empty=True))
    assert empty.empty and empty.through is None and empty.entries == []
    prov = decode_message(encode_message(PROVISIONAL, "s:0", "x", start=None, through=4))
    assert prov.kind == PROVISIONAL and prov.through == 4


def test_chunking_keeps_order_and_bounds() -> None:
    items = [(s, b"x" * 100) for s in range(50)]
    runs = list(chunk_entries(items, 1000))
    assert [s for run in runs for s, _ in run] == list(range(50))
    assert all(sum(len(e) + 1 for _, e in run) <= 1000 for run in runs)
    # An entry larger than the limit travels alone.
    runs = list(chunk_entries([(1, b"y" * 5000), (2, b"z")], 1000))
    assert [[s for s, _ in run] for run in runs] == [[1], [2]]
