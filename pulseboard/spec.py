"""The fixed vocabulary of the data contract (../shared/SPEC.md sections 2-4): what is the
same for every region pack. Places, cargo, sectors, currency and time zone are the pack's
(SPEC section 10, pulseboard/packs/).

Everything here is data, not behaviour, so producers, consumers and the web page
agree on one set of names.
"""

from __future__ import annotations

from typing import Final

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
