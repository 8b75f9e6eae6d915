"""The fixed vocabulary of the data contract (../shared/SPEC.md sections 2-4): what is the
same for every region pack. Places, cargo, sectors, currency and time zone are the pack's
(SPEC section 10, pulseboard/packs/).

Everything here is data, not behaviour, so producers, consumers and the web page
agree on one set of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pulseboard import packs

FREIGHT_TYPES: Final = ("shipment", "position", "delivery")
SECTOR_TYPES: Final = ("output", "dc_load")
EVENT_TYPES: Final = FREIGHT_TYPES + SECTOR_TYPES

SCHEMA_VERSION: Final = 1

# Topic base names; a configurable prefix is prepended at runtime.
TOPIC_FREIGHT: Final = "freight.events"
TOPIC_SECTOR: Final = "sector.events"
TOPIC_INDICATORS: Final = "indicators"
TOPIC_DLQ: Final = "events.dlq"

DEFAULT_LATENESS_MS: Final = 30_000
DEFAULT_FUTURE_MS: Final = 5_000


def topic_for_type(event_type: str) -> str:
    """The events topic a given event type is published to."""
    return TOPIC_FREIGHT if event_type in FREIGHT_TYPES else TOPIC_SECTOR


def event_key(event: dict) -> str:
    """Kafka record key for an event (SPEC section 2)."""
    etype = event["type"]
    if etype in FREIGHT_TYPES:
        return str(event["truck_id"])
    if etype == "dc_load":
        return str(event["dc_id"])
    return f"{event['region']}|{event['sector']}"


# ---------------------------------------------------------------------------------------
# The default pack's places and sectors under their former names, for the wall's metadata and
# fake feed (web/), which read them until they take the pack from ``config.pack``. Derived
# from the pack file, so no place is written here; nothing outside web/ may use them.


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name_en: str
    name_zh: str
    lon: float
    lat: float


_DEFAULT: Final = packs.load(packs.DEFAULT_PACK)
PROVINCE: Final = _DEFAULT.province.code
REGIONS: Final[tuple[Region, ...]] = tuple(
    Region(r.code, r.name("en"), r.name("zh"), r.lon, r.lat) for r in _DEFAULT.regions
)
SECTORS: Final = _DEFAULT.sector_codes
DIGITAL_SECTORS: Final = _DEFAULT.digital_sectors
