"""Typed event schema (SPEC section 3) as msgspec Structs.

The constraints live in the types, so msgspec validates a record in C while decoding it:
JSON integers only for ints (``1.0`` and ``true`` are rejected), finite numbers, enums as
Literals, ids 1..64 code points. Unknown extra fields are skipped. The ``*Line`` subclasses
add the log file's ``ingest_ts`` field (SPEC section 5); the plain classes ignore an
``ingest_ts`` field like any other extra.

Codes of places, cargo and sectors depend on the region pack (SPEC section 10), so the
classes here type them as plain strings and ``schema_for(pack)`` derives, once per pack,
subclasses that narrow them to the pack's Literals: msgspec still checks them in C, and
``isinstance(ev, Shipment)`` holds for every pack's shipments. Tables keyed by event class
are ``TypeTable``s, which find a pack's class through its base.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, reduce
from typing import Annotated, Any, Final, Literal

from msgspec import Meta, Struct, defstruct

from pulseboard.packs import RegionPack

# Ints must fit a signed 64-bit integer: Kafka timestamps are int64 and consumers in
# other languages must be able to read the same events.
INT64_MAX: Final = 2**63 - 1

Version = Literal[1]
EventId = Annotated[str, Meta(min_length=1, max_length=64)]
EpochMs = Annotated[int, Meta(ge=0, le=INT64_MAX)]
# Narrowed per pack by schema_for(); see the module doc.
RegionCode = str
Dest = str
Cargo = str
Sector = str
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}\Z")]
NonNegInt = Annotated[int, Meta(ge=0, le=INT64_MAX)]
PositiveInt = Annotated[int, Meta(gt=0, le=INT64_MAX)]
NonNegNumber = Annotated[float, Meta(ge=0)]
Fraction01 = Annotated[float, Meta(ge=0, le=1)]


# gc=False: events hold only str/int/float/None, so they can never be part of a reference
# cycle, and skipping GC tracking makes decoding a million of them measurably cheaper.
class _Event(Struct, tag_field="type", gc=False):
    v: Version
    id: EventId
    ts: EpochMs


class Shipment(_Event, tag="shipment"):
    truck_id: str
    shipment_id: str
    shipper_id: str
    origin: RegionCode
    dest: Dest
    cargo: Cargo
    weight_kg: PositiveInt
    value_cny: NonNegNumber
    export_country: Country | None


class Position(_Event, tag="position"):
    truck_id: str
    region: RegionCode
    lat: float
    lon: float
    speed_kmh: NonNegNumber
    loaded: bool


class Delivery(_Event, tag="delivery"):
    truck_id: str
    shipment_id: str
    dest: Dest
    on_time: bool
    transit_s: NonNegInt


class Output(_Event, tag="output"):
    sector: Sector
    region: RegionCode
    value_cny: NonNegNumber


class DcLoad(_Event, tag="dc_load"):
    dc_id: str
    region: RegionCode
    it_load_mw: NonNegNumber
    utilization: Fraction01


class ShipmentLine(Shipment, tag="shipment"):
    ingest_ts: EpochMs


class PositionLine(Position, tag="position"):
    ingest_ts: EpochMs


class DeliveryLine(Delivery, tag="delivery"):
    ingest_ts: EpochMs


class OutputLine(Output, tag="output"):
    ingest_ts: EpochMs


class DcLoadLine(DcLoad, tag="dc_load"):
    ingest_ts: EpochMs


Event = Shipment | Position | Delivery | Output | DcLoad
LineEvent = ShipmentLine | PositionLine | DeliveryLine | OutputLine | DcLoadLine

EVENT_CLASSES: Final = (Shipment, Position, Delivery, Output, DcLoad)
LINE_CLASSES: Final = (ShipmentLine, PositionLine, DeliveryLine, OutputLine, DcLoadLine)

# Which fields of which event hold a pack's codes (the rest is the same for every pack).
_PLACE_FIELDS: Final = {
    "shipment": ("origin", "dest", "cargo"),
    "position": ("region",),
    "delivery": ("dest",),
    "output": ("sector", "region"),
    "dc_load": ("region",),
}


@dataclass(frozen=True, slots=True)
class Schema:
    """The event types of one pack: decode into ``event`` (Kafka values) or ``line`` (log
    lines); every class is a subclass of the generic class of the same name above."""

    event: Any
    line: Any
    classes: tuple[type, ...]
    line_classes: tuple[type, ...]


def schema_for(pack: RegionPack) -> Schema:
    """The event types whose codes are ``pack``'s (SPEC section 10)."""
    return _schema(
        tuple(r.code for r in pack.regions),
        tuple(sorted(pack.exit_codes)),
        pack.exit_pattern,
        pack.cargo,
        pack.sector_codes,
    )


@cache
def _schema(
    regions: tuple[str, ...],
    exits: tuple[str, ...],
    exit_pattern: str,
    cargo: tuple[str, ...],
    sectors: tuple[str, ...],
) -> Schema:
    # Exits the pattern allows anyway are left out, so the rule (quoted in DLQ details) says
    # what it did before packs: the regions, then the pattern.
    listed = [c for c in exits if not (exit_pattern and re.fullmatch(exit_pattern, c))]
    allowed = [
        *(_literal(c) for c in (*regions, *listed)),
        *([exit_pattern] if exit_pattern else []),
    ]
    # \Z, not $: Python's $ also matches before a trailing newline.
    dest_rule = "^(?:" + "|".join(allowed) + r")\Z"
    types: dict[str, Any] = {
        "origin": Literal[regions],  # type: ignore[valid-type]
        "region": Literal[regions],  # type: ignore[valid-type]
        "dest": Annotated[str, Meta(pattern=dest_rule)],
        "cargo": Literal[cargo],  # type: ignore[valid-type]
        "sector": Literal[sectors],  # type: ignore[valid-type]
    }
    classes = []
    line_classes = []
    for base, line_base in zip(EVENT_CLASSES, LINE_CLASSES, strict=True):
        tag = base.__struct_config__.tag
        fields = [(f, types[f]) for f in _PLACE_FIELDS[tag]]
        cls = defstruct(base.__name__, fields, bases=(base,), tag_field="type", tag=tag)
        line = defstruct(
            line_base.__name__, [("ingest_ts", EpochMs)], bases=(cls,), tag_field="type", tag=tag
        )
        classes.append(cls)
        line_classes.append(line)
    return Schema(
        event=reduce(operator.or_, classes),
        line=reduce(operator.or_, line_classes),
        classes=tuple(classes),
        line_classes=tuple(line_classes),
    )


def _literal(code: str) -> str:
    # Pack codes are letters, digits, "-" and "_" (the loader checks): literal in a regex
    # as they are, which keeps the rule readable in DLQ details.
    return code if re.fullmatch(r"[A-Za-z0-9_-]+", code) else re.escape(code)


class TypeTable(dict[type, Callable[..., Any]]):
    """A table keyed by event class that also answers for a pack's subclasses (found through
    the class's bases, then remembered)."""

    def __missing__(self, cls: type) -> Callable[..., Any]:
        for base in cls.__mro__[1:]:
            if dict.__contains__(self, base):
                found = dict.__getitem__(self, base)
                self[cls] = found
                return found
        raise KeyError(cls)


def event_type(event: Event) -> str:
    """The SPEC ``type`` of a decoded event (msgspec keeps the tag in the class, not a field)."""
    return type(event).__struct_config__.tag  # type: ignore[return-value]
