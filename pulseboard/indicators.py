"""Indicator vocabulary (SPEC section 7) and value rules (SPEC section 8)."""

from __future__ import annotations

from enum import Enum
from typing import Final

import msgspec

Value = int | float | None


class Kind(Enum):
    COUNT = "count"  # JSON int; absent = 0
    SUM = "sum"  # JSON number; absent = 0
    RATE = "rate"  # JSON number or null (ratios and means); absent = null


KINDS: Final[dict[str, Kind]] = {
    "shipments_1m": Kind.COUNT,
    "shipments_today": Kind.COUNT,
    "tonnage_1h": Kind.SUM,
    "freight_value_1h": Kind.SUM,
    "freight_value_today": Kind.SUM,
    "export_value_1h": Kind.SUM,
    "export_value_by_country_1h": Kind.SUM,
    "corridor_shipments_15m": Kind.COUNT,
    "active_trucks_5m": Kind.COUNT,
    "deliveries_1h": Kind.COUNT,
    "on_time_rate_1h": Kind.RATE,
    "avg_transit_min_1h": Kind.RATE,
    "sector_value_1h": Kind.SUM,
    "output_value_1h": Kind.SUM,
    "digital_share_1h": Kind.RATE,
    "dc_power_mw_5m": Kind.SUM,
    "dc_utilization_5m": Kind.RATE,
}

# Records are ordered by name (SPEC section 8); str order = byte order for these ASCII names.
NAMES: Final = tuple(sorted(KINDS))

ABSENT: Final[dict[str, Value]] = {
    name: (None if kind is Kind.RATE else 0) for name, kind in KINDS.items()
}


def same_value(a: Value, b: Value) -> bool:
    """SPEC section 8 equality: within max(1e-9 * |v|, 1e-6); null equals only null.

    |v| is taken as the larger magnitude so the relation is symmetric. Counts are exact
    ints and compared exactly (the tolerance is < 1 for any count below 1e9)."""
    if a is None or b is None:
        return a is b
    if type(a) is int and type(b) is int:
        return a == b
    return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-6)


class Record(msgspec.Struct, frozen=True, gc=False):
    """One indicator value as of ``t`` (final, or provisional for the screen). Encodes as
    ``{"t":..,"name":..,"key":..,"value":..}``: field order is the JSON key order."""

    t: int
    name: str
    key: str
    value: Value
