"""Invalid records: every way a real producer gets the contract (SPEC section 3) wrong.

``corrupt`` turns one valid event into bytes that break exactly one rule and returns a short
reason label. The labels are what the simulation's tally counts, so tests and dashboards can
compare them with what the consumers reject.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

import orjson

from producers.sampling import Weighted

Event = dict[str, Any]
Mutator = Callable[[Event, bytes, random.Random], bytes | None]

# Fields that hold each kind of value, per event type.
_REGION_FIELDS: Final = {
    "shipment": ("origin", "dest"),
    "position": ("region",),
    "delivery": ("dest",),
    "output": ("region",),
    "dc_load": ("region",),
}
_FLOAT_FIELDS: Final = {
    "shipment": ("value_cny",),
    "position": ("lat", "lon", "speed_kmh"),
    "delivery": ("transit_s",),
    "output": ("value_cny",),
    "dc_load": ("it_load_mw", "utilization"),
}
_NONNEGATIVE_FIELDS: Final = {
    "shipment": ("value_cny",),
    "position": ("speed_kmh",),
    "delivery": ("transit_s",),
    "output": ("value_cny",),
    "dc_load": ("it_load_mw",),
}
_STRING_FIELDS: Final = {
    "shipment": ("truck_id", "shipment_id", "shipper_id", "cargo"),
    "position": ("truck_id", "region"),
    "delivery": ("truck_id", "shipment_id", "dest"),
    "output": ("sector", "region"),
    "dc_load": ("dc_id", "region"),
}
_BOOL_FIELDS: Final = {"position": ("loaded",), "delivery": ("on_time",)}
_INT_FIELDS: Final = {"shipment": ("weight_kg",), "delivery": ("transit_s",)}

# Codes that no region pack uses; the rest of the bad codes are near misses of the event's own
# (see _near_miss), so they are wrong whatever the pack.
_BAD_CODES: Final = ("", "0", "XX-99", "??", "region", "ZZ")
_BAD_COUNTRIES: Final = ("USA", "us", "U", "1A", "", "Viet Nam")


def _dumps(ev: Event) -> bytes:
    return orjson.dumps(ev)


def _pick(rng: random.Random, options: tuple[Any, ...]) -> Any:
    return options[rng.randrange(len(options))]


def _bad_json(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    variant = rng.randrange(5)
    if variant == 0:
        return raw[:-1] + b",}"  # trailing comma
    if variant == 1:
        return raw.replace(b'"', b"'")  # single quotes
    if variant == 2:
        return raw.replace(b'":', b'"=', 1)
    if variant == 3:
        return b""
    return b"%s %s" % (str(ev["type"]).encode(), str(ev.get("ts", 0)).encode())  # CSV-ish line


def _truncated(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(1, len(raw) - 1)]


def _not_object(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    return _pick(
        rng,
        (
            b"[" + raw + b"]",
            _dumps(list(ev.values())),
            b"null",
            b"42",
            b"true",
            _dumps(str(ev["type"])),
            _dumps(raw.decode()),  # double-encoded: a JSON string holding the object
        ),
    )


def _missing_field(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    del ev[_pick(rng, tuple(ev))]
    return _dumps(ev)


def _wrong_type(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    t = ev["type"]
    choices: list[tuple[str, Any]] = [("ts", str(ev["ts"])), ("id", 12345), ("ts", None)]
    choices += [(f, 123456) for f in _STRING_FIELDS[t]]
    choices += [(f, str(ev[f])) for f in _FLOAT_FIELDS[t]]
    choices += [(f, _pick(rng, ("true", "yes", None))) for f in _BOOL_FIELDS.get(t, ())]
    choices += [(f, f"{ev[f]}") for f in _INT_FIELDS.get(t, ())]
    field, bad = choices[rng.randrange(len(choices))]
    ev[field] = bad
    return _dumps(ev)


def _float_int(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    # An int field written as a JSON float: 1764000000000.0 or 12.5.
    fields = ("ts", *_INT_FIELDS.get(ev["type"], ()))
    field = _pick(rng, fields)
    ev[field] = float(ev[field]) + _pick(rng, (0.0, 0.5))
    return _dumps(ev)


def _bool_as_int(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    fields = _BOOL_FIELDS.get(ev["type"])
    if not fields:
        return None
    field = _pick(rng, fields)
    ev[field] = int(bool(ev[field]))
    return _dumps(ev)


def _bad_version(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    ev["v"] = _pick(rng, (2, 0, "1", 1.0, True, None))
    return _dumps(ev)


def _unknown_type(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    ev["type"] = _pick(rng, ("telemetry", "Position", "shipment_v2", "", "delivered", None))
    return _dumps(ev)


def _bad_id(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    ev["id"] = "" if rng.random() < 0.4 else (str(ev["id"]) + "-") * 12
    if 1 <= len(ev["id"]) <= 64:
        ev["id"] = ev["id"].ljust(65, "x")
    return _dumps(ev)


def _near_miss(code: str) -> tuple[str, ...]:
    """Typos of a valid code: one character more or less, lower case, "_" for "-", a space."""
    misses = (code + "9", code[:-1], code.lower(), code.replace("-", "_"), " " + code)
    return tuple(m for m in misses if m != code)


def _bad_region(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    field = _pick(rng, _REGION_FIELDS[ev["type"]])
    ev[field] = _pick(rng, (*_near_miss(str(ev[field])), *_BAD_CODES))
    return _dumps(ev)


def _negative_weight(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    if ev["type"] != "shipment":
        return None
    ev["weight_kg"] = -max(1, int(ev["weight_kg"]))
    return _dumps(ev)


def _zero_weight(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    if ev["type"] != "shipment":
        return None
    ev["weight_kg"] = 0
    return _dumps(ev)


def _negative_number(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    field = _pick(rng, _NONNEGATIVE_FIELDS[ev["type"]])
    value = ev[field]
    ev[field] = -value if value > 0 else (-1 if isinstance(value, int) else -0.5)
    return _dumps(ev)


def _utilization_range(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    if ev["type"] != "dc_load":
        return None
    ev["utilization"] = _pick(rng, (1.01, 1.2, 1.5, -0.05, 100.0, 87.5))
    return _dumps(ev)


def _nan_number(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    # orjson cannot write these tokens, so splice them in; lenient parsers accept them.
    field = _pick(rng, _FLOAT_FIELDS[ev["type"]])
    ev[field] = "@@NUM@@"
    token = _pick(rng, (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"nan"))
    return _dumps(ev).replace(b'"@@NUM@@"', token)


def _bad_cargo(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    if ev["type"] != "shipment":
        return None
    ev["cargo"] = _pick(rng, ("gold", "Coal", "liquor ", "", "electronic", "ore"))
    return _dumps(ev)


def _bad_sector(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    if ev["type"] != "output":
        return None
    ev["sector"] = _pick(rng, ("finance", "BigData", "big-data", "", "digital", "mining"))
    return _dumps(ev)


def _bad_export_country(ev: Event, raw: bytes, rng: random.Random) -> bytes | None:
    if ev["type"] != "shipment":
        return None
    ev["export_country"] = _pick(rng, (*_BAD_COUNTRIES, 86, False))
    return _dumps(ev)


def _bad_utf8(ev: Event, raw: bytes, rng: random.Random) -> bytes:
    # A stray Latin-1 / broken multibyte sequence inside the id string.
    ident = str(ev["id"]).encode()
    return raw.replace(
        b'"' + ident + b'"', b'"' + ident + _pick(rng, (b"\xff", b"\xe8\xb4")) + b'"', 1
    )


MUTATORS: Final[dict[str, Mutator]] = {
    "bad_json": _bad_json,
    "truncated_json": _truncated,
    "not_object": _not_object,
    "missing_field": _missing_field,
    "wrong_type": _wrong_type,
    "float_int": _float_int,
    "bool_as_int": _bool_as_int,
    "bad_version": _bad_version,
    "unknown_type": _unknown_type,
    "bad_id": _bad_id,
    "bad_region": _bad_region,
    "negative_weight": _negative_weight,
    "zero_weight": _zero_weight,
    "negative_number": _negative_number,
    "utilization_range": _utilization_range,
    "nan_number": _nan_number,
    "bad_cargo": _bad_cargo,
    "bad_sector": _bad_sector,
    "bad_export_country": _bad_export_country,
    "bad_utf8": _bad_utf8,
}

# Relative frequency of each kind of mistake, among those that can happen to an event type.
REASON_WEIGHTS: Final = (
    ("bad_json", 8),
    ("truncated_json", 10),
    ("not_object", 6),
    ("missing_field", 14),
    ("wrong_type", 12),
    ("float_int", 6),
    ("bool_as_int", 5),
    ("bad_version", 5),
    ("unknown_type", 5),
    ("bad_id", 4),
    ("bad_region", 8),
    ("negative_weight", 5),
    ("zero_weight", 4),
    ("negative_number", 5),
    ("utilization_range", 8),
    ("nan_number", 4),
    ("bad_cargo", 5),
    ("bad_sector", 8),
    ("bad_export_country", 5),
    ("bad_utf8", 3),
)
# Mistakes that need a field only some event types have.
ONLY_FOR: Final = {
    "bool_as_int": ("position", "delivery"),
    "negative_weight": ("shipment",),
    "zero_weight": ("shipment",),
    "utilization_range": ("dc_load",),
    "bad_cargo": ("shipment",),
    "bad_sector": ("output",),
    "bad_export_country": ("shipment",),
}
_REASONS_BY_TYPE: Final = {
    etype: Weighted.of([(r, w) for r, w in REASON_WEIGHTS if etype in ONLY_FOR.get(r, (etype,))])
    for etype in _REGION_FIELDS
}


def corrupt(event: Event, raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Invalid bytes derived from a valid ``event`` (encoded as ``raw``), and why."""
    reason = _REASONS_BY_TYPE[event["type"]].pick(rng)
    bad = MUTATORS[reason](dict(event), raw, rng)
    if bad is None:  # cannot happen with ONLY_FOR right; stay invalid regardless
        reason = "missing_field"
        bad = _missing_field(dict(event), raw, rng)
    return bad, reason
