"""Per-second aggregates of counted events (SPEC section 6 buckets) and per-partition state.

A ``Bucket`` holds everything the indicators need about the counted events of one second of
event time, already reduced: counts and sums as exact ints (money and megawatts in micro
units, see ``micro``), the set of trucks seen per region, and the best ``dc_load`` reading
per (region, dc). Buckets are *mergeable*: merging the buckets of several partitions gives
exactly the bucket one partition fed all their events would hold (sums add, sets union,
best readings take the maximum), whatever the split and the order of events.

The windows keep an hour of buckets, so their parts are containers of atomics only: rows are
tuples of ints, and a set of truck ids is a ``dict`` of ids to None. CPython's cyclic garbage
collector stops tracking such tuples and dicts (``gc.is_tracked``), so a full collection does
not traverse them; a ``set`` or ``list`` would be traversed, element by element, at every
full collection for as long as the window keeps it. Rows decoded from the internal topic
arrive as lists; ``compact`` turns them into tuples before a bucket is kept.

A ``Partial`` is the not-yet-final buckets of one source partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from consumers.events import (
    DcLoad,
    DcLoadLine,
    Delivery,
    DeliveryLine,
    Output,
    OutputLine,
    Position,
    PositionLine,
    Shipment,
    ShipmentLine,
    TypeTable,
)

MICRO: Final = 1_000_000

# Best dc_load reading ordering key: greatest ts, then greatest id (SPEC section 7); the
# two values last only so that even duplicate ids give an order-independent result.
Reading = tuple[int, str, int, int]  # (ts, id, it_load_micro, utilization_micro)

# A row of sums: a tuple when built here, a list as decoded (until ``Bucket.compact``).
# Shipments: (count, weight_kg, value_micro, export_value_micro);
# deliveries: (count, on_time_count, transit_s_sum).
Row = Sequence[int]

# A set of truck ids as a dict of id -> None (insertion-ordered; see the module doc).
TruckIds = dict[str, None]


# Floats from 2**53 up are whole numbers, and x * MICRO could overflow to infinity (from
# about 1.8e302): take them exactly instead.
_WHOLE: Final = float(2**53)


def micro(x: float) -> int:
    """A non-negative finite number as an int count of millionths (round half to even).

    Quantising each event once makes every sum an exact int: independent of event order and
    of how events are split across partitions. The error is at most 0.5e-6 per event."""
    return round(x * MICRO) if x < _WHOLE else int(x) * MICRO


class Bucket:
    """Reduced counted events of one second (see module doc)."""

    __slots__ = ("corridor", "country", "dc", "deliv", "output", "ship", "trucks")

    def __init__(self) -> None:
        # origin -> (count, weight_kg, value_micro, export_value_micro)
        self.ship: dict[str, Row] = {}
        # "origin>dest" -> count
        self.corridor: dict[str, int] = {}
        # export_country -> value_micro
        self.country: dict[str, int] = {}
        # region -> truck ids with a position there in this second
        self.trucks: dict[str, TruckIds] = {}
        # dest (a region code, or a code outside the area) -> (count, on_time_count, transit_s_sum)
        self.deliv: dict[str, Row] = {}
        # (region, sector) -> value_micro
        self.output: dict[tuple[str, str], int] = {}
        # (region, dc_id) -> best reading
        self.dc: dict[tuple[str, str], Reading] = {}

    def add_shipment(self, ev: Shipment) -> None:
        value = micro(ev.value_cny)
        country = ev.export_country
        export = 0 if country is None else value
        row = self.ship.get(ev.origin)
        if row is None:
            self.ship[ev.origin] = (1, ev.weight_kg, value, export)
        else:
            n, weight, total, exports = row
            self.ship[ev.origin] = (n + 1, weight + ev.weight_kg, total + value, exports + export)
        if country is not None:
            self.country[country] = self.country.get(country, 0) + value
        pair = ev.origin + ">" + ev.dest
        self.corridor[pair] = self.corridor.get(pair, 0) + 1

    def add_position(self, ev: Position) -> None:
        ids = self.trucks.get(ev.region)
        if ids is None:
            self.trucks[ev.region] = {ev.truck_id: None}
        else:
            ids[ev.truck_id] = None

    def add_delivery(self, ev: Delivery) -> None:
        on_time = 1 if ev.on_time else 0
        row = self.deliv.get(ev.dest)
        if row is None:
            self.deliv[ev.dest] = (1, on_time, ev.transit_s)
        else:
            n, ok, transit = row
            self.deliv[ev.dest] = (n + 1, ok + on_time, transit + ev.transit_s)

    def add_output(self, ev: Output) -> None:
        key = (ev.region, ev.sector)
        self.output[key] = self.output.get(key, 0) + micro(ev.value_cny)

    def add_dc_load(self, ev: DcLoad) -> None:
        key = (ev.region, ev.dc_id)
        reading = (ev.ts, ev.id, micro(ev.it_load_mw), micro(ev.utilization))
        old = self.dc.get(key)
        if old is None or reading > old:
            self.dc[key] = reading

    def merge_from(self, other: Bucket) -> None:
        """Add ``other``'s events into this bucket (``other`` is not changed)."""
        _add_rows(self.ship, other.ship)
        _add_counts(self.corridor, other.corridor)
        _add_counts(self.country, other.country)
        for region, ids in other.trucks.items():
            mine_ids = self.trucks.get(region)
            if mine_ids is None:
                self.trucks[region] = dict.fromkeys(ids)
            else:
                mine_ids.update(dict.fromkeys(ids))
        _add_rows(self.deliv, other.deliv)
        _add_counts(self.output, other.output)
        for key, reading in other.dc.items():
            old = self.dc.get(key)
            if old is None or reading > old:
                self.dc[key] = reading

    def compact(self) -> None:
        """Make every row a tuple (decoded rows are lists), so that the garbage collector
        stops tracking what the bucket holds (see the module doc)."""
        for rows in (self.ship, self.deliv):
            for key, row in rows.items():
                if type(row) is not tuple:
                    rows[key] = tuple(row)

    def canonical(self) -> dict[str, Any]:
        """Plain comparable form (tests use it to check merge laws)."""
        return {
            "ship": {k: list(v) for k, v in self.ship.items()},
            "corridor": dict(self.corridor),
            "country": dict(self.country),
            "trucks": {k: sorted(v) for k, v in self.trucks.items()},
            "deliv": {k: list(v) for k, v in self.deliv.items()},
            "output": dict(self.output),
            "dc": dict(self.dc),
        }


