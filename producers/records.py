"""What the simulation hands to a publisher: one Kafka record each, plus a running tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import NamedTuple

KINDS = ("shipment", "position", "delivery", "output", "dc_load", "invalid")


class SimRecord(NamedTuple):
    ingest_ts: int  # simulated publish time (epoch ms); non-decreasing across records
    topic: str  # base topic name (pulseboard.spec.TOPIC_FREIGHT or TOPIC_SECTOR)
    key: bytes  # SPEC section 2 key
    value: bytes  # the record value: a JSON event without ingest_ts, or the bad bytes
    kind: str  # event type, or "invalid"
    fault: str  # "", "late", "future", or for invalid records the reason label


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts of the records handed out so far."""

    records: int
    by_kind: Mapping[str, int]
    by_fault: Mapping[str, int]  # "" counts normal records; invalid reasons are listed too

    @property
    def invalid(self) -> int:
        return self.by_kind.get("invalid", 0)

    @property
    def late(self) -> int:
        return self.by_fault.get("late", 0)

    @property
    def future(self) -> int:
        return self.by_fault.get("future", 0)

    @property
    def counted(self) -> int:
        """Records that a consumer counts in indicators: valid and neither late nor future."""
        return self.by_fault.get("", 0)


_KIND = itemgetter(4)
_FAULT = itemgetter(5)


class TallyCounter:
    """Accumulates a Tally; counting runs in C (Counter.update over an iterator)."""

    __slots__ = ("_faults", "_kinds", "_records", "_with_faults")

    def __init__(self, *, faults: bool = True) -> None:
        self._kinds: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._records = 0
        self._with_faults = faults  # without fault injection every fault is ""

    def add(self, records: list[SimRecord]) -> None:
        self._records += len(records)
        self._kinds.update(map(_KIND, records))
        if self._with_faults:
            self._faults.update(map(_FAULT, records))
        else:
            self._faults[""] += len(records)

    def snapshot(self) -> Tally:
        return Tally(
            self._records,
            MappingProxyType(_ordered(self._kinds, KINDS)),
            MappingProxyType(dict(sorted(self._faults.items()))),
        )


def _ordered(counts: Counter[str], order: Iterable[str]) -> dict[str, int]:
    return {k: counts.get(k, 0) for k in order}
