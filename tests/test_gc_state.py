"""The windows' long-lived state is invisible to CPython's cyclic collector, the collector's
pauses are measured, and the start-up freeze leaves later garbage collectable."""

from __future__ import annotations

import gc
import weakref

import orjson
from prometheus_client import CollectorRegistry

from consumers.aggregate.codec import decode_entry, encode_entry
from consumers.buckets import Bucket
from consumers.events import DcLoad, Delivery, Position, Shipment
from consumers.windows import Windows
from pulseboard import packs
from pulseboard.gc_pauses import freeze_start_up, gc_pause_histogram, watch_gc_pauses

PACK = packs.load("guizhou")
T0 = 1_780_000_000  # a second of event time


def _bucket(s: int) -> Bucket:
    """One second of hand-made events: two positions, a shipment, a delivery, a dc reading."""
    b = Bucket()
    ms = s * 1000
    b.add_position(Position(1, "p1", ms, "GZ-T1", "520100", 26.6, 106.7, 40.0, True))
    b.add_position(Position(1, "p2", ms, "GZ-T2", "520300", 27.7, 106.9, 0.0, False))
    b.add_shipment(
        Shipment(1, "s1", ms, "GZ-T1", "SH1", "X1", "520100", "CN-GD", "coal", 2000, 3.5, "VN")
    )
    b.add_delivery(Delivery(1, "d1", ms, "GZ-T2", "SH0", "520300", True, 600))
    b.add_dc_load(DcLoad(1, "l1", ms, "DC1", "520100", 12.5, 0.5))
    return b


def _containers(b: Bucket) -> list[object]:
    """Every container a kept bucket holds (the bucket object itself is tracked: one per
    second, 3,600 an hour, each with seven references)."""
    parts: list[object] = [b.ship, b.corridor, b.country, b.trucks, b.deliv, b.output, b.dc]
    parts += list(b.ship.values()) + list(b.deliv.values()) + list(b.trucks.values())
    parts += list(b.output) + list(b.dc) + list(b.dc.values())
    return parts


def test_kept_buckets_and_truck_maps_are_untracked() -> None:
    w = Windows(PACK)
    for s in range(T0, T0 + 3):
        w.push(s, _bucket(s))
    # A bucket as the finalizer decodes it from the internal topic (rows are lists).
    decoded = decode_entry(orjson.loads(encode_entry(T0 + 3, 0, _bucket(T0 + 3))))[2]
    assert type(decoded.ship["520100"]) is list
    w.push(T0 + 3, decoded)
    w.advance(T0 + 4)
    assert w.value("active_trucks_5m", PACK.province.code) == 2
    # A collection untracks the tuples it finds holding atomics only, then the dicts holding
    # atomics and untracked tuples; a tuple nested in a tuple (a dc's (second, reading))
    # needs a second pass. A running service collects over and over.
    gc.collect()
    gc.collect()
    kept = [w.store[s] for s in range(T0, T0 + 4)]
    # Per bucket: ship, corridor, country, trucks, deliv, output, dc (7 dicts); 1 ship row,
    # 1 deliv row, 2 truck-id dicts (two regions), no output key, 1 dc key, 1 reading: 13.
    parts = [p for b in kept for p in _containers(b)]
    assert len(parts) == 4 * 13
    # Only the region -> ids map stays tracked (CPython tracks a dict holding dicts): a few
    # regions to traverse per bucket, never the ids themselves.
    assert [p for p in parts if gc.is_tracked(p)] == [b.trucks for b in kept]
    assert all(type(row) is tuple for b in kept for row in (*b.ship.values(), *b.deliv.values()))
    # The windows' per-truck and per-dc maps: 3 keys (two regions and the province) each.
    maps = [*w.trucks.values(), *w.dc_latest.values()]
    assert len(maps) == 3 + 2
    assert [m for m in maps if gc.is_tracked(m)] == []


def test_decoded_truck_ids_share_one_string() -> None:
    a = decode_entry(orjson.loads(encode_entry(T0, 0, _bucket(T0))))[2]
    b = decode_entry(orjson.loads(encode_entry(T0 + 1, 0, _bucket(T0 + 1))))[2]
    [ta] = a.trucks["520100"]
    [tb] = b.trucks["520100"]
    assert ta == "GZ-T1" and ta is tb


def test_pause_histogram_counts_a_forced_collection() -> None:
    registry = CollectorRegistry()
    hist = gc_pause_histogram(registry)

    def full_collections() -> float:
        return registry.get_sample_value("pulseboard_gc_pause_seconds_count", {"generation": "2"})

    with watch_gc_pauses(hist):
        before = full_collections()
        gc.collect()
        after = full_collections()
    gc.collect()  # outside the block: not counted any more
    assert (before, after) == (0.0, 1.0)
    assert full_collections() == 1.0
    assert registry.get_sample_value("pulseboard_gc_pause_seconds_sum", {"generation": "2"}) > 0


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_freeze_leaves_later_cycles_collectable() -> None:
    old = _Node()  # alive at the freeze: moved to the permanent generation
    try:
        freeze_start_up()
        assert gc.get_freeze_count() > 0
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle made after the freeze
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
    assert old.other is None
