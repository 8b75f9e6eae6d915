"""Stage 2 (and the two stages together, in process): the live aggregator's final records
equal the offline ``Engine``'s for the same events, however partitions are split, however
their messages interleave, with re-sent sealed seconds, sealer restarts and finalizer
restores from checkpoints; and its provisional state is exactly the one a rebuild gives."""

from __future__ import annotations

import random
from functools import cache

import pytest
from inprocess import (
    drive_finalizer,
    drive_sealer,
    end_of,
    interleave,
    split_records,
)

from consumers.aggregate.codec import PROVISIONAL, SEALED, encode_entry, encode_message
from consumers.aggregate.codec import decode_message as decode
from consumers.aggregate.finalizer import Checkpoint, FinalizerState
from consumers.buckets import Bucket
from consumers.changelog import Record
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from consumers.windows import Windows
from producers.simulation import SimConfig, Simulation
from pulseboard import spec
from pulseboard.eventlog import line_with_ingest_ts
from pulseboard.indicators import NAMES

CST_2350 = 1_764_172_200_000  # 2025-11-26 23:50 CST: the data crosses a CST midnight
PARTITIONS = {spec.TOPIC_FREIGHT: 6, spec.TOPIC_SECTOR: 3}


@cache
def dataset(rate: float, count: int, seed: int = 3) -> tuple[tuple, tuple[Record, ...]]:
    sim = Simulation(
        SimConfig(
            seed=seed,
            start_ms=CST_2350,
            events_per_sim_second=rate,
            invalid_fraction=0.02,
            late_fraction=0.02,
            future_fraction=0.02,
        )
    )
    records = tuple(sim.take(count))
    expected: list[Record] = []
    report = replay_lines(
        (line_with_ingest_ts(r.value, r.ingest_ts) for r in records),
        EngineConfig(),
        expected.extend,
    )
    assert report.stats.after_final == 0
    assert report.stats.late and report.stats.future and report.invalid_total
    return records, tuple(expected)


def two_stage(records, rng, *, partitions=PARTITIONS, sealer_crash=0.0, crash_at=()):
    """``crash_at``: finalizer crashes, as fractions of the message stream."""
    split = split_records(records, partitions)
    streams = {}
    restarts = 0
    for (topic, p), recs in split.items():
        run = drive_sealer(
            topic, p, recs, rng, crash_probability=sealer_crash, end_ms=end_of(records)
        )
        streams[f"{topic}:{p}"] = run.messages
        restarts += run.restarts
    stream = interleave(streams, rng)
    crashes = [int(f * len(stream)) for f in crash_at]
    fin = drive_finalizer(stream, streams, rng, crash_at=crashes)
    return fin, restarts, stream


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_split_and_interleaving_gives_the_engine_records(seed: int) -> None:
    records, expected = dataset(40.0, 12_000)
    rng = random.Random(seed)
    parts = {spec.TOPIC_FREIGHT: rng.randint(1, 7), spec.TOPIC_SECTOR: rng.randint(1, 4)}
    fin, _, _ = two_stage(records, rng, partitions=parts)
    assert fin.records == list(expected)
    # ingest_ts of a final record never decreases and never exceeds the data's.
    assert fin.ingest == sorted(fin.ingest)
    assert fin.ingest[-1] <= max(r.ingest_ts for r in records)


def test_sealer_restarts_resend_sealed_seconds_without_double_counting() -> None:
    records, expected = dataset(40.0, 12_000)
    rng = random.Random(11)
    fin, restarts, _ = two_stage(records, rng, sealer_crash=0.05)
    assert restarts >= 5
    assert fin.state is not None and fin.state.stats.duplicate_buckets > 0
    assert fin.records == list(expected)


