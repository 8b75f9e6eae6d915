"""`replay --to-kafka` and `record` on the real broker: a log survives the round trip."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import uuid

import orjson
import pytest

from producers.command import write_log
from producers.simulation import SimConfig, Simulation
from pulseboard.config import Config
from pulseboard.topics import ensure_topics

pytestmark = pytest.mark.integration


def _prefixed(config: Config) -> Config:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    return dataclasses.replace(config, kafka=dataclasses.replace(config.kafka, topic_prefix=prefix))


def _canonical(line: bytes) -> tuple[int, object]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return (-1, line)
    ts = obj.get("ingest_ts", -1) if isinstance(obj, dict) else -1
    return (ts if type(ts) is int else -1, orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))


def test_log_round_trips_through_kafka(kafka_env, kafka_config, tmp_path, cli):
    config = _prefixed(kafka_config)
    asyncio.run(ensure_topics(config))
    source = tmp_path / "source.jsonl"
    sim = Simulation(
        SimConfig(
            seed=11,
            start_ms=1_763_600_000_000,
            events_per_sim_second=300.0,
            invalid_fraction=0.01,
            late_fraction=0.01,
            future_fraction=0.01,
        )
    )
    write_log(sim, str(source), 6_000)

    replayed = cli(
        kafka_env, "replay", str(source), "--to-kafka", "--topic-prefix", config.kafka.topic_prefix
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 6000 records" in replayed.stderr

    out = tmp_path / "recorded.jsonl.gz"
    result = cli(
        kafka_env, "record", "--out", str(out), "--topic-prefix", config.kafka.topic_prefix
    )
    assert result.returncode == 0, result.stderr
    assert "recorded 6000 records" in result.stderr

    original = source.read_bytes().splitlines()
    recorded = gzip.decompress(out.read_bytes()).splitlines()
    assert sorted(map(_canonical, recorded)) == sorted(map(_canonical, original))
    # Merged by record timestamp: the log is in ingest order again.
    stamps = [t for t, _ in map(_canonical, recorded) if t >= 0]
    assert stamps == sorted(stamps)


def test_record_into_an_unwritable_place_fails_clearly(kafka_env, tmp_path, cli):
    # A path under a regular file cannot be created by anyone, root included.
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "out.jsonl"
    result = cli(kafka_env, "record", "--out", str(target))
    assert result.returncode == 1
    assert "cannot write" in result.stderr
    assert not target.exists()
