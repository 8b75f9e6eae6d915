"""Fuzzing the input side: the event validator, the offline engine and the aggregator's key
check, driven by arbitrary bytes and by mutations of the events the producers' simulation
really emits. Derandomized (the same examples on every run), a few seconds in all.

tests/test_validation.py has the rule-by-rule cases; this file adds what random inputs and
real simulated events find, and the hand-made extremes it does not have."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import FakeRecord
from validation_model import reason_of

from consumers.aggregate.sealer import KEY_MISMATCH, PartitionSealer
from consumers.changelog import Record
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from consumers.validation import MAX_DETAIL, REASONS, Invalid, Validator
from producers.records import SimRecord
from producers.simulation import SimConfig, Simulation
from pulseboard import packs
from pulseboard.eventlog import read_lines
from pulseboard.spec import TOPIC_FREIGHT

# SPEC sections 1 and 3 are the guizhou pack (section 10).
VALIDATOR = Validator(packs.load("guizhou"))
validate = VALIDATOR.validate
validate_line = VALIDATOR.validate_line

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START_MS = 1_764_000_000_000


@pytest.fixture(scope="module")
def simulated() -> list[SimRecord]:
    """Records as the producers emit them: mostly valid, some late, future or invalid."""
    config = SimConfig(
        seed=11,
        start_ms=START_MS,
        events_per_sim_second=40,
        invalid_fraction=0.04,
        late_fraction=0.03,
        future_fraction=0.03,
    )
    return Simulation(config).take(400)


@pytest.fixture(scope="module")
def valid(simulated: list[SimRecord]) -> list[SimRecord]:
    return [r for r in simulated if r.kind != "invalid"]


def as_line(record: SimRecord) -> bytes:
    """The event log line of a record (SPEC section 5)."""
    return record.value[:-1] + b',"ingest_ts":%d}' % record.ingest_ts


def check_outcome(result: object, again: Callable[[bytes], object] = validate) -> None:
    """What every validation must give: an event, or a reason from the fixed list."""
    if isinstance(result, Invalid):
        assert result.reason in REASONS, result
        assert isinstance(result.detail, str) and len(result.detail) <= MAX_DETAIL
    else:
        assert isinstance(result, msgspec.Struct), result
        # An accepted event is a fixed point: encoded again, it validates to itself.
        assert again(msgspec.json.encode(result)) == result


def replay(lines: list[bytes]) -> tuple[list[Record], int]:
    out: list[Record] = []
    report = replay_lines(lines, EngineConfig(), out.extend)
    return out, report.invalid_total


# -------------------------------------------------------------------- validator


def test_every_simulated_event_validates(simulated, valid):
    assert len(valid) > 300 and any(r.kind == "invalid" for r in simulated)
    for record in simulated:
        event, line = validate(record.value), validate_line(as_line(record))
        if record.kind == "invalid":
            assert isinstance(event, Invalid), record  # the simulation's deliberate faults
            continue
        assert not isinstance(event, Invalid), (record, event)
        assert not isinstance(line, Invalid), (record, line)
        assert line.ingest_ts == record.ingest_ts  # type: ignore[attr-defined]
        check_outcome(event)


JSONISH = st.text(alphabet='{}[]":,.0123456789-+eEtruefalsnNIiy\\u \t\n', max_size=300)


@FUZZ
@given(st.one_of(st.binary(max_size=600), JSONISH.map(str.encode)))
def test_arbitrary_bytes_give_an_event_or_a_reason(raw):
    check_outcome(validate(raw))
    check_outcome(validate_line(raw), validate_line)


@st.composite
def byte_mutations(draw: st.DrawFn, values: list[bytes]) -> bytes:
    """A real event with a few byte-level edits: flips, cuts, splices, repeats."""
    raw = bytearray(draw(st.sampled_from(values)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["flip", "delete", "insert", "repeat", "truncate"]))
        if op == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif op == "delete":
            del raw[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "repeat":
            raw[at:at] = raw[at : at + draw(st.integers(1, 40))]
        else:
            del raw[at:]
    return bytes(raw)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_byte_mutations_of_real_events_never_raise(valid, data):
    raw = data.draw(byte_mutations([r.value for r in valid]))
    check_outcome(validate(raw))
    check_outcome(validate_line(raw[:-1] + b',"ingest_ts":1}' if raw else raw), validate_line)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), extra=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=4))
def test_unknown_fields_never_make_a_valid_event_invalid(valid, data, extra):
    """SPEC section 3: extra unknown fields are allowed and ignored, whatever they hold."""
    record = data.draw(st.sampled_from(valid))
    original = validate(record.value)
    obj = orjson.loads(record.value)
    extra = {k: v for k, v in extra.items() if k not in obj and k != "ingest_ts"}
    got = validate(orjson.dumps({**obj, **extra}))
    assert got == original, (extra, got)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), value=JSON_VALUES)
def test_any_value_in_a_known_field_gives_an_event_or_a_reason(valid, data, value):
    obj = orjson.loads(data.draw(st.sampled_from(valid)).value)
    obj[data.draw(st.sampled_from(sorted(obj)))] = value
    check_outcome(validate(orjson.dumps(obj)))


# ------------------------------------------------------------------ hand-made


def test_every_truncation_of_an_event_is_invalid(valid):
    for record in valid[:20]:
        raw = record.value
        for end in range(len(raw)):
            got = validate(raw[:end])
            assert isinstance(got, Invalid) and got.reason == "not_json", (raw[:end], got)


def test_ten_megabyte_records(valid):
    base = valid[0].value
    big = 10 * 1024 * 1024
    padded = base[:-1] + b',"pad":"' + b"x" * big + b'"}'
    assert validate(padded) == validate(base)
    garbage = b"\xff" * big
    assert validate(garbage) == Invalid("not_utf8", "invalid UTF-8 at byte 0")
    assert validate(b"[" * big).reason == "too_deep"  # type: ignore[union-attr]
    assert validate(b'"' + b"x" * big).reason == "not_json"  # type: ignore[union-attr]
    # A number too large for a double is infinite (as the independent model says too).
    assert validate(b"1" * big).reason == "not_finite"  # type: ignore[union-attr]
    assert reason_of(b"1" * 400) == "not_finite"


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"{" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"v":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_deep_nesting_is_refused_without_recursion(raw):
    got = validate(raw)
    assert isinstance(got, Invalid) and got.reason in ("too_deep", "not_json")


@pytest.mark.parametrize(
    ("token", "bad_byte"),
    [(b"NaN", 0), (b"Infinity", 0), (b"-Infinity", 1)],  # "-" starts a number: one byte on
)
def test_non_finite_tokens_in_an_ignored_field_are_not_json(valid, token, bad_byte):
    """An unknown field is skipped, not trusted: a NaN token there is still not JSON, and
    the detail points at the byte where the JSON breaks."""
    head = valid[0].value[:-1] + b',"extra":'
    raw = head + token + b"}"
    assert validate(raw) == Invalid(
        "not_json", f"JSON is malformed: invalid character (byte {len(head) + bad_byte})"
    )


def test_an_overflowing_number_in_an_ignored_field_is_ignored(valid):
    """docs/semantics.md: 1e999 parses to infinity; in an ignored extra field it is ignored
    like the rest of the field."""
    raw = valid[0].value[:-1] + b',"extra":1e999}'
    got = validate(raw)
    assert not isinstance(got, Invalid), got
    assert orjson.loads(msgspec.json.encode(got)) == orjson.loads(valid[0].value)


# ------------------------------------------------------------------- the engine


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_garbage_lines_do_not_change_the_final_records(simulated, data):
    """The engine over valid and garbage lines gives exactly what it gives over the valid
    lines alone; every garbage line is counted as invalid."""
    good = [as_line(r) for r in simulated if r.kind != "invalid"]
    garbage = st.one_of(
        st.binary(max_size=80),
        byte_mutations(good),
        st.sampled_from([r.value for r in simulated if r.kind == "invalid"]),
        st.sampled_from([b"", b"{}", b"null", b"[" * 1000, b'{"v":1', b"\xc3"]),
    )
    mixed = list(good)
    for _ in range(data.draw(st.integers(1, 30))):
        mixed.insert(data.draw(st.integers(0, len(mixed))), data.draw(garbage))
    # A mutation may happen to be a valid event: it counts as one, wherever it came from.
    still_valid = [line for line in mixed if not isinstance(validate_line(line), Invalid)]
    got, invalid = replay(mixed)
    expected, none = replay(still_valid)
    assert got == expected
    assert none == 0 and invalid == len(mixed) - len(still_valid)


def test_a_log_with_huge_and_broken_lines_replays_like_the_clean_log(simulated, tmp_path: Path):
    good = [as_line(r) for r in simulated if r.kind != "invalid"]
    bad = [
        b"x" * (10 * 1024 * 1024),  # a 10 MB line
        b"\xff\xfe\x00",
        good[3][: len(good[3]) // 2],  # truncated
        b"[" * 100_000,
        b"\r",
    ]
    log = tmp_path / "mixed.jsonl.gz"
    with gzip.open(log, "wb") as f:
        for i, line in enumerate(good):
            f.write(line + b"\n")
            if i % 50 == 0 and bad:
                f.write(bad.pop() + b"\n")
    assert not bad
    got, invalid = replay(list(read_lines(log)))
    assert (got, invalid) == (replay(good)[0], 5)


# ------------------------------------------------------------ the aggregator's key


@settings(FUZZ, max_examples=300)
@given(data=st.data(), key=st.one_of(st.none(), st.binary(max_size=24)))
def test_a_record_counts_only_under_its_spec_key(valid, data, key):
    """SPEC section 2: freight events are keyed by truck_id, dc_load by dc_id, output by
    region|sector. Any other key (none, another id, bytes that are not UTF-8, the right id
    with a stray byte) is refused as key_mismatch and never counted."""
    record = data.draw(st.sampled_from([r for r in valid if r.fault == ""]))
    key = data.draw(
        st.sampled_from([key, record.key + b" ", record.key[:-1], record.key.lower(), record.key])
    )
    freight = record.topic == TOPIC_FREIGHT
    sealer = PartitionSealer(record.topic, 0, freight=freight, sid="fuzz")
    result = sealer.feed_batch([FakeRecord(0, record.ingest_ts, key, record.value)], now_ms=0)
    if key == record.key:
        assert (result.counted, result.invalid) == (1, [])
    else:
        assert result.counted == 0
        assert [reason for _, reason, _ in result.invalid] == [KEY_MISMATCH]