def _add_counts(mine: dict[Any, int], other: dict[Any, int]) -> None:
    for key, x in other.items():
        mine[key] = mine.get(key, 0) + x


def _add_rows(mine: dict[str, Row], other: dict[str, Row]) -> None:
    for key, row in other.items():
        have = mine.get(key)
        if have is None:
            mine[key] = tuple(row)
        else:
            mine[key] = tuple(a + b for a, b in zip(have, row, strict=True))


def merge_buckets(buckets: Iterable[Bucket]) -> Bucket:
    """A new bucket holding the events of all ``buckets`` (inputs are not changed)."""
    merged = Bucket()
    for b in buckets:
        merged.merge_from(b)
    return merged


# Event class -> the Bucket method that adds it (log-line and pack subclasses included).
ADDERS: Final[dict[type, Callable[[Bucket, Any], None]]] = TypeTable(
    {
        Shipment: Bucket.add_shipment,
        ShipmentLine: Bucket.add_shipment,
        Position: Bucket.add_position,
        PositionLine: Bucket.add_position,
        Delivery: Bucket.add_delivery,
        DeliveryLine: Bucket.add_delivery,
        Output: Bucket.add_output,
        OutputLine: Bucket.add_output,
        DcLoad: Bucket.add_dc_load,
        DcLoadLine: Bucket.add_dc_load,
    }
)


class Partial:
    """Not-yet-final buckets of one source partition, keyed by event-time second.

    Dropping a Partial (partition revoked) loses only its unsealed seconds; feeding the
    partition's events again from ``Engine.resume_ingest_ms()`` rebuilds it exactly."""

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: dict[int, Bucket] = {}

    def merged_with(self, others: Iterable[Partial]) -> Partial:
        """A new Partial equal to one fed the events of ``self`` and ``others``."""
        out = Partial()
        for p in (self, *others):
            for s, b in p.buckets.items():
                mine = out.buckets.get(s)
                if mine is None:
                    out.buckets[s] = mine = Bucket()
                mine.merge_from(b)
        return out
