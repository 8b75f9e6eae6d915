"""The fixed vocabulary of the data contract (../shared/SPEC.md sections 1-3).

Everything here is data, not behaviour, so producers, consumers and the web page
agree on one set of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name_en: str
    name_zh: str
    lon: float
    lat: float


PROVINCE: Final = "520000"

REGIONS: Final[tuple[Region, ...]] = (
    Region("520100", "Guiyang", "贵阳市", 106.713, 26.578),
    Region("520200", "Liupanshui", "六盘水市", 104.847, 26.585),
    Region("520300", "Zunyi", "遵义市", 106.937, 27.707),
    Region("520400", "Anshun", "安顺市", 105.932, 26.246),
    Region("520500", "Bijie", "毕节市", 105.285, 27.302),
    Region("520600", "Tongren", "铜仁市", 109.192, 27.718),
    Region("522300", "Qianxinan", "黔西南布依族苗族自治州", 104.898, 25.088),
    Region("522600", "Qiandongnan", "黔东南苗族侗族自治州", 107.977, 26.583),
    Region("522700", "Qiannan", "黔南布依族苗族自治州", 107.517, 26.258),
)
REGION_CODES: Final = frozenset(r.code for r in REGIONS)
REGION_BY_CODE: Final = {r.code: r for r in REGIONS}

CARGO: Final = (
    "electronics",
    "liquor",
    "tea",
    "coal",
    "building_materials",
    "agriculture",
    "medicine",
    "consumer_goods",
    "machinery",
)

SECTORS: Final = (
    "big_data",
    "electronics",
    "software",
    "ecommerce",
    "manufacturing",
    "liquor",
    "tourism",
    "agriculture",
    "energy_mining",
    "construction",
)
DIGITAL_SECTORS: Final = frozenset({"big_data", "electronics", "software", "ecommerce"})

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

# China Standard Time: UTC+8, no daylight saving.
CST_OFFSET_MS: Final = 8 * 3600 * 1000


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
