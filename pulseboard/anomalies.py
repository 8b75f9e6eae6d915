"""Anomaly records (the detector's output on the ``anomalies`` topic), as bytes and back.

Pure: the push server's call-out board (web/callouts.py) and the history index
(pulseboard/history/store.py) read the same records through this one parser.

A record is keyed ``name|key`` and its value is JSON
``{"t", "name", "key", "value", "expected", "low", "high", "score", "state"}``: ``opened``
starts a call-out for (name, key), ``ongoing`` updates it, ``closed`` ends it. Its severity
is ``|score|``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import orjson

STATES: Final = ("opened", "ongoing", "closed")
_MAX_TEXT: Final = 200

Number = int | float


class BadAnomaly(ValueError):
    """The record is not an anomaly record; the message is short (it becomes a metric label)."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    t: int
    name: str
    key: str
    value: Number | None
    expected: Number
    low: Number
    high: Number
    score: Number
    state: str

    @property
    def ident(self) -> tuple[str, str]:
        return (self.name, self.key)

    @property
    def severity(self) -> float:
        return abs(float(self.score))


def _is_number(v: object) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


def parse_anomaly(key: bytes | None, value: bytes | None) -> Anomaly:
    """Decode one record of the anomalies topic; raise BadAnomaly if it is not one."""
    if value is None:
        raise BadAnomaly("tombstone")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadAnomaly("not_json") from None
    if not isinstance(obj, dict):
        raise BadAnomaly("not_object")
    return anomaly_from(obj, key)


def anomaly_from(obj: dict[str, object], key: bytes | None = None) -> Anomaly:
    """An Anomaly from a decoded JSON object (and its Kafka key, when it has one)."""
    t, name, ikey, state = obj.get("t"), obj.get("name"), obj.get("key"), obj.get("state")
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_TEXT:
        raise BadAnomaly("bad_name")
    if not isinstance(ikey, str) or len(ikey) > _MAX_TEXT:
        raise BadAnomaly("bad_key")
    if key is not None and key != f"{name}|{ikey}".encode():
        raise BadAnomaly("key_mismatch")
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise BadAnomaly("bad_t")
    if state not in STATES:
        raise BadAnomaly("bad_state")
    v = obj.get("value")
    if v is not None and not _is_number(v):
        raise BadAnomaly("bad_value")
    numbers = [obj.get(f) for f in ("expected", "low", "high", "score")]
    if not all(_is_number(n) for n in numbers):
        raise BadAnomaly("bad_band")
    expected, low, high, score = numbers
    return Anomaly(t, name, ikey, v, expected, low, high, score, state)  # type: ignore[arg-type]
