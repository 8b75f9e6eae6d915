"""Two region packs live on one real Kafka broker (issue 16): a Moroccan log and a Guizhou
log are replayed into Kafka (`replay --to-kafka --region ...`) under the same session name,
and an aggregator per pack (`aggregate --region ...`) runs beside the other. Each pack's
topics carry its own prefix, so the two never mix: each aggregator's final records equal
the offline replay of its own log, and its dead-letter queue holds exactly its own log's
invalid records (a single event of the other pack would be one more, as bad_region)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support import CLI, Finals, diff

from consumers.changelog import Record
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from producers.command import write_log
from producers.simulation import SimConfig, Simulation
from pulseboard import packs, spec
from pulseboard.config import Config, config_from_env
from pulseboard.eventlog import read_lines
from pulseboard.kafka_client import client_kwargs

pytestmark = pytest.mark.integration

# The whole log is in Kafka before the aggregator starts: a caught-up partition is done.
AGGREGATE = ("--metrics-port", "0", "--idle-ms", "500", "--idle-speed", "50")


def _log(tmp: Path, region: str, count: int) -> tuple[Path, dict, int]:
    """A log of ``region``'s simulation (recent: inside the broker's retention), its final
    records by the offline replay, and how many of its records are invalid."""
    pack = packs.load(region)
    start = int(time.time() * 1000) - 2 * 3600 * 1000
    sim = Simulation(
        SimConfig(
            seed=31,
            start_ms=start,
            events_per_sim_second=200,
            invalid_fraction=0.01,
            late_fraction=0.01,
            pack=pack,
        )
    )
    path = tmp / f"{region}.jsonl"
    write_log(sim, str(path), count)
    expected: list[Record] = []
    report = replay_lines(read_lines(str(path)), EngineConfig(pack=pack), expected.extend)
    assert report.invalid_total == sim.tally.invalid > 0
    return path, {(r.t, r.name, r.key): r.value for r in expected}, sim.tally.invalid


def _run(env: dict[str, str], *argv: str) -> None:
    done = subprocess.run(
        [*CLI, *argv], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


async def _dlq_size(cfg: Config) -> int:
    c = AIOKafkaConsumer(**client_kwargs(cfg, "test-dlq"), enable_auto_commit=False)
    await c.start()
    try:
        tp = TopicPartition(cfg.kafka.topic(spec.TOPIC_DLQ), 0)
        return (await c.end_offsets([tp]))[tp]
    finally:
        await c.stop()


async def test_two_packs_on_one_broker_never_mix(kafka_env, tmp_path: Path) -> None:
    session = f"t{uuid.uuid4().hex[:10]}"
    env = {**kafka_env, "PULSEBOARD_SESSION": session}
    logs = {
        "morocco": _log(tmp_path, "morocco", 30_000),
        "guizhou": _log(tmp_path, "guizhou", 30_000),
    }
    configs = {r: config_from_env(env, region=r) for r in logs}
    topics = {r: c.kafka.topic(spec.TOPIC_FREIGHT) for r, c in configs.items()}
    assert topics["morocco"] == f"morocco.session-{session}.freight.events"
    assert topics["guizhou"] == f"session-{session}.freight.events"

    for region, (path, _, _) in logs.items():
        _run(env, "replay", str(path), "--to-kafka", "--region", region)
    procs = [
        subprocess.Popen(
            [*CLI, "aggregate", "--region", region, *AGGREGATE],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
        )
        for region in logs
    ]
    try:
        for region, (_, expected, invalid) in logs.items():
            async with Finals(configs[region]) as finals:
                await finals.until(lambda e=expected, f=finals: f.values == e or bool(f.conflicts))
                assert not finals.conflicts
                assert finals.values == expected, diff(finals.values, expected)
            province = packs.load(region).province.code
            assert any(k == province for _, _, k in expected)
            deadline = time.monotonic() + 30
            while await _dlq_size(configs[region]) < invalid and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            assert await _dlq_size(configs[region]) == invalid
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
