"""The live aggregator on a real Kafka broker: its final records equal the offline replay's
for the same log (with invalid, late and future records), also when it is SIGKILLed and
restarted midway and when three processes share the work; invalid records land in the DLQ.

Each test publishes the log into topics of its own prefix (original ingest times as record
timestamps), runs `python -m pulseboard.cli aggregate` as child processes, and reads the final
records back from the indicators topic. The idle rule runs faster than the wall clock so the
last seconds seal quickly once the log is consumed: 50x where the whole log is in Kafka
before any aggregator starts, 10x where it is published (at 100x) while they run."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from support import CLI, Finals, diff, free_port

from consumers.changelog import Record
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from producers.command import write_log
from producers.replay_to_kafka import ReplayOptions, replay_to_kafka
from producers.simulation import SimConfig, Simulation
from pulseboard import spec
from pulseboard.config import Config
from pulseboard.eventlog import read_lines
from pulseboard.kafka_client import client_kwargs
from pulseboard.topics import ensure_topics

pytestmark = pytest.mark.integration

RATE = 200.0  # events per simulated second


@dataclasses.dataclass(frozen=True)
class Dataset:
    path: Path
    records: int
    invalid: int
    expected: dict[tuple[int, str, str], object]
    last_t: int


def _dataset(tmp: Path, count: int, seed: int) -> Dataset:
    # Recent ingest times: the broker's retention (a day) must not delete the test's data.
    start = int(time.time() * 1000) - 2 * 3600 * 1000
    sim = Simulation(
        SimConfig(
            seed=seed,
            start_ms=start,
            events_per_sim_second=RATE,
            invalid_fraction=0.01,
            late_fraction=0.01,
            future_fraction=0.01,
        )
    )
    path = tmp / f"log-{seed}-{count}.jsonl"
    write_log(sim, str(path), count)
    expected: list[Record] = []
    report = replay_lines(read_lines(str(path)), EngineConfig(), expected.extend)
    assert report.stats.after_final == 0
    assert report.stats.late and report.stats.future
    assert report.invalid_total == sim.tally.invalid > 0
    return Dataset(
        path,
        count,
        sim.tally.invalid,
        {(r.t, r.name, r.key): r.value for r in expected},
        report.stats.hi_ts // 1000 + 1,  # type: ignore[operator]
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return _dataset(tmp_path_factory.mktemp("agg"), 60_000, seed=21)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return _dataset(tmp_path_factory.mktemp("agg"), 200_000, seed=22)


async def _prepared(config: Config, prefix: str, data: Dataset | None) -> Config:
    """Topics of their own for a test, with the log published into them (``data``)."""
    cfg = dataclasses.replace(config, kafka=dataclasses.replace(config.kafka, topic_prefix=prefix))
    await ensure_topics(cfg)
    if data is not None:
        sent, _ = await replay_to_kafka(cfg, str(data.path), ReplayOptions())
        assert sent == data.records
    return cfg


# The whole log is in Kafka before the aggregator starts: a caught-up partition is done.
PREPUBLISHED = ("--idle-ms", "500", "--idle-speed", "50")


def _start(
    cfg: Config, env: dict[str, str], *extra: str, idle: tuple[str, ...] = PREPUBLISHED
) -> subprocess.Popen[bytes]:
    argv = [
        *CLI,
        "aggregate",
        "--topic-prefix",
        cfg.kafka.topic_prefix,
        "--kafka-port",
        str(cfg.broker.port),
        *idle,
        "--checkpoint-interval-ms",
        "500",
        *extra,
    ]
    if "--metrics-port" not in extra:
        argv += ["--metrics-port", "0"]
    return subprocess.Popen(argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            assert p.wait(timeout=30) == 0
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise


async def _dlq(cfg: Config, expected: int) -> list:
    c = AIOKafkaConsumer(**client_kwargs(cfg, "test-dlq"), enable_auto_commit=False)
    await c.start()
    try:
        tp = TopicPartition(cfg.kafka.topic(spec.TOPIC_DLQ), 0)
        c.assign([tp])
        await c.seek_to_beginning(tp)
        out: list = []
        deadline = time.monotonic() + 30
        while len(out) < expected and time.monotonic() < deadline:
            for records in (await c.getmany(timeout_ms=500)).values():
                out.extend(records)
        # Anything beyond the expected count would be a duplicate: look a little longer.
        for records in (await c.getmany(timeout_ms=1000)).values():
            out.extend(records)
        return out
    finally:
        await c.stop()


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    totals: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("pulseboard_aggregator_"):
            name_labels, _, value = line.rpartition(" ")
            totals[name_labels.split("{")[0]] += float(value)
    return dict(totals)


async def test_final_records_equal_the_offline_replay_and_invalid_go_to_the_dlq(
    kafka_env, kafka_config, small
):
    cfg = await _prepared(kafka_config, "agg1.", small)
    port = free_port()
    proc = _start(cfg, kafka_env, "--metrics-port", str(port))
    try:
        async with Finals(cfg) as finals:
            await finals.until(lambda: finals.values == small.expected or bool(finals.conflicts))
            assert not finals.conflicts
            assert finals.values == small.expected, diff(finals.values, small.expected)
            assert finals.duplicates == 0
            assert finals.provisional > 0
        dlq = await _dlq(cfg, small.invalid)
        assert len(dlq) == small.invalid
        reasons = Counter(dict(r.headers)["pulseboard-reason"].decode() for r in dlq)
        assert sum(reasons.values()) == small.invalid and "not_json" in reasons
        for rec in dlq:
            headers = dict(rec.headers)
            assert headers["pulseboard-source-topic"].decode() in (
                cfg.kafka.topic(spec.TOPIC_FREIGHT),
                cfg.kafka.topic(spec.TOPIC_SECTOR),
            )
            assert int(headers["pulseboard-source-offset"]) >= 0
        m = _scrape(port)
        assert m["pulseboard_aggregator_records_consumed_total"] == small.records
        assert m["pulseboard_aggregator_records_invalid_total"] == small.invalid
        assert m["pulseboard_aggregator_dlq_records_total"] == small.invalid
        assert m["pulseboard_aggregator_records_late_total"] > 0
        assert m["pulseboard_aggregator_records_future_total"] > 0
        assert m["pulseboard_aggregator_indicator_records_published_total"] > len(small.expected)
        assert m["pulseboard_aggregator_batch_processing_seconds_count"] > 0
        assert m["pulseboard_aggregator_consumer_lag_records"] == 0
    finally:
        _stop(proc)


async def _committed(cfg: Config, group: str) -> dict:
    admin = AIOKafkaAdminClient(**client_kwargs(cfg, "test-admin"))
    await admin.start()
    try:
        return await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()


def _assert_twice_a_second(times: list[int], until_ms: float) -> None:
    """Provisional updates were published at least twice a second while data flowed:
    records of one publication are stamped within a few ms, publications >= 80 ms apart (the
    provisional interval, 100 ms, paced at no less than 80% of it)."""
    times = sorted(t for t in times if t <= until_ms)
    assert times, "no provisional updates"
    starts = [times[0]] + [b for a, b in itertools.pairwise(times) if b - a > 40]
    span_s = (times[-1] - times[0]) / 1000
    assert span_s > 2
    assert len(starts) / span_s >= 2.0, (len(starts), span_s)
    # Publications are ~100 ms apart; a gap of a few intervals is a loaded CI machine
    # stalling the process, a gap of seconds would be the loop blocked by work.
    assert max(b - a for a, b in itertools.pairwise(starts)) < 1500


# The log is published while the aggregator runs, at 100x its own pace (its ~1000 s of event
# time in ~10 s). The idle rule must then not run ahead of the publisher: it only acts after
# 5 s without records (the publisher never pauses that long) and at 10x, below 100x.
PACED = 100.0
PACED_IDLE = ("--idle-ms", "5000", "--idle-speed", "10")


async def test_sigkill_midway_and_restart_gives_the_same_final_records(
    kafka_env, kafka_config, large
):
    cfg = await _prepared(kafka_config, "agg2.", None)
    first_t = min(t for t, _, _ in large.expected)
    midway = first_t + (large.last_t - first_t) * 2 // 5
    group = "agg2.pulseboard-finalize"

    async def commit_metadata() -> dict:
        offsets = await _committed(cfg, group)
        return next((orjson.loads(om.metadata) for om in offsets.values() if om.metadata), {})

    proc = _start(cfg, kafka_env, idle=PACED_IDLE)
    publishing = asyncio.create_task(
        replay_to_kafka(cfg, str(large.path), ReplayOptions(speed=PACED, force=True))
    )
    try:
        async with Finals(cfg) as finals:
            # Kill once the finalizer has checkpointed and final records are well under way.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await finals.poll()
                # ...and provisional updates have flowed for 3.5 s (the rate checked up to 1 s
                # before the kill needs a span over 2 s; a fast start reaches midway first).
                times = finals.provisional_times
                flowing = bool(times) and max(times) - min(times) > 3_500
                if (
                    finals.max_t >= midway
                    and flowing
                    and (await commit_metadata()).get("c") is not None
                ):
                    break
            assert finals.max_t >= midway
            proc.send_signal(signal.SIGKILL)
            killed_ms = time.time() * 1000
            proc.wait()
            _assert_twice_a_second(finals.provisional_times, until_ms=killed_ms - 1000)
            assert not publishing.done(), "the log was published before the kill"
            # What the restart takes over from: final records after this T are its job.
            published_through = (await commit_metadata())["e"]
            assert published_through < large.last_t - 60
            port = free_port()
            proc = _start(cfg, kafka_env, "--metrics-port", str(port), idle=PACED_IDLE)
            sent, _ = await publishing
            assert sent == large.records
            await finals.until(lambda: finals.values == large.expected or bool(finals.conflicts))
            assert not finals.conflicts
            assert finals.values == large.expected, diff(finals.values, large.expected)
            restarted = _scrape(port)
            assert restarted["pulseboard_aggregator_records_replayed_total"] > 0
            assert restarted["pulseboard_aggregator_finalizer_restore_seconds"] > 0
            assert restarted.get("pulseboard_aggregator_records_after_seal_total", 0) == 0
    finally:
        publishing.cancel()
        if proc.returncode != -signal.SIGKILL:  # the killed one is not stopped again
            _stop(proc)


async def test_three_processes_give_the_same_final_records_as_one(kafka_env, kafka_config, large):
    cfg = await _prepared(kafka_config, "agg3.", large)
    procs = []
    try:
        async with Finals(cfg) as finals:
            # Staggered starts: partitions move between members while data flows.
            for _ in range(3):
                procs.append(_start(cfg, kafka_env))
                end = time.monotonic() + 1.0
                while time.monotonic() < end:
                    await finals.poll()
            await finals.until(lambda: finals.values == large.expected or bool(finals.conflicts))
            assert not finals.conflicts
            assert finals.values == large.expected, diff(finals.values, large.expected)
        sealers = await _committed(cfg, "agg3.pulseboard-aggregate")
        assert len(sealers) == kafka_config.kafka.freight_partitions + 3
    finally:
        _stop(*procs)


async def test_hand_made_bad_records_reach_the_dlq_intact_and_the_aggregator_goes_on(
    kafka_env, kafka_config
):
    """Bad records of every sort, a 10 MB one among them, published around a valid event:
    each lands in the DLQ byte for byte with the validator's reason (the key check's for a
    wrong key), the valid event is counted, and the aggregator keeps running."""
    import uuid

    from pulseboard.publishing import producer_for

    cfg = await _prepared(kafka_config, f"bad{uuid.uuid4().hex[:6]}.", None)
    now = int(time.time() * 1000)
    good = {
        "v": 1, "id": "ok-1", "type": "shipment", "ts": now, "truck_id": "T1",
        "shipment_id": "S1", "shipper_id": "P1", "origin": "520100", "dest": "CN-CQ",
        "cargo": "tea", "weight_kg": 1000, "value_cny": 5.0, "export_country": None,
    }  # fmt: skip

    def variant(**change: object) -> bytes:
        return orjson.dumps({**good, "id": f"bad-{len(change)}-{sorted(change)}", **change})

    bad = [
        (b"T1", b'\xff\xfe{"v":1}'),  # not UTF-8
        (b"T1", orjson.dumps(good)[:40]),  # truncated
        (b"T1", b"[" * 100_000 + b"]" * 100_000),  # deeply nested
        (b"T1", orjson.dumps(good).replace(b'"value_cny":5.0', b'"value_cny":NaN')),
        (b"T1", orjson.dumps(good).replace(b'"value_cny":5.0', b'"value_cny":Infinity')),
        (b"T1", variant(weight_kg="heavy")),  # wrong type
        (b"T1", variant(type="teleport")),  # unknown type
        (b"T1", variant(v=2)),  # unknown version
        (b"T1", b'{"pad":"' + b"x" * 10_000_000 + b'"}'),  # 10 MB
        (b"T1", b"[]"),  # not an object
    ]
    # What each of `bad` must be refused for (SPEC section 3, docs/semantics.md), in order.
    reasons = ["not_utf8", "not_json", "too_deep", "not_json", "not_json", "wrong_type"]
    reasons += ["unknown_type", "bad_version", "missing_field", "not_object"]
    wrong_key = (b"T2", variant(id="wrong-key"))  # valid event, key not its truck_id
    producer = producer_for(cfg, "test-bad-records")
    await producer.start()
    try:
        topic = cfg.kafka.topic(spec.TOPIC_FREIGHT)
        for key, value in [*bad[:5], (b"T1", orjson.dumps(good)), *bad[5:], wrong_key]:
            await producer.send_and_wait(topic, value, key=key, timestamp_ms=now)
    finally:
        await producer.stop()

    port = free_port()
    proc = _start(cfg, kafka_env, "--metrics-port", str(port))
    try:
        dlq = await _dlq(cfg, len(bad) + 1)
        assert len(dlq) == len(bad) + 1
        got = {rec.value: dict(rec.headers)["pulseboard-reason"].decode() for rec in dlq}
        for (_key, value), reason in zip(bad, reasons, strict=True):
            assert got[value] == reason
        assert got[wrong_key[1]] == "key_mismatch"
        assert {r.key for r in dlq} == {b"T1", b"T2"}

        def counted() -> bool:
            m = _scrape(port)
            return m.get("pulseboard_aggregator_records_counted_total", 0) == 1

        deadline = time.monotonic() + 30
        while not counted() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert counted()
        m = _scrape(port)
        assert m["pulseboard_aggregator_dlq_records_total"] == len(bad) + 1
        assert proc.poll() is None
    finally:
        _stop(proc)
