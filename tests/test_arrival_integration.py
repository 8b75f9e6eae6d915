"""A log replayed into a *running* pipeline gives exactly the offline final records, however
it arrives (real broker, real CLI): (a) all at once into one aggregator, (b) the same with
three aggregators in one group, (c) freight first and sector 20 s later, (d) in bursts with
pauses longer than the idle time, (e) with partitions added to a topic mid-run. The
after-seal and dropped-bucket counters stay 0. And a replay is refused, with what to do,
when it would write into topics a live aggregator consumes without --force."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import NewPartitions
from support import Child, Finals, diff, free_port, metric, run_cli, until

from consumers.changelog import Record
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from producers.command import write_log
from producers.simulation import SimConfig, Simulation
from pulseboard import spec
from pulseboard.config import Config
from pulseboard.eventlog import read_lines
from pulseboard.kafka_client import kafka_admin
from pulseboard.topics import ensure_topics

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
CST_MS = 8 * 3_600_000


@dataclass(frozen=True)
class Logged:
    path: Path
    lines: list[bytes]
    expected: dict[tuple[int, str, str], object]


def _exactly_l(lines: list[bytes]) -> list[bytes]:
    """Every 500th shipment is followed by a copy that is exactly L late (counted)."""
    out: list[bytes] = []
    for i, line in enumerate(lines):
        out.append(line)
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if i % 500 == 0 and isinstance(obj, dict) and obj.get("type") == "shipment":
            try:
                copy = {**obj, "id": f"exact-l-{i}", "ts": obj["ingest_ts"] - 30_000}
            except TypeError:
                continue
            out.append(orjson.dumps(copy))
    return out


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """~8 minutes of events across a CST midnight two days ago (inside the broker's
    retention), with invalid, late, future and exactly-L lines."""
    now = int(time.time() * 1000)
    midnight = (now + CST_MS) // DAY_MS * DAY_MS - CST_MS - 2 * DAY_MS
    sim = Simulation(
        SimConfig(
            seed=31,
            start_ms=midnight - 5 * 60_000,
            events_per_sim_second=30.0,
            invalid_fraction=0.01,
            late_fraction=0.01,
            future_fraction=0.01,
        )
    )
    tmp = tmp_path_factory.mktemp("arrival")
    raw = tmp / "raw.jsonl"
    write_log(sim, str(raw), 15_000)
    lines = _exactly_l(list(read_lines(str(raw))))
    path = tmp / "log.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    records: list[Record] = []
    report = replay_lines(lines, EngineConfig(), records.extend)
    assert report.stats.late and report.stats.future and report.invalid_total
    assert report.stats.after_final == 0
    return Logged(path, lines, {(r.t, r.name, r.key): r.value for r in records})


def _aggregator(env: dict[str, str], prefix: str, port: int) -> Child:
    return Child(env, "aggregate", "--topic-prefix", prefix, "--metrics-port", str(port))


def _stop(procs: list[Child]) -> None:
    for p in procs:
        p.end()


async def _wait_for_members(cfg: Config, group: str, count: int, timeout: float = 60) -> None:
    """Until the aggregators have joined their group (so a replay meets them running)."""
    admin = kafka_admin(cfg, "test-members")
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(g[0] == group for g in await admin.list_consumer_groups()):
                for described in await admin.describe_consumer_groups([group]):
                    for g in described.groups:
                        if g[1] == group and g[2] == "Stable" and len(g[5]) >= count:
                            return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{count} members never joined {group}")
    finally:
        await admin.close()


async def _finals(cfg: Config, want: dict, timeout: float = 240) -> dict:
    """Final records read from the indicators topic until they equal ``want`` (or time out);
    a final record published twice with different values fails at once."""
    async with Finals(cfg) as finals:
        await finals.until(lambda: finals.values == want or bool(finals.conflicts), timeout)
        assert not finals.conflicts, finals.conflicts[:3]
        return finals.values


async def _pipeline(cfg: Config, env: dict[str, str], processes: int) -> tuple[list, list[int]]:
    await ensure_topics(cfg)
    ports = [free_port() for _ in range(processes)]
    procs = [_aggregator(env, cfg.kafka.topic_prefix, port) for port in ports]
    await _wait_for_members(cfg, cfg.kafka.prefix + "pulseboard-aggregate", processes)
    return procs, ports


def _assert_clean(ports: list[int]) -> None:
    for port in ports:
        assert metric(port, "pulseboard_aggregator_records_consumed_total") > 0  # it is up
        assert metric(port, "pulseboard_aggregator_records_after_seal_total") == 0
        assert metric(port, "pulseboard_aggregator_dropped_buckets_total") == 0


def _replay(env: dict, cfg: Config, path: Path, *extra: str) -> subprocess.CompletedProcess:
    prefix = ["--topic-prefix", cfg.kafka.topic_prefix]
    result = run_cli(env, "replay", str(path), "--to-kafka", *prefix, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _prefixed(config: Config, prefix: str) -> Config:
    return replace(config, kafka=replace(config.kafka, topic_prefix=prefix))


@pytest.mark.parametrize("processes", [1, 3])
async def test_a_log_published_at_once_into_running_aggregators(
    kafka_env, kafka_config, logged, processes
):
    cfg = _prefixed(kafka_config, f"arrive-all{processes}.")
    procs, ports = await _pipeline(cfg, kafka_env, processes)
    try:
        _replay(kafka_env, cfg, logged.path, "--force")
        got = await _finals(cfg, logged.expected)
        assert got == logged.expected, diff(got, logged.expected)
        _assert_clean(ports)
    finally:
        _stop(procs)


async def test_freight_first_and_sector_twenty_seconds_later(kafka_env, kafka_config, logged):
    cfg = _prefixed(kafka_config, "arrive-split.")
    procs, ports = await _pipeline(cfg, kafka_env, 1)
    try:
        _replay(kafka_env, cfg, logged.path, "--force", "--topics", "freight")
        # The gap is the arrival pattern under test (ten times the idle time), not a wait
        # for something that could be awaited.
        await asyncio.sleep(20)
        _replay(kafka_env, cfg, logged.path, "--force", "--topics", "sector")
        got = await _finals(cfg, logged.expected)
        assert got == logged.expected, diff(got, logged.expected)
        _assert_clean(ports)
    finally:
        _stop(procs)


async def test_bursts_with_pauses_longer_than_the_idle_time(
    kafka_env, kafka_config, logged, tmp_path
):
    cfg = _prefixed(kafka_config, "arrive-bursts.")
    procs, ports = await _pipeline(cfg, kafka_env, 1)
    parts = 4
    size = len(logged.lines) // parts + 1
    chunks = [logged.lines[i : i + size] for i in range(0, len(logged.lines), size)]
    try:
        for i, chunk in enumerate(chunks):
            path = tmp_path / f"part{i}.jsonl"
            path.write_bytes(b"".join(line + b"\n" for line in chunk))
            last = i == len(chunks) - 1
            _replay(kafka_env, cfg, path, "--force", *(() if last else ("--no-end",)))
            if not last:
                await asyncio.sleep(4)  # the pause under test: twice the idle time
        got = await _finals(cfg, logged.expected)
        assert got == logged.expected, diff(got, logged.expected)
        _assert_clean(ports)
    finally:
        _stop(procs)


async def test_partitions_added_mid_run_lose_and_double_nothing(kafka_env, kafka_config, logged):
    cfg = _prefixed(kafka_config, "arrive-grow.")
    procs, ports = await _pipeline(cfg, kafka_env, 1)
    topic = cfg.kafka.topic(spec.TOPIC_FREIGHT)
    try:
        # ~8 minutes of log at 20x: ~24 s; partitions are added a third of the way in.
        argv = ["replay", str(logged.path), "--to-kafka", "--topic-prefix", cfg.kafka.topic_prefix]
        replaying = Child(kafka_env, *argv, "--force", "--speed", "20")
        try:
            consumed = "pulseboard_aggregator_records_consumed_total"
            await until(lambda: metric(ports[0], consumed) >= 4000, 60, "the replay to start")
            admin = kafka_admin(cfg, "test-grow")
            await admin.start()
            try:
                await admin.create_partitions({topic: NewPartitions(total_count=9)})
            finally:
                await admin.close()
            code, err = replaying.wait(timeout=120)
            assert code == 0, err[-2000:]
        finally:
            replaying.end()
        got = await _finals(cfg, logged.expected)
        assert got == logged.expected, diff(got, logged.expected)
        _assert_clean(ports)
        # Every line was read once, the added partitions' included (keys moved there).
        assert metric(ports[0], "pulseboard_aggregator_records_consumed_total") == len(logged.lines)
    finally:
        _stop(procs)


async def test_a_replay_into_topics_a_live_aggregator_consumes_is_refused(
    kafka_env, kafka_config, logged
):
    cfg = _prefixed(kafka_config, "arrive-refuse.")
    procs, _ = await _pipeline(cfg, kafka_env, 1)
    try:
        result = run_cli(
            kafka_env, "replay", str(logged.path), "--to-kafka", "--topic-prefix", "arrive-refuse."
        )
        assert result.returncode == 2
        assert "consuming the live topics" in result.stderr and "--session" in result.stderr
        assert "--force" in result.stderr
    finally:
        _stop(procs)
    # By default a replay goes to a session of its own, named after the log.
    result = run_cli(kafka_env, "replay", str(logged.path), "--to-kafka", "--topics", "freight")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "session 'log'" in result.stderr
    assert "pulseboard up --session log" in result.stderr
    session = replace(cfg, kafka=replace(cfg.kafka, topic_prefix="", session="log"))
    admin = kafka_admin(session, "test-topics")
    await admin.start()
    try:
        assert session.kafka.topic(spec.TOPIC_FREIGHT) in await admin.list_topics()
        assert session.kafka.topic(spec.TOPIC_FREIGHT) == "session-log.freight.events"
    finally:
        await admin.close()
    # Into the same session again: refused, it already holds a log.
    again = run_cli(kafka_env, "replay", str(logged.path), "--to-kafka", "--session", "log")
    assert again.returncode == 2 and "already holds" in again.stderr
