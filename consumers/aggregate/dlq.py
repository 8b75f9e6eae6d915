"""Invalid records into dead letters (pure): the DLQ record for each one, with the five
headers that say what was wrong and where it came from (docs/aggregator.md section 2)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from pulseboard.publishing import OutRecord

REASON_HEADER: Final = "pulseboard-reason"
DETAIL_HEADER: Final = "pulseboard-detail"
TOPIC_HEADER: Final = "pulseboard-source-topic"
PARTITION_HEADER: Final = "pulseboard-source-partition"
OFFSET_HEADER: Final = "pulseboard-source-offset"


def dead_letters(
    invalid: Sequence[tuple[Any, str, str]], topic: str, partition: int
) -> tuple[list[OutRecord], Counter[str]]:
    """The DLQ records of one partition's invalid ``(record, reason, detail)``s, in order,
    and how many there are of each reason.

    The source's two headers are the batch's, and reasons and details repeat (a bad producer
    repeats its mistake), so each header is built once per call; only the offset is per
    record. The record keeps its raw value, key and timestamp; Kafka needs a key or a
    value, so a record with neither becomes an empty value."""
    src_topic = (TOPIC_HEADER, topic.encode())
    src_partition = (PARTITION_HEADER, str(partition).encode())
    reasons: dict[str, tuple[str, bytes]] = {}
    details: dict[str, tuple[str, bytes]] = {}
    counts: Counter[str] = Counter()
    out = []
    for rec, reason, detail in invalid:
        reason_header = reasons.get(reason)
        if reason_header is None:
            reason_header = reasons[reason] = (REASON_HEADER, reason.encode())
        counts[reason] += 1
        detail_header = details.get(detail)
        if detail_header is None:
            detail_header = details[detail] = (DETAIL_HEADER, detail.encode("utf-8", "replace"))
        key, value = rec.key, rec.value
        if value is None and key is None:
            value = b""
        headers = [
            reason_header,
            detail_header,
            src_topic,
            src_partition,
            (OFFSET_HEADER, str(rec.offset).encode()),
        ]
        out.append(OutRecord(value, key, rec.timestamp, headers))
    return out, counts
