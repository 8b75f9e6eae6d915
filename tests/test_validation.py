"""Validation (SPEC section 3): every rule, every trap, and a cross-check against an
independent model (tests/validation_model.py, sharing no code with the validator)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validation_model import line_reason_of, reason_of

from consumers import validation
from consumers.events import (
    DcLoad,
    Delivery,
    Output,
    Position,
    Shipment,
    event_type,
)
from consumers.validation import MAX_DEPTH, Invalid, Validator, too_deep
from pulseboard import packs

# SPEC sections 1 and 3 are the guizhou pack (section 10).
VALIDATOR = Validator(packs.load("guizhou"))
validate = VALIDATOR.validate
validate_line = VALIDATOR.validate_line

TS = 1_764_000_000_000

VALID: dict[str, dict[str, Any]] = {
    "shipment": {
        "v": 1,
        "id": "ev-1",
        "type": "shipment",
        "ts": TS,
        "truck_id": "GZ-T00001",
        "shipment_id": "SH-1",
        "shipper_id": "SP-1",
        "origin": "520100",
        "dest": "CN-GD",
        "cargo": "liquor",
        "weight_kg": 1200,
        "value_cny": 1234.5,
        "export_country": "VN",
    },
    "position": {
        "v": 1,
        "id": "ev-2",
        "type": "position",
        "ts": TS,
        "truck_id": "GZ-T00002",
        "region": "522700",
        "lat": 26.25,
        "lon": 107.5,
        "speed_kmh": 0,
        "loaded": False,
    },
    "delivery": {
        "v": 1,
        "id": "ev-3",
        "type": "delivery",
        "ts": TS,
        "truck_id": "GZ-T00003",
        "shipment_id": "SH-1",
        "dest": "520300",
        "on_time": True,
        "transit_s": 0,
    },
    "output": {
        "v": 1,
        "id": "ev-4",
        "type": "output",
        "ts": TS,
        "sector": "big_data",
        "region": "520100",
        "value_cny": 0,
    },
    "dc_load": {
        "v": 1,
        "id": "ev-5",
        "type": "dc_load",
        "ts": TS,
        "dc_id": "DC01",
        "region": "520400",
        "it_load_mw": 12.5,
        "utilization": 1,
    },
}
CLASSES = {
    "shipment": Shipment,
    "position": Position,
    "delivery": Delivery,
    "output": Output,
    "dc_load": DcLoad,
}


def enc(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def with_(etype: str, **changes: Any) -> bytes:
    return enc({**VALID[etype], **changes})


def without(etype: str, field: str) -> bytes:
    return enc({k: v for k, v in VALID[etype].items() if k != field})


def reason(raw: bytes) -> str | None:
    """Reason from the validator, checked against the independent model on the way."""
    got = validate(raw)
    fast = got.reason if isinstance(got, Invalid) else None
    model = reason_of(raw)
    assert fast == model, (raw[:200], got, model)
    return fast


@pytest.mark.parametrize("etype", list(VALID))
def test_valid_events_decode_to_their_class(etype: str) -> None:
    ev = validate(enc(VALID[etype]))
    assert isinstance(ev, CLASSES[etype])
    assert event_type(ev) == etype
    assert ev.ts == TS


@pytest.mark.parametrize("etype", list(VALID))
@pytest.mark.parametrize("field", ["v", "id", "type", "ts"])
def test_common_fields_required(etype: str, field: str) -> None:
    assert reason(without(etype, field)) == "missing_field"


@pytest.mark.parametrize(
    ("etype", "field"),
    [(t, f) for t, ev in VALID.items() for f in ev if f not in ("v", "id", "type", "ts")],
)
def test_payload_fields_required(etype: str, field: str) -> None:
    assert reason(without(etype, field)) == "missing_field"


def test_extra_fields_ignored_including_ingest_ts_for_kafka_values() -> None:
    raw = with_("position", extra={"a": [1, 2, {"b": None}]}, ingest_ts="not an int")
    assert isinstance(validate(raw), Position)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "not_json"),
        (b"not json", "not_json"),
        (b'{"v":1', "not_json"),
        (b"[1, 2]", "not_object"),
        (b'"a string"', "not_object"),
        (b"42", "not_object"),
        (b"null", "not_object"),
        (b"\xef\xbb\xbf{}", "not_json"),  # a BOM is not JSON
        (b"\xff\xfe{}", "not_utf8"),
        (b'{"type":"nope","v":1}', "unknown_type"),
        (b'{"type":5,"v":1}', "unknown_type"),
        (b'{"type":null}', "unknown_type"),
    ],
)
def test_document_level(raw: bytes, expected: str) -> None:
    assert reason(raw) == expected


def test_invalid_utf8_anywhere_even_in_an_ignored_field() -> None:
    good = with_("position")
    bad = good[:-1] + b',"note":"caf\xc3"}'  # truncated 2-byte sequence
    assert reason(bad) == "not_utf8"
    surrogate = good[:-1] + b',"note":"\xed\xa0\x80"}'  # UTF-8-encoded surrogate
    assert reason(surrogate) == "not_utf8"
    overlong = good[:-1] + b',"note":"\xc0\xaf"}'
    assert reason(overlong) == "not_utf8"


def test_valid_non_ascii_is_fine() -> None:
    ev = validate(with_("position", truck_id="贵A·12345"))
    assert isinstance(ev, Position)
    assert ev.truck_id == "贵A·12345"


def test_lone_surrogate_escape_is_not_json() -> None:
    assert reason(with_("position")[:-1] + b',"note":"\\ud800"}') == "not_json"


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"nan"])
def test_nan_and_infinity_tokens(token: bytes) -> None:
    raw = with_("position").replace(b'"lat": 26.25', b'"lat": ' + token)
    assert b"26.25" not in raw
    assert reason(raw) == "not_json"


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1.7976931348623159e308"])
def test_overflowing_numbers_are_not_finite(number: bytes) -> None:
    raw = with_("dc_load").replace(b'"it_load_mw": 12.5', b'"it_load_mw": ' + number)
    assert reason(raw) == "not_finite"


def test_largest_finite_double_is_fine() -> None:
    raw = with_("shipment").replace(b'"value_cny": 1234.5', b'"value_cny": 1.7976931348623157e308')
    assert isinstance(validate(raw), Shipment)


@pytest.mark.parametrize("value", [1.0, True, "1", None, 1.5])
def test_ints_must_be_json_integers(value: Any) -> None:
    assert reason(with_("shipment", weight_kg=value)) == "wrong_type"
    assert reason(with_("delivery", transit_s=value)) == "wrong_type"
    assert reason(with_("position", ts=value)) == "wrong_type"


@pytest.mark.parametrize("value", [0, 1, "true", None, 1.0])
def test_bools_must_be_true_or_false(value: Any) -> None:
    assert reason(with_("position", loaded=value)) == "wrong_type"
    assert reason(with_("delivery", on_time=value)) == "wrong_type"


@pytest.mark.parametrize("value", [True, "1.5", None, [1]])
def test_numbers_must_be_json_numbers(value: Any) -> None:
    assert reason(with_("output", value_cny=value)) == "wrong_type"
    assert reason(with_("position", lat=value)) == "wrong_type"


def test_numbers_accept_integers() -> None:
    ev = validate(with_("output", value_cny=5))
    assert isinstance(ev, Output)
    assert ev.value_cny == 5.0


@pytest.mark.parametrize("value", [2, 0, -1, 1.0, True, "1", None])
def test_version(value: Any) -> None:
    assert reason(with_("output", v=value)) == "bad_version"


@pytest.mark.parametrize("value", ["", "x" * 65, 7, None])
def test_id(value: Any) -> None:
    assert reason(with_("output", id=value)) == "bad_id"


@pytest.mark.parametrize("value", ["x", "x" * 64, "事" * 64])
def test_id_length_is_in_characters(value: str) -> None:
    assert isinstance(validate(with_("output", id=value)), Output)


@pytest.mark.parametrize(
    ("etype", "field", "value"),
    [
        ("shipment", "weight_kg", 0),
        ("shipment", "weight_kg", -5),
        ("shipment", "weight_kg", 2**63),
        ("shipment", "value_cny", -0.01),
        ("delivery", "transit_s", -1),
        ("position", "speed_kmh", -1),
        ("position", "ts", -1),
        ("position", "ts", 2**63),
        ("output", "value_cny", -1),
        ("dc_load", "it_load_mw", -0.5),
        ("dc_load", "utilization", 1.0000001),
        ("dc_load", "utilization", -0.1),
    ],
)
def test_ranges(etype: str, field: str, value: Any) -> None:
    assert reason(with_(etype, **{field: value})) == "out_of_range"


@pytest.mark.parametrize(
    ("field", "value"),
    [("weight_kg", 1), ("weight_kg", 2**63 - 1), ("value_cny", 0), ("value_cny", -0.0)],
)
def test_range_edges_valid(field: str, value: Any) -> None:
    assert isinstance(validate(with_("shipment", **{field: value})), Shipment)


def test_utilization_edges_valid() -> None:
    assert isinstance(validate(with_("dc_load", utilization=0)), DcLoad)
    assert isinstance(validate(with_("dc_load", utilization=1.0)), DcLoad)


@pytest.mark.parametrize("value", ["520000", "5201", "Guiyang", "CN-GD", "520100 "])
def test_region_codes(value: str) -> None:
    assert reason(with_("position", region=value)) == "bad_region"
    assert reason(with_("shipment", origin=value)) == "bad_region"


@pytest.mark.parametrize("value", ["CN-gd", "CN-G", "CN-GDX", "CN-GD\n", "GD", "520000", ""])
def test_dest_bad(value: str) -> None:
    assert reason(with_("delivery", dest=value)) == "bad_region"
    assert reason(with_("shipment", dest=value)) == "bad_region"


@pytest.mark.parametrize("value", ["CN-GD", "CN-ZZ", "522700"])
def test_dest_good(value: str) -> None:
    assert isinstance(validate(with_("delivery", dest=value)), Delivery)


@pytest.mark.parametrize("value", ["vn", "VNM", "V", "", "VN\n"])
def test_export_country_bad(value: str) -> None:
    assert reason(with_("shipment", export_country=value)) == "bad_country"


def test_export_country_null_and_wrong_type() -> None:
    ev = validate(with_("shipment", export_country=None))
    assert isinstance(ev, Shipment)
    assert ev.export_country is None
    assert reason(with_("shipment", export_country=5)) == "wrong_type"


@pytest.mark.parametrize(
    ("etype", "field", "value"),
    [("shipment", "cargo", "gold"), ("output", "sector", "banking"), ("output", "sector", "")],
)
def test_enums(etype: str, field: str, value: str) -> None:
    assert reason(with_(etype, **{field: value})) == "bad_enum"


def test_string_fields_must_be_strings() -> None:
    assert reason(with_("position", truck_id=12)) == "wrong_type"
    assert reason(with_("dc_load", dc_id=None)) == "wrong_type"
    assert reason(with_("position", region=520100)) == "wrong_type"


def test_conflicting_duplicate_type_is_invalid() -> None:
    raw = with_("output")[:-1] + b', "type": "position"}'
    assert isinstance(validate(raw), Invalid)


def test_nesting_limit_is_fixed_and_deterministic() -> None:
    ok = with_("position")[:-1] + b',"x":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert isinstance(validate(ok), Position)
    deep = with_("position")[:-1] + b',"x":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    assert reason(deep) == "too_deep"
    # Far beyond any recursion limit, balanced or not: invalid, never a crash.
    for raw in (b"[" * 200_000 + b"]" * 200_000, b"[" * 200_000, b'{"a":' * 100_000):
        assert isinstance(validate(raw), Invalid)
    mixed = b'{"a":' + b'[{"b":' * 40 + b"1" + b"}]" * 40 + b"}"
    assert reason(mixed) == "too_deep"


def test_brackets_inside_strings_do_not_count() -> None:
    raw = with_("position", note="[" * 500 + "{" * 500)
    assert not too_deep(raw)
    assert isinstance(validate(raw), Position)


def test_huge_valid_input() -> None:
    raw = with_("position", blob="x" * 5_000_000, many=list(range(100_000)))
    assert isinstance(validate(raw), Position)


def test_never_raises_on_garbage() -> None:
    for raw in (b"\x00", b"{" * 3, b"}", b'{"v":1,"id":', b"\x80" * 10, b"  ", b'{"\\u0000":1}'):
        assert isinstance(validate(raw), Invalid)


# ------------------------------------------------------------------ log lines


def test_line_requires_int_ingest_ts() -> None:
    base = VALID["output"]
    ok = validate_line(enc({**base, "ingest_ts": TS + 5}))
    assert isinstance(ok, Output)
    assert ok.ingest_ts == TS + 5  # type: ignore[attr-defined]
    for bad in ("x", 1.0, None, True, -1):
        got = validate_line(enc({**base, "ingest_ts": bad}))
        assert isinstance(got, Invalid)
        assert got.reason == "bad_ingest_ts"
    missing = validate_line(enc(base))
    assert isinstance(missing, Invalid)
    assert missing.reason == "bad_ingest_ts"


def test_line_event_errors_keep_their_reason() -> None:
    got = validate_line(enc({**VALID["output"], "sector": "x", "ingest_ts": TS}))
    assert isinstance(got, Invalid)
    assert got.reason == "bad_enum"


# ------------------------------------------------------- independent model cross-check

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=70),
    st.sampled_from(["520100", "522700", "520000", "CN-GD", "CN-gd", "VN", "tea", "big_data"]),
)


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    """A valid line with a few fields dropped, replaced or added. Avoids the documented
    divergences: duplicate keys, integers beyond 64 bits, non-finite numbers in extras."""
    etype = draw(st.sampled_from(list(VALID)))
    obj = dict(VALID[etype])
    obj["ingest_ts"] = TS
    names = list(obj)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "set", "add"]))
        name = draw(st.sampled_from(names))
        if action == "drop":
            obj.pop(name, None)
        elif action == "set":
            obj[name] = draw(_SCALARS)
        else:
            obj[draw(st.text(min_size=1, max_size=5))] = draw(_SCALARS)
    if draw(st.booleans()):
        items = list(obj.items())
        obj = dict(draw(st.permutations(items)))
    return enc(obj)


@settings(max_examples=400, deadline=None)
@given(mutated_lines())
def test_the_validator_and_the_model_agree(raw: bytes) -> None:
    for got, model in ((validate(raw), reason_of(raw)), (validate_line(raw), line_reason_of(raw))):
        assert (got.reason if isinstance(got, Invalid) else None) == model, (raw, got, model)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert validate(raw) is not None
    assert validate_line(raw) is not None


# ------------------------------------------- invalid records: one decode, same answer


_EVENTS = msgspec.json.Decoder(VALIDATOR.schema.event)
_LINES = msgspec.json.Decoder(VALIDATOR.schema.line)


def answer_for(raw: bytes, line: bool = False) -> object:
    """What validation must answer, whichever path it takes and whatever it remembers: the
    event msgspec decodes, or an Invalid with the independent model's reason and, for
    detail, what docs/semantics.md promises: the byte of bad UTF-8, the depth limit, or
    msgspec's own message, cut to 200 characters."""
    model = line_reason_of(raw) if line else reason_of(raw)
    if model is None:
        return (_LINES if line else _EVENTS).decode(raw)
    if model == "not_utf8":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Invalid(model, f"invalid UTF-8 at byte {exc.start}")
    if model == "too_deep":
        return Invalid(model, "nested deeper than 64 levels")
    try:
        (_LINES if line else _EVENTS).decode(raw)
    except msgspec.DecodeError as exc:
        message = str(exc)
        return Invalid(model, message if len(message) <= 200 else message[:197] + "...")
    raise AssertionError(f"the model refuses what msgspec accepts: {raw[:200]!r}")


