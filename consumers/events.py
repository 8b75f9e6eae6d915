"""Typed event schema (SPEC section 3) as msgspec Structs.

The constraints live in the types, so msgspec validates a record in C while decoding it:
JSON integers only for ints (``1.0`` and ``true`` are rejected), finite numbers, enums as
Literals, ids 1..64 code points, region codes as a Literal of the nine prefectures. Unknown
extra fields are skipped. The ``*Line`` subclasses add the log file's ``ingest_ts`` field
(SPEC section 5); the plain classes ignore an ``ingest_ts`` field like any other extra.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from msgspec import Meta, Struct

from pulseboard.spec import CARGO, REGIONS, SECTORS

# Ints must fit a signed 64-bit integer: Kafka timestamps are int64 and consumers in
# other languages must be able to read the same events.
INT64_MAX: Final = 2**63 - 1

REGION_ORDER: Final = tuple(r.code for r in REGIONS)

Version = Literal[1]
EventId = Annotated[str, Meta(min_length=1, max_length=64)]
EpochMs = Annotated[int, Meta(ge=0, le=INT64_MAX)]
RegionCode = Literal[REGION_ORDER]  # type: ignore[valid-type]
# \Z, not $: Python's $ also matches before a trailing newline.
Dest = Annotated[str, Meta(pattern="^(?:" + "|".join(REGION_ORDER) + r"|CN-[A-Z]{2})\Z")]
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}\Z")]
Cargo = Literal[CARGO]  # type: ignore[valid-type]
Sector = Literal[SECTORS]  # type: ignore[valid-type]
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


def event_type(event: Event) -> str:
    """The SPEC ``type`` of a decoded event (msgspec keeps the tag in the class, not a field)."""
    return type(event).__struct_config__.tag  # type: ignore[return-value]
