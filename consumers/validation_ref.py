"""Reference validator: orjson + plain Python checks, written straight from SPEC section 3.

Not used on the hot path (``consumers.validation`` is faster; docs/semantics.md has the
numbers). It exists to be measured against, and as an independent second reading of the
rules that the tests cross-check the msgspec validator with: both must agree on validity
and on the reason. It returns plain dicts, not Structs.

Known, documented differences, all on input outside what the cross-check generates:
duplicate keys (orjson keeps the last one; msgspec checks every occurrence), integers beyond
64 bits (orjson turns them into floats: ``wrong_type`` here, ``out_of_range`` there) and
non-finite numbers inside *ignored* extra fields (orjson rejects the whole document;
msgspec skips the field). Valid vs invalid differs only in the last case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final

import orjson

from consumers.events import INT64_MAX
from consumers.validation import (
    BAD_COUNTRY,
    BAD_ENUM,
    BAD_ID,
    BAD_INGEST_TS,
    BAD_REGION,
    BAD_VERSION,
    MISSING_FIELD,
    NOT_FINITE,
    NOT_JSON,
    NOT_OBJECT,
    NOT_UTF8,
    OUT_OF_RANGE,
    TOO_DEEP,
    UNKNOWN_TYPE,
    WRONG_TYPE,
    Invalid,
    too_deep,
)
from pulseboard.spec import CARGO, REGION_CODES, SECTORS

_DEST = re.compile(r"CN-[A-Z]{2}\Z")
_COUNTRY = re.compile(r"[A-Z]{2}\Z")

Check = Callable[[Any], str | None]


def _is_int(x: Any) -> bool:
    return type(x) is int


def _int_range(lo: int) -> Check:
    def check(x: Any) -> str | None:
        if not _is_int(x):
            return WRONG_TYPE
        return None if lo <= x <= INT64_MAX else OUT_OF_RANGE

    return check


def _number(lo: float | None = None, hi: float | None = None) -> Check:
    def check(x: Any) -> str | None:
        if type(x) not in (int, float):
            return WRONG_TYPE
        try:
            f = float(x)
        except OverflowError:
            return NOT_FINITE
        if not math.isfinite(f):
            return NOT_FINITE
        if (lo is not None and f < lo) or (hi is not None and f > hi):
            return OUT_OF_RANGE
        return None

    return check


def _string(x: Any) -> str | None:
    return None if type(x) is str else WRONG_TYPE


def _boolean(x: Any) -> str | None:
    return None if type(x) is bool else WRONG_TYPE


def _region(x: Any) -> str | None:
    if type(x) is not str:
        return WRONG_TYPE
    return None if x in REGION_CODES else BAD_REGION


def _dest(x: Any) -> str | None:
    if type(x) is not str:
        return WRONG_TYPE
    ok = x in REGION_CODES or (x.startswith("CN-") and _DEST.match(x) is not None)
    return None if ok else BAD_REGION


def _enum(values: tuple[str, ...]) -> Check:
    allowed = frozenset(values)

    def check(x: Any) -> str | None:
        if type(x) is not str:
            return WRONG_TYPE
        return None if x in allowed else BAD_ENUM

    return check


def _country(x: Any) -> str | None:
    if x is None:
        return None
    if type(x) is not str:
        return WRONG_TYPE
    return None if _COUNTRY.match(x) else BAD_COUNTRY


def _version(x: Any) -> str | None:
    return None if _is_int(x) and x == 1 else BAD_VERSION


def _event_id(x: Any) -> str | None:
    return None if type(x) is str and 1 <= len(x) <= 64 else BAD_ID


def _ingest_ts(x: Any) -> str | None:
    return None if _is_int(x) and 0 <= x <= INT64_MAX else BAD_INGEST_TS


_COMMON: Final[dict[str, Check]] = {"v": _version, "id": _event_id, "ts": _int_range(0)}

SCHEMAS: Final[dict[str, dict[str, Check]]] = {
    "shipment": {
        **_COMMON,
        "truck_id": _string,
        "shipment_id": _string,
        "shipper_id": _string,
        "origin": _region,
        "dest": _dest,
        "cargo": _enum(CARGO),
        "weight_kg": _int_range(1),
        "value_cny": _number(0.0),
        "export_country": _country,
    },
    "position": {
        **_COMMON,
        "truck_id": _string,
        "region": _region,
        "lat": _number(),
        "lon": _number(),
        "speed_kmh": _number(0.0),
        "loaded": _boolean,
    },
    "delivery": {
        **_COMMON,
        "truck_id": _string,
        "shipment_id": _string,
        "dest": _dest,
        "on_time": _boolean,
        "transit_s": _int_range(0),
    },
    "output": {**_COMMON, "sector": _enum(SECTORS), "region": _region, "value_cny": _number(0.0)},
    "dc_load": {
        **_COMMON,
        "dc_id": _string,
        "region": _region,
        "it_load_mw": _number(0.0),
        "utilization": _number(0.0, 1.0),
    },
}


def _check(raw: bytes, with_ingest_ts: bool) -> dict[str, Any] | Invalid:
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return Invalid(NOT_UTF8, "invalid UTF-8")
    if too_deep(raw):
        return Invalid(TOO_DEEP, "too deep")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson refuses 1e999 while parsing (msgspec reports it on the field).
        reason = NOT_FINITE if "infinity" in str(exc) else NOT_JSON
        return Invalid(reason, str(exc))
    if type(obj) is not dict:
        return Invalid(NOT_OBJECT, "not an object")
    if "type" not in obj:
        return Invalid(MISSING_FIELD, "type")
    etype = obj["type"]
    if type(etype) is not str or etype not in SCHEMAS:
        return Invalid(UNKNOWN_TYPE, repr(etype))
    schema = SCHEMAS[etype]
    if with_ingest_ts:
        schema = {**schema, "ingest_ts": _ingest_ts}
    # Same order as msgspec: fields as they appear in the document, then missing ones.
    for name, value in obj.items():
        check = schema.get(name)
        if check is not None:
            reason = check(value)
            if reason is not None:
                return Invalid(reason, name)
    for name in schema:
        if name not in obj:
            return Invalid(BAD_INGEST_TS if name == "ingest_ts" else MISSING_FIELD, name)
    return obj


def validate_ref(raw: bytes) -> dict[str, Any] | Invalid:
    """Validate a Kafka record value; the decoded dict if valid."""
    return _check(raw, False)


def validate_line_ref(raw: bytes) -> dict[str, Any] | Invalid:
    """Validate an event log line (requires int ``ingest_ts``)."""
    return _check(raw, True)