@settings(max_examples=400, deadline=None)
@given(st.one_of(mutated_lines(), st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
def test_invalid_records_get_the_expected_reason_and_detail(raw: bytes) -> None:
    for line in (False, True):
        got = validate_line(raw) if line else validate(raw)
        want = answer_for(raw, line)
        assert got == want, (raw, got, want)
        assert type(got) is type(want)


@pytest.mark.parametrize("etype", list(VALID))
def test_each_document_level_fault_gets_the_expected_answer(etype: str) -> None:
    base = with_(etype)
    cases = [
        base[:-1],  # truncated
        base[:-1] + b",}",  # trailing comma
        base.replace(b'"', b"'"),
        b"",
        b"null",
        b"1e999",
        base.replace(b'"v": 1', b'"v": 2'),
        base.replace(b'"v": 1', b'"v": NaN'),
        base.replace(b'"type": "', b'"type": "x'),
        base.replace(b'"ts": ', b'"ts": 1.5, "x": '),
        base.replace(b'"ts": %d' % TS, b'"ts": "%d"' % TS),
        b'{"pad":"' + b"x" * 100_000 + b'"}',
        b"\xff" + base,
        b"[" * 200 + b"]" * 200,
        b"[" + base + b"]",
    ]
    for raw in cases:
        for line in (False, True):
            got = validate_line(raw) if line else validate(raw)
            assert isinstance(got, Invalid), raw[:80]
            assert got == answer_for(raw, line), raw[:80]


class _CountingDecoder:
    def __init__(self, inner: msgspec.json.Decoder) -> None:
        self.inner = inner
        self.calls = 0

    def decode(self, raw: bytes) -> object:
        self.calls += 1
        return self.inner.decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        with_("shipment", weight_kg=-1),
        with_("shipment", cargo="gold"),
        without("position", "truck_id"),
        with_("dc_load", v=2),
        with_("output", type="telemetry"),
        with_("shipment")[:50],
        b"null",
    ],
)
def test_an_invalid_flat_record_is_decoded_once(monkeypatch, raw: bytes) -> None:
    validator = Validator(packs.load("guizhou"))
    counting = _CountingDecoder(validator._event_decoder)
    monkeypatch.setattr(validator, "_event_decoder", counting)
    assert isinstance(validator.validate(raw), Invalid)
    assert counting.calls == 1