def test_finalizer_restores_from_checkpoints_over_more_than_an_hour() -> None:
    # ~80 minutes of event time, across a CST midnight: the restore re-reads only the
    # last hour before the checkpoint and takes "today" and the published values from it.
    records, expected = dataset(4.0, 20_000)
    span_s = (records[-1].ingest_ts - records[0].ingest_ts) / 1000
    assert span_s > 4000
    rng = random.Random(5)
    split = split_records(records)
    streams = {
        f"{t}:{p}": drive_sealer(t, p, recs, rng, end_ms=end_of(records)).messages
        for (t, p), recs in split.items()
    }
    stream = interleave(streams, rng)
    n = len(stream)
    fin = drive_finalizer(stream, streams, rng, crash_at=[n // 3, n // 2, (9 * n) // 10])
    assert fin.restores == 3
    assert max(fin.restore_offsets) > 0  # re-read a suffix, not the whole topic
    assert fin.records == list(expected)


def test_everything_together() -> None:
    records, expected = dataset(40.0, 12_000)
    rng = random.Random(8)
    fin, restarts, _stream = two_stage(records, rng, sealer_crash=0.03, crash_at=[0.3, 0.6, 0.8])
    assert restarts and fin.restores == 3
    assert fin.records == list(expected)


def _same_values(a: Windows, b: Windows) -> bool:
    """Every indicator value of ``a`` equals ``b``'s (keys never touched count as absent)."""
    for name in NAMES:
        for key in a.keys_with_values(name) | b.keys_with_values(name):
            if a.value(name, key) != b.value(name, key):
                return False
    return True


def test_live_state_folded_incrementally_equals_a_rebuild() -> None:
    records, _ = dataset(40.0, 12_000)
    rng = random.Random(4)
    split = split_records(records)
    streams = {
        f"{t}:{p}": drive_sealer(t, p, recs, rng, end_ms=end_of(records)).messages
        for (t, p), recs in split.items()
    }
    stream = interleave(streams, rng)
    state = FinalizerState(streams)
    checked = 0
    for off, (kind, raw) in enumerate(stream):
        m = decode(raw)
        if kind == SEALED:
            state.on_sealed(off, m)
        else:
            state.on_provisional(m)
        state.take_final()
        if off % 5 == 0:
            state.provisional()
        if off % 7 == 0 and state.live is not None:
            state.provisional()
            incremental = state.live
            state.live = None
            state.provisional()
            rebuilt = state.live
            assert rebuilt is not None and rebuilt.as_of == incremental.as_of
            assert _same_values(incremental, rebuilt)
            checked += 1
    assert checked >= 10
    # At the end everything is final: the provisional values are the final ones slid on.
    _recs, _ = state.provisional()
    final = state.final.clone()
    assert state.live is not None and state.live.as_of is not None
    final.advance(state.live.as_of)
    assert _same_values(state.live, final)


def _msg(kind: str, src: str, through: int | None, entries: list[tuple[int, Bucket]], **kw):
    raw = encode_message(
        kind,
        src,
        kw.pop("sid", "a"),
        start=kw.pop("start", None),
        through=through,
        hi=kw.pop("hi", None),
        wm=kw.pop("wm", None),
        entries=[encode_entry(s, s * 1000, b) for s, b in entries],
        **kw,
    )
    return decode(raw)


def _ship(origin: str, n: int = 1) -> Bucket:
    b = Bucket()
    b.ship[origin] = [n, 1000 * n, 5_000_000 * n, 0]
    b.corridor[f"{origin}>CN-GD"] = n
    return b


def test_resent_sealed_seconds_are_dropped() -> None:
    st = FinalizerState(["f:0", "f:1"])
    st.on_sealed(0, _msg(SEALED, "f:0", 103, [(100, _ship("520100"))], hi=102_000))
    st.on_sealed(1, _msg(SEALED, "f:1", 101, [(100, _ship("520300"))], hi=100_500))
    # f:0 restarted from an older commit (through 100): second 100 again, then 103, 104.
    st.on_sealed(2, _msg(SEALED, "f:0", 105, [(100, _ship("520100")), (103, _ship("520100"))]))
    assert st.stats.duplicate_buckets == 1
    st.on_sealed(3, _msg(SEALED, "f:1", 110, [], hi=104_000))
    recs = {(r.t, r.name, r.key): r.value for r, _ in st.take_final()}
    assert recs[(101, "shipments_1m", "520000")] == 2
    assert recs[(104, "shipments_1m", "520000")] == 3
    assert st.merged == 105


def test_empty_partitions_do_not_hold_back_and_unknown_ones_do() -> None:
    st = FinalizerState(["f:0", "f:1", "s:0"])
    st.on_sealed(0, _msg(SEALED, "f:0", 103, [(100, _ship("520100"))], hi=100_000))
    st.on_sealed(1, _msg(SEALED, "s:0", None, [], empty=True))
    assert st.take_final() == []  # f:1 has said nothing yet
    st.on_sealed(2, _msg(SEALED, "f:1", 102, []))
    assert {r.t for r, _ in st.take_final()} == {101}
    assert st.merged == 102


def test_checkpoint_round_trips_through_json() -> None:
    import orjson

    records, _ = dataset(40.0, 12_000)
    rng = random.Random(2)
    fin, _, stream = two_stage(records, rng)
    assert fin.state is not None
    ck = fin.state.checkpoint(len(stream) - 1)
    assert ck is not None
    back = Checkpoint.from_obj(orjson.loads(orjson.dumps(ck.to_obj())))
    assert back == ck


def test_provisional_messages_from_a_new_session_replace_the_old_deltas() -> None:
    st = FinalizerState(["f:0"])
    st.on_sealed(0, _msg(SEALED, "f:0", 100, [], wm=130_500, hi=100_000))
    st.on_provisional(_msg(PROVISIONAL, "f:0", 100, [(100, _ship("520100", 2))], wm=130_500))
    recs, _ = st.provisional()
    assert {(r.name, r.key): r.value for r in recs}[("shipments_1m", "520000")] == 2
    # The sealer restarted: its new session reports the same events again from scratch.
    st.on_provisional(
        _msg(PROVISIONAL, "f:0", 100, [(100, _ship("520100", 2))], sid="b", wm=130_600)
    )
    st.on_provisional(
        _msg(PROVISIONAL, "f:0", 100, [(100, _ship("520100", 1))], sid="b", wm=130_700)
    )
    recs, _ = st.provisional()
    assert {(r.name, r.key): r.value for r in recs}[("shipments_1m", "520000")] == 3
