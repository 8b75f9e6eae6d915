"""The local broker and the producer on a real Kafka broker (KRaft, single node)."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support import run_cli

from producers.command import publish_live
from producers.metrics import ProducerMetrics
from producers.simulation import SimConfig, Simulation
from pulseboard import localbroker, spec
from pulseboard.config import Config
from pulseboard.kafka_client import client_kwargs
from pulseboard.progress import is_marker

pytestmark = pytest.mark.integration


def test_second_up_is_harmless_and_status_reports_topics(kafka_env, kafka_config):
    pid = localbroker.running_pid(localbroker.BrokerPaths.of(kafka_config.broker))
    assert pid is not None
    again = run_cli(kafka_env, "kafka", "up")
    assert again.returncode == 0, again.stderr
    assert f"already running (pid {pid})" in again.stdout
    assert "created topic" not in again.stdout
    status = run_cli(kafka_env, "kafka", "status")
    assert status.returncode == 0, status.stderr
    assert f"running, pid {pid}" in status.stdout
    assert "topic freight.events: 6 partitions" in status.stdout
    assert "topic indicators: 3 partitions" in status.stdout


def test_up_refuses_a_port_taken_by_someone_else(kafka_env, tmp_path):
    env = {**kafka_env, "PULSEBOARD_STATE_DIR": str(tmp_path)}
    result = run_cli(env, "kafka", "up")
    assert result.returncode == 2
    assert "is taken by another process" in result.stderr
    assert "PULSEBOARD_KAFKA_PORT" in result.stderr


def test_unknown_bootstrap_address_fails_with_a_clear_message(kafka_env):
    result = run_cli(kafka_env, "kafka", "status", "--bootstrap-servers", "bad host:9092")
    assert result.returncode == 2
    assert "is not host:port" in result.stderr


def test_unreachable_cluster_fails_with_what_to_check(kafka_env):
    result = run_cli(kafka_env, "kafka", "status", "--bootstrap-servers", "127.0.0.1:1")
    assert result.returncode == 2
    assert "cannot reach Kafka at 127.0.0.1:1" in result.stderr
    assert "PULSEBOARD_BOOTSTRAP" in result.stderr


async def _consume_all(config: Config, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(
        **client_kwargs(config, "test-reader"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        count = {config.kafka.topic(b): n for b, n in config.kafka.partitions().items()}[topic]
        tps = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list = []
        events = 0
        while events < expected:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                break
            for records in batches.values():
                out.extend(records)
                events += sum(1 for r in records if not is_marker(r.value, r.headers))
        return out
    finally:
        await consumer.stop()


def test_produced_events_come_back_intact(isolated):
    kafka_config, _ = isolated
    sim_config = SimConfig(seed=7, start_ms=1_763_596_800_000, events_per_sim_second=500.0)
    count = 20_000
    args = argparse.Namespace(duration=None, count=count, unpaced=True, speed=1.0)
    metrics = ProducerMetrics.create()
    sent, acked, _ = asyncio.run(publish_live(kafka_config, Simulation(sim_config), args, metrics))
    assert sent == acked == count

    expected = Simulation(sim_config).take(count)
    assert {r.kind for r in expected} >= set(spec.EVENT_TYPES)
    by_topic: dict[str, list] = {}
    for rec in expected:
        by_topic.setdefault(rec.topic, []).append(rec)
    for topic, records in by_topic.items():
        everything = asyncio.run(
            _consume_all(kafka_config, kafka_config.kafka.topic(topic), len(records))
        )
        # Progress markers ride along: every partition's first record is one (the producer
        # speaks for it before writing), and they are never events.
        firsts: dict[int, object] = {}
        for m in everything:
            firsts.setdefault(m.partition, m)
        assert sorted(firsts) == list(range(len(firsts))) and len(firsts) > 1
        assert all(is_marker(m.value, m.headers) for m in firsts.values())
        got = [m for m in everything if not is_marker(m.value, m.headers)]
        assert len(got) == len(records)
        want = sorted((r.key, r.value, r.ingest_ts) for r in records)
        have = sorted((m.key, m.value, m.timestamp) for m in got)
        assert have == want
        # Keys land where Kafka's default partitioner puts them: one key, one partition.
        partitions_of_key: dict[bytes, set[int]] = {}
        for m in got:
            partitions_of_key.setdefault(m.key, set()).add(m.partition)
        assert all(len(p) == 1 for p in partitions_of_key.values())
    produced = {
        s.labels["type"]: s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == "pulseboard_producer_events_total"
    }
    assert sum(produced.values()) == count