def test_remembered_errors_stay_bounded_and_answers_do_not_change(monkeypatch) -> None:
    monkeypatch.setattr(validation, "_MAX_REMEMBERED", 50)
    monkeypatch.setattr(validation, "_VALIDATION_ERRORS", {})
    monkeypatch.setattr(validation, "_DECODE_ERRORS", {})
    for i in range(300):
        bad_enum = with_("shipment", cargo=f"gold{i}")  # a distinct message each time
        bad_json = with_("shipment")[: 40 + i % 150]
        for raw in (bad_enum, bad_json, bad_enum):
            got = validate(raw)
            assert got == answer_for(raw)
            assert isinstance(got, Invalid) and got.reason in ("bad_enum", "not_json")
        assert len(validation._VALIDATION_ERRORS) <= 50
        assert len(validation._DECODE_ERRORS) <= 50


def test_every_simulated_fault_gets_the_expected_answer() -> None:
    import random

    from producers.faults import MUTATORS, ONLY_FOR

    rng = random.Random(3)
    seen = set()
    for _ in range(20):
        for etype, event in VALID.items():
            raw = enc(event)
            for kind, mutate in MUTATORS.items():
                if etype not in ONLY_FOR.get(kind, (etype,)):
                    continue
                bad = mutate(dict(event), raw, rng)
                assert bad is not None
                got = validate(bad)
                assert isinstance(got, Invalid), (kind, bad)
                assert got == answer_for(bad), (kind, bad)
                seen.add(got.reason)
    assert len(seen) >= 12, seen
