"""An independent reading of SPEC section 3 (and section 5's ``ingest_ts``), for the tests to
check ``consumers.validation`` against: Python's own ``json`` parser and plain checks, with
every constant written out here from the SPEC and docs/semantics.md ("Decisions where the
SPEC is silent"). It imports nothing from the validator, the event Structs or
``pulseboard.spec``, so a mistake there cannot hide by being copied here.

``reason_of(raw)`` / ``line_reason_of(raw)`` give the reason code of an invalid record, or
None for a valid one. Where a document breaks several rules, the first in document order is
reported and missing fields last, as docs/semantics.md says. Known divergence, on input the
tests do not generate: brackets that do not balance and nest deeper than 64 are
``too_deep`` here, but may be ``not_json`` for the validator (both are right: the record is
refused either way).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64
INT64_MAX = 2**63 - 1

# SPEC section 1: the nine prefectures of Guizhou.
REGIONS = frozenset(
    ("520100", "520200", "520300", "520400", "520500", "520600", "522300", "522600", "522700")
)
# SPEC section 3.
CARGO = frozenset(
    (
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
)
SECTORS = frozenset(
    (
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
)

Check = Callable[[Any], str | None]


class _NotJson(Exception):
    pass


def _reject_constant(token: str) -> Any:
    raise _NotJson(f"{token} is not JSON")


def _is_int(x: Any) -> bool:
    return type(x) is int  # bool is not an int here


def _is_number(x: Any) -> bool:
    return type(x) in (int, float)


def _int(lo: int) -> Check:
    def check(x: Any) -> str | None:
        if type(x) is float and math.isinf(x):  # 1e999: not finite before not an int
            return "not_finite"
        if not _is_int(x):
            return "wrong_type"
        return None if lo <= x <= INT64_MAX else "out_of_range"

    return check


def _number(lo: float | None = None, hi: float | None = None) -> Check:
    def check(x: Any) -> str | None:
        if not _is_number(x):
            return "wrong_type"
        try:
            value = float(x)
        except OverflowError:
            return "not_finite"
        if math.isinf(value):  # 1e999 parses to infinity
            return "not_finite"
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return "out_of_range"
        return None

    return check


def _overflows(x: Any) -> bool:
    """A number too large for a double: 1e999, or an integer of hundreds of digits (one
    beyond 64 bits is read as a double)."""
    if type(x) is float:
        return math.isinf(x)
    if type(x) is int and not -(2**63) <= x < 2**64:
        try:
            float(x)
        except OverflowError:
            return True
    return False


def _string(x: Any) -> str | None:
    return None if type(x) is str else "wrong_type"


def _boolean(x: Any) -> str | None:
    return None if type(x) is bool else "wrong_type"


@dataclass(frozen=True)
class Area:
    """The codes of one region pack (SPEC section 10), written out here by hand."""

    regions: frozenset[str]
    outside: Callable[[str], bool]  # is this a destination outside the area?
    cargo: frozenset[str]
    sectors: frozenset[str]


GUIZHOU = Area(REGIONS, lambda x: re.fullmatch(r"CN-[A-Z]{2}", x) is not None, CARGO, SECTORS)
# SPEC section 10 and docs/decisions.md: ISO 3166-2:MA regions of the 2015 division; freight
# leaves by the ro-ro to Andalusia or the Canaries, or by road into Mauritania.
MOROCCO = Area(
    frozenset(f"MA-{i:02d}" for i in range(1, 13)),
    lambda x: x in ("ES-AN", "ES-CN", "MR-08"),
    frozenset(
        (
            "phosphates",
            "fertilizers",
            "vehicles",
            "auto_parts",
            "aerospace_parts",
            "citrus_vegetables",
            "fish",
            "textiles",
            "building_materials",
            "consumer_goods",
            "machinery",
        )
    ),
    frozenset(
        (
            "offshoring",
            "telecom",
            "software",
            "ecommerce",
            "automotive",
            "aerospace",
            "phosphates",
            "agriculture",
            "fishing",
            "tourism",
            "textiles",
            "construction",
        )
    ),
)


def _region_of(area: Area) -> Check:
    def check(x: Any) -> str | None:
        if type(x) is not str:
            return "wrong_type"
        return None if x in area.regions else "bad_region"

    return check


def _dest_of(area: Area) -> Check:
    def check(x: Any) -> str | None:
        if type(x) is not str:
            return "wrong_type"
        return None if x in area.regions or area.outside(x) else "bad_region"

    return check


def _one_of(values: frozenset[str]) -> Check:
    def check(x: Any) -> str | None:
        if type(x) is not str:
            return "wrong_type"
        return None if x in values else "bad_enum"

    return check


def _country(x: Any) -> str | None:
    if x is None:
        return None
    if type(x) is not str:
        return "wrong_type"
    return None if re.fullmatch(r"[A-Z]{2}", x) else "bad_country"


def _version(x: Any) -> str | None:
    return None if _is_int(x) and x == 1 else "bad_version"


def _event_id(x: Any) -> str | None:
    return None if type(x) is str and 1 <= len(x) <= 64 else "bad_id"


def _ingest_ts(x: Any) -> str | None:
    return None if _is_int(x) and 0 <= x <= INT64_MAX else "bad_ingest_ts"


_COMMON: dict[str, Check] = {"v": _version, "id": _event_id, "ts": _int(0)}


def fields_for(area: Area) -> dict[str, dict[str, Check]]:
    """Per event type, the check of each field, for the codes of ``area``."""
    _region, _dest = _region_of(area), _dest_of(area)
    return {
        "shipment": {
            **_COMMON,
            "truck_id": _string,
            "shipment_id": _string,
            "shipper_id": _string,
            "origin": _region,
            "dest": _dest,
            "cargo": _one_of(area.cargo),
            "weight_kg": _int(1),
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
            "transit_s": _int(0),
        },
        "output": {
            **_COMMON,
            "sector": _one_of(area.sectors),
            "region": _region,
            "value_cny": _number(0.0),
        },
        "dc_load": {
            **_COMMON,
            "dc_id": _string,
            "region": _region,
            "it_load_mw": _number(0.0),
            "utilization": _number(0.0, 1.0),
        },
    }


FIELDS: dict[str, dict[str, Check]] = fields_for(GUIZHOU)
_FIELDS_BY_AREA: dict[int, dict[str, dict[str, Check]]] = {id(GUIZHOU): FIELDS}


def deepest(text: str) -> int:
    """The deepest nesting of arrays and objects outside strings, by walking the text."""
    depth = deepest_seen = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest_seen = max(deepest_seen, depth)
        elif ch in "]}":
            depth -= 1
    return deepest_seen


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_BROKEN = object()  # the document stops being JSON here


def _value_at(text: str, at: int) -> tuple[Any, int]:
    """The JSON value starting at ``at`` (after whitespace) and where it ends, or _BROKEN."""
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    try:
        value, end = _DECODER.raw_decode(text, at)
    except (json.JSONDecodeError, _NotJson, RecursionError):
        return _BROKEN, at
    return (_BROKEN, at) if _has_lone_surrogate(value) else (value, end)


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _pairs(text: str, at: int) -> list[tuple[str, Any]]:
    """The object's (key, value) pairs in document order, as far as they are JSON; a last
    pair (None, _BROKEN) marks where it stops being JSON."""
    pairs: list[tuple[str, Any]] = []
    at = _skip(text, at + 1)  # past "{"
    if at < len(text) and text[at] == "}":
        return pairs
    while True:
        key, at = _value_at(text, at)
        at = _skip(text, at)
        if type(key) is not str or at >= len(text) or text[at] != ":":
            return [*pairs, (None, _BROKEN)]  # type: ignore[list-item]
        value, at = _value_at(text, at + 1)
        if value is _BROKEN:
            return [*pairs, (None, _BROKEN)]  # type: ignore[list-item]
        pairs.append((key, value))
        at = _skip(text, at)
        if at < len(text) and text[at] == "}":
            return pairs
        if at >= len(text) or text[at] != ",":
            return [*pairs, (None, _BROKEN)]  # type: ignore[list-item]
        at = _skip(text, at + 1)


_DIGITS = frozenset("0123456789")  # str.isdigit() would take "¹" too


def _number_is_whole(text: str, at: int) -> bool:
    """False when a number token breaks off (RFC 8259): a leading zero followed by a digit,
    a "." or an exponent mark with no digit after it. What follows a complete number is
    never looked at, so "1.5.5" is a whole number (1.5) and "1.e5" is not."""
    at += text[at] == "-"
    digits = 0
    while at + digits < len(text) and text[at + digits] in _DIGITS:
        digits += 1
    if digits == 0 or (text[at] == "0" and digits > 1):
        return False
    at += digits
    if text[at : at + 1] == ".":
        if text[at + 1 : at + 2] not in _DIGITS:
            return False
        at += 1
        while at < len(text) and text[at] in _DIGITS:
            at += 1
    if text[at : at + 1] in ("e", "E"):
        at += 1
        at += text[at : at + 1] in ("+", "-")
        if text[at : at + 1] not in _DIGITS:
            return False
    return True


def _reason(raw: bytes, line: bool, area: Area) -> str | None:
    by_type = _FIELDS_BY_AREA.get(id(area))
    if by_type is None:
        by_type = _FIELDS_BY_AREA[id(area)] = fields_for(area)
    try:
        text = raw.decode("utf-8")  # strict: overlong forms and surrogates refused
    except UnicodeDecodeError:
        return "not_utf8"
    if (text.count("[") + text.count("{") > MAX_DEPTH) and deepest(text) > MAX_DEPTH:
        return "too_deep"
    start = _skip(text, 0)
    first = text[start : start + 1]
    if first == "[":
        return "not_object"  # known at its first byte
    if first != "{":
        # Any other value is read whole, then found not to be an object; what follows it
        # is never looked at.
        value, _ = _value_at(text, start)
        if value is _BROKEN or (first in "-0123456789" and not _number_is_whole(text, start)):
            return "not_json"
        return "not_finite" if _overflows(value) else "not_object"
    pairs = _pairs(text, start)
    # The type decides which fields exist, so it is looked for first; until it is found,
    # the rest is only read as JSON.
    tag = next((value for key, value in pairs if key == "type"), None)
    has_tag = any(key == "type" for key, _ in pairs)
    if not has_tag:
        return "not_json" if pairs and pairs[-1][1] is _BROKEN else "missing_field"
    if type(tag) is not str or tag not in by_type:
        return "unknown_type"
    fields = dict(by_type[tag])
    if line:
        fields["ingest_ts"] = _ingest_ts
    # Then every field in document order, each occurrence checked, up to where the JSON breaks.
    for key, value in pairs:
        if value is _BROKEN:
            return "not_json"
        if key == "type":
            if value != tag:
                return "unknown_type"
            continue
        check = fields.get(key)
        if check is not None:
            found = check(value)
            if found is not None:
                return found
    present = {key for key, _ in pairs}
    for name in fields:
        if name not in present:
            return "bad_ingest_ts" if name == "ingest_ts" else "missing_field"
    return None


def reason_of(raw: bytes, area: Area = GUIZHOU) -> str | None:
    """The reason a Kafka record value is invalid, None if it is a valid event (an
    ``ingest_ts`` in it is an ignored extra field)."""
    return _reason(raw, False, area)


def line_reason_of(raw: bytes, area: Area = GUIZHOU) -> str | None:
    """The reason an event log line is invalid, None if valid (``ingest_ts`` required)."""
    return _reason(raw, True, area)
