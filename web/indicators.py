"""Indicator records from the `indicators` topic and the table of their current values.

A pure module: bytes in, table changes out. The table keeps, per (name, key), the record
with the greatest ``t``; on equal ``t`` the one that arrived last wins, because a final
record is published after the provisional ones for the same second."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


Defs = dict[str, list[list[object]]]


@dataclass(frozen=True, slots=True)
class WireRows:
    """Values as a message carries them (docs/push-protocol.md, protocol 3): each row names
    its value by a small integer id, ``[id, value]`` when it has ``at = [t, final]``, the
    pair most rows share, else ``[id, value, t, final]``. A value's key (``region|sector``)
    was most of a row's bytes; the id is a few digits, and ``defs``, ``{name: [[key, id],
    ...]}``, tells the client what the ids it has not been told yet stand for."""

    rows: list[list[object]]
    at: list[object] | None  # None when there are no rows
    defs: Defs


@dataclass(slots=True)
class WireIds:
    """The id of every (name, key) this process has seen: given in order of first sight and
    never reused nor changed while the process runs, so an id a client learnt holds until its
    connection ends (a new connection starts with a snapshot that defines every id again)."""

    ids: dict[Key, int] = field(default_factory=dict)

    def of(self, ident: Key) -> int:
        found = self.ids.get(ident)
        if found is None:
            found = self.ids[ident] = len(self.ids)
        return found

    def rows(self, records: Iterable[Indicator], define: Callable[[Key], bool]) -> WireRows:
        """``records`` in wire form; ``defs`` holds those for which ``define`` is true."""
        records = list(records)
        if not records:
            return WireRows([], None, {})
        # The most common pair; on a tie the first seen, so the same input gives the same bytes.
        at = Counter((r.t, r.final) for r in records).most_common(1)[0][0]
        rows: list[list[object]] = []
        defs: Defs = {}
        for r in records:
            ident = self.of(r.ident)
            rows.append(
                [ident, r.value] if (r.t, r.final) == at else [ident, r.value, r.t, r.final]
            )
            if define(r.ident):
                defs.setdefault(r.name, []).append([r.key, ident])
        return WireRows(rows, [at[0], at[1]], defs)
