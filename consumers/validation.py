"""Event validation (SPEC section 3): raw bytes in, a typed event or an ``Invalid`` out.

msgspec decodes straight into the Structs of ``consumers.events`` and checks every rule in C
(see docs/semantics.md for the measurement against orjson + Python checks). Three things it
does not do on its own are done here, cheaply and only when needed:

* UTF-8: msgspec skips unknown fields without validating their bytes, so non-ASCII input is
  checked with Python's strict decoder (rejects overlong forms and surrogates).
* Nesting depth: msgspec's limit is the interpreter's recursion limit, which depends on how
  deep the caller's stack is; a fixed, deterministic limit (``MAX_DEPTH``) is applied first,
  so the same bytes are valid or invalid wherever they are decoded.
* Reasons: msgspec's error message is mapped to a short, low-cardinality reason code.

Invalid records are cheap too (docs/benchmarks.md, "Invalid records and the aggregator's
speed"): when the input passed the fast path's test (ASCII, no nesting), the fast decode's
own error is the answer, since the full path would find nothing else and decode the same
bytes to the same error; and the ``Invalid`` for an error message is remembered (messages
repeat: a bad producer makes the same mistake over and over), so the regexes run once per
distinct message.

Never raises for any input bytes.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from consumers.events import Event, LineEvent, Schema, schema_for
from pulseboard.packs import RegionPack

MAX_DEPTH: Final = 64
MAX_DETAIL: Final = 200

# Reason codes (metric label values).
NOT_UTF8: Final = "not_utf8"
NOT_JSON: Final = "not_json"
TOO_DEEP: Final = "too_deep"
NOT_OBJECT: Final = "not_object"
MISSING_FIELD: Final = "missing_field"
UNKNOWN_TYPE: Final = "unknown_type"
BAD_VERSION: Final = "bad_version"
BAD_ID: Final = "bad_id"
WRONG_TYPE: Final = "wrong_type"
OUT_OF_RANGE: Final = "out_of_range"
NOT_FINITE: Final = "not_finite"
BAD_REGION: Final = "bad_region"
BAD_ENUM: Final = "bad_enum"
BAD_COUNTRY: Final = "bad_country"
BAD_INGEST_TS: Final = "bad_ingest_ts"
OTHER: Final = "invalid"

REASONS: Final = (
    NOT_UTF8,
    NOT_JSON,
    TOO_DEEP,
    NOT_OBJECT,
    MISSING_FIELD,
    UNKNOWN_TYPE,
    BAD_VERSION,
    BAD_ID,
    WRONG_TYPE,
    OUT_OF_RANGE,
    NOT_FINITE,
    BAD_REGION,
    BAD_ENUM,
    BAD_COUNTRY,
    BAD_INGEST_TS,
    OTHER,
)

# Fields whose every problem has one dedicated reason.
_FIELD_REASON: Final = {
    "type": UNKNOWN_TYPE,
    "v": BAD_VERSION,
    "id": BAD_ID,
    "ingest_ts": BAD_INGEST_TS,
}
_REGION_FIELDS: Final = frozenset({"origin", "region", "dest"})


class Invalid(msgspec.Struct, frozen=True, gc=False):
    """Why a record was rejected: ``reason`` is a code from ``REASONS``; ``detail`` is for
    humans (DLQ header, replay report) and is not bounded in cardinality."""

    reason: str
    detail: str


_PATH = re.compile(r" - at `\$\.([A-Za-z_]+)`$")
_MISSING = re.compile(r"^Object missing required field `([^`]*)`")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET: Final = bytes(b for b in range(256) if b not in b"[]{}")
_INNER_PAIR = re.compile(rb"\[\]|\{\}")
_OPEN_RUN = re.compile(rb"[\[{]{%d}" % (MAX_DEPTH + 1))


def too_deep(raw: bytes) -> bool:
    """True if ``raw`` nests arrays/objects deeper than ``MAX_DEPTH`` (outside strings).

    Runs in C-speed passes: strip strings, keep only brackets, then peel innermost pairs
    once per level. Input whose brackets do not balance is left to the JSON parser, which
    rejects it before it nests deeper than ``2 * MAX_DEPTH`` (a run of more than MAX_DEPTH
    openers is reported here)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    s = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    for _ in range(MAX_DEPTH):
        if not s:
            return False
        if _OPEN_RUN.search(s):
            return True
        peeled = _INNER_PAIR.sub(b"", s)
        if len(peeled) == len(s):
            return False
        s = peeled
    return bool(s)


