"""Indicator records from the `indicators` topic and the table of their current values.

A pure module: bytes in, table changes out. The table keeps, per (name, key), the record
with the greatest ``t``; on equal ``t`` the one that arrived last wins, because a final
record is published after the provisional ones for the same second."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import orjson

Number = int | float
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    key: str
    value: Number | None
    t: int
    final: bool
    ingest_ms: int | None = None

    @property
    def ident(self) -> Key:
        return (self.name, self.key)

    def row(self) -> list[object]:
        """The full wire form under its name (docs/push-protocol.md): [key, value, t, final]."""
        return [self.key, self.value, self.t, self.final]


@dataclass(frozen=True, slots=True)
class Removal:
    """A tombstone: the compacted topic forgot this (name, key)."""

    name: str
    key: str

    @property
    def ident(self) -> Key:
        return (self.name, self.key)


class BadRecord(ValueError):
    """The record is not an indicator; the message says why (it becomes a metric label)."""


_MAX_TEXT = 200


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v)


def parse_record(key: bytes | None, value: bytes | None) -> Indicator | Removal:
    """Decode one Kafka record of the `indicators` topic; raise BadRecord if it is not one."""
    if value is None:
        if not key or b"|" not in key:
            raise BadRecord("tombstone_without_key")
        name, _, rest = key.decode("utf-8", "replace").partition("|")
        return Removal(name, rest)
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadRecord("not_json") from None
    if not isinstance(obj, dict):
        raise BadRecord("not_object")
    name, ikey, t, v, final = (obj.get(f) for f in ("name", "key", "t", "value", "final"))
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_TEXT:
        raise BadRecord("bad_name")
    if not isinstance(ikey, str) or len(ikey) > _MAX_TEXT:
        raise BadRecord("bad_key")
    if not _is_int(t) or t < 0:
        raise BadRecord("bad_t")
    if v is not None and not _is_number(v):
        raise BadRecord("bad_value")
    if not isinstance(final, bool):
        raise BadRecord("bad_final")
    ingest = obj.get("ingest_ts")
    if ingest is not None and (not _is_int(ingest) or ingest < 0):
        raise BadRecord("bad_ingest_ts")
    return Indicator(name, ikey, v, t, final, ingest)


class Applied(Enum):
    CHANGED = "changed"  # the visible value (value, t or final) changed
    SAME = "same"  # accepted, but nothing a viewer could see changed
    OLDER = "older"  # an older t than the one held: ignored
    REMOVED = "removed"


@dataclass(slots=True)
class IndicatorTable:
    """Current value per (name, key); ``version`` counts visible changes."""

    values: dict[Key, Indicator]
    version: int = 0

    @classmethod
    def empty(cls) -> IndicatorTable:
        return cls(values={})

    def apply(self, record: Indicator | Removal) -> Applied:
        if isinstance(record, Removal):
            if self.values.pop(record.ident, None) is None:
                return Applied.SAME
            self.version += 1
            return Applied.REMOVED
        held = self.values.get(record.ident)
        if held is not None and record.t < held.t:
            return Applied.OLDER
        self.values[record.ident] = record
        if (
            held is not None
            and held.t == record.t
            and held.final == record.final
            and held.value == record.value
            and type(held.value) is type(record.value)
        ):
            return Applied.SAME
        self.version += 1
        return Applied.CHANGED

    def grouped(self) -> WireRows:
        """Every value in its wire form (see ``wire_rows``)."""
        return wire_rows(self.values.values())


@dataclass(frozen=True, slots=True)
class WireRows:
    """Values as a message carries them: ``{name: [row, ...]}`` (names are long, so each is
    sent once) and ``at = [t, final]``, the pair most rows share. A row with that pair is
    ``[key, value]``; any other is ``[key, value, t, final]``. Most values of one delta belong
    to the same second, so the short rows halve a delta's bytes."""

    groups: dict[str, list[list[object]]]
    at: list[object] | None  # None when there are no rows


def wire_rows(records: Iterable[Indicator]) -> WireRows:
    records = list(records)
    if not records:
        return WireRows({}, None)
    # The most common pair; on a tie the first seen, so the same input gives the same bytes.
    at = Counter((r.t, r.final) for r in records).most_common(1)[0][0]
    groups: dict[str, list[list[object]]] = {}
    for r in records:
        row = [r.key, r.value] if (r.t, r.final) == at else r.row()
        groups.setdefault(r.name, []).append(row)
    return WireRows(groups, [at[0], at[1]])