def _reason_of(msg: str) -> str:
    missing = _MISSING.match(msg)
    if missing:
        return BAD_INGEST_TS if missing.group(1) == "ingest_ts" else MISSING_FIELD
    at = _PATH.search(msg)
    if at is None:
        if msg.startswith("Number out of range"):
            return NOT_FINITE  # a document that is one huge number, e.g. 1e999
        return NOT_OBJECT if msg.startswith("Expected `object`") else OTHER
    field = at.group(1)
    if field in _FIELD_REASON:
        return _FIELD_REASON[field]
    if msg.startswith("Number out of range"):
        return NOT_FINITE
    if ", got `" in msg:
        return WRONG_TYPE
    if msg.startswith("Invalid enum value"):
        return BAD_REGION if field in _REGION_FIELDS else BAD_ENUM
    if "matching regex" in msg:
        return BAD_REGION if field in _REGION_FIELDS else BAD_COUNTRY
    if msg.startswith(("Expected `int` ", "Expected `float` ")):
        return OUT_OF_RANGE
    return OTHER


def _detail(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


# msgspec error message -> its Invalid (a pure function of the message; Invalid is frozen,
# so one instance is shared). Bounded: emptied when full, so odd inputs cannot grow it.
_VALIDATION_ERRORS: Final[dict[str, Invalid]] = {}
_DECODE_ERRORS: Final[dict[str, Invalid]] = {}
_MAX_REMEMBERED: Final = 4096


def _from_error(exc: msgspec.DecodeError) -> Invalid:
    """The Invalid for a msgspec error (a ValidationError: the value broke a rule; any
    other DecodeError: not JSON)."""
    msg = str(exc)
    validation = isinstance(exc, msgspec.ValidationError)
    seen = _VALIDATION_ERRORS if validation else _DECODE_ERRORS
    found = seen.get(msg)
    if found is None:
        found = Invalid(_reason_of(msg) if validation else NOT_JSON, _detail(msg))
        if len(seen) >= _MAX_REMEMBERED:
            seen.clear()
        seen[msg] = found
    return found


def _slow(decoder: msgspec.json.Decoder, raw: bytes) -> object:
    """Full path: UTF-8 and depth checks, then decode, mapping any failure to a reason."""
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Invalid(NOT_UTF8, _detail(f"invalid UTF-8 at byte {exc.start}"))
    if too_deep(raw):
        return Invalid(TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:  # ValidationError included
        return _from_error(exc)
    except RecursionError:  # unreachable after too_deep(); kept so nothing can crash
        return Invalid(TOO_DEEP, "nested too deeply")
    except UnicodeDecodeError as exc:
        return Invalid(NOT_UTF8, _detail(str(exc)))


class Validator:
    """Validation against one region pack's codes (SPEC section 10)."""

    def __init__(self, pack: RegionPack) -> None:
        self.pack = pack
        self.schema: Schema = schema_for(pack)
        self._event_decoder = msgspec.json.Decoder(self.schema.event)
        self._line_decoder = msgspec.json.Decoder(self.schema.line)

    def validate(self, raw: bytes) -> Event | Invalid:
        """Validate one Kafka record value. An ``ingest_ts`` field is an ignored extra here."""
        return _validate(self._event_decoder, raw)  # type: ignore[return-value]

    def validate_line(self, raw: bytes) -> LineEvent | Invalid:
        """Validate one event log line: an event plus a required int ``ingest_ts``."""
        return _validate(self._line_decoder, raw)  # type: ignore[return-value]


def _validate(decoder: msgspec.json.Decoder, raw: bytes) -> object:
    # The common case, checked at memchr speed: ASCII, no array, no object but the outermost
    # one, so neither UTF-8 nor depth can be a problem, and a decode error is final (_slow
    # would decode the same bytes to the same error). Anything else takes _slow().
    if raw.isascii() and raw.find(b"[") < 0 and raw.find(b"{", 1) < 0:
        try:
            return decoder.decode(raw)
        except msgspec.DecodeError as exc:  # ValidationError included
            return _from_error(exc)
        except RecursionError:  # cannot happen without nesting; _slow() says what it is
            pass
    return _slow(decoder, raw)
