"""Kafka unreachable or wrong at start, for the commands that are not services of the wall:
`record` (one-shot, and `--follow`), `replay --to-kafka` and the fake indicator feed.

They reuse the services' wait (pulseboard/connect.py): services (`record --follow`, the
feed) retry for ever; the one-shot tools retry for 30 s by default, then exit 2 with what to
check (docs/decisions.md, "Unreachable cluster at start"). The services' own cases are in
tests/test_faults.py; these follow them: real brokers, polling with a deadline, never a
fixed wait."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support import (
    DEAD,
    Child,
    own_broker_env,
    retry_lines,
    run_cli,
    start_broker,
    until,
    wrong_settings,
)

from producers.command import write_log
from producers.replay_to_kafka import ReplayOptions, replay_to_kafka
from producers.simulation import SimConfig, Simulation
from pulseboard import localbroker, spec
from pulseboard.config import Config, config_from_env
from pulseboard.eventlog import line_with_ingest_ts, read_lines
from pulseboard.kafka_client import client_kwargs
from pulseboard.progress import is_marker
from pulseboard.topics import ensure_topics

pytestmark = pytest.mark.integration

GAVE_UP = re.compile(r"gave up after (\d+) attempt\(s\) in (\d+) s \(--connect-timeout 30\)")


def _log(path: Path, seed: int, count: int) -> list[bytes]:
    """A synthetic event log of valid events (so every line is one Kafka record and back)."""
    sim = Simulation(
        SimConfig(seed=seed, start_ms=int(time.time() * 1000) - 600_000, events_per_sim_second=50)
    )
    assert write_log(sim, str(path), count) == count
    return list(read_lines(path))


async def _topic_lines(cfg: Config, bases: tuple[str, ...]) -> list[bytes]:
    """Every record of the topics but progress markers (not events), as log lines (value
    with its timestamp as ingest_ts)."""
    c = AIOKafkaConsumer(**client_kwargs(cfg, "test-connect-tools"), enable_auto_commit=False)
    await c.start()
    try:
        tps = [
            TopicPartition(cfg.kafka.topic(base), p)
            for base in bases
            for p in range(cfg.kafka.partitions()[base])
        ]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        ends = await c.end_offsets(tps)
        out: list[bytes] = []
        deadline = time.monotonic() + 60
        while any([await c.position(tp) < ends[tp] for tp in tps]):
            assert time.monotonic() < deadline, "timed out reading the topics back"
            for records in (await c.getmany(timeout_ms=500)).values():
                out.extend(
                    line_with_ingest_ts(r.value or b"", r.timestamp)
                    for r in records
                    if not is_marker(r.value, r.headers)
                )
        return out
    finally:
        await c.stop()


def _waited_then_reached(name: str, child: Child) -> None:
    """One log line per attempt, numbered 1, 2, 3, ..., what to check, then the success."""
    retries = retry_lines(child)
    assert len(retries) >= 2, (name, child.stderr()[-3000:])
    assert [a for a, _ in retries] == list(range(1, len(retries) + 1)), name
    err = child.stderr()
    assert "PULSEBOARD_BOOTSTRAP" in err, name
    assert "reached Kafka at" in err, (name, err[-3000:])


async def test_record_replay_and_the_feed_wait_for_a_broker_that_starts_late(tmp_path):
    with own_broker_env(tmp_path) as (cfg, env):
        # Two sets of topics: `a.` holds a log before the outage (what the one-shot record
        # must copy), `b.` is empty and receives the replay and the feed after it.
        env_a = {**env, "PULSEBOARD_TOPIC_PREFIX": "a.", "PULSEBOARD_CONNECT_TIMEOUT": ""}
        env_b = {**env, "PULSEBOARD_TOPIC_PREFIX": "b.", "PULSEBOARD_CONNECT_TIMEOUT": ""}
        cfg_a, cfg_b = config_from_env(env_a), config_from_env(env_b)
        log_a = _log(tmp_path / "a.jsonl", seed=71, count=1_500)
        log_b = _log(tmp_path / "b.jsonl", seed=72, count=1_200)
        start_broker(cfg)
        await ensure_topics(cfg_a)
        await ensure_topics(cfg_b)
        sent, _ = await replay_to_kafka(cfg_a, str(tmp_path / "a.jsonl"), ReplayOptions())
        assert sent == len(log_a)
        localbroker.stop(cfg.broker)

        recorded = tmp_path / "recorded.jsonl"
        # The one-shot tools with a give-up long enough for a JVM that starts on a busy
        # machine; the feed with its default (for ever).
        procs = {
            "record": Child(env_a, "record", "--out", str(recorded), "--connect-timeout", "600"),
            "replay": Child(
                env_b, "replay", str(tmp_path / "b.jsonl"), "--to-kafka", "--connect-timeout", "600"
            ),
            "feed": Child(env_b, "--duration", "1", "--rate", "4", module="web.fake_feed"),
        }
        try:
            await until(
                lambda: all(len(retry_lines(p)) >= 2 for p in procs.values()), 60, "two retries"
            )
            for name, child in procs.items():
                assert child.poll() is None, (name, child.stderr()[-3000:])
            assert not recorded.exists()
            start_broker(cfg)
            results = await asyncio.gather(
                *(asyncio.to_thread(child.wait, 180) for child in procs.values())
            )
            for name, (code, err) in zip(procs, results, strict=True):
                assert code == 0, (name, err[-3000:])
                _waited_then_reached(name, procs[name])
            # record: exactly the log that was in Kafka when the broker came back.
            assert Counter(read_lines(recorded)) == Counter(log_a)
            # replay: exactly its log, with its timestamps, into the topics.
            assert f"replayed {len(log_b)} records" in procs["replay"].stderr()
            events = (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)
            assert Counter(await _topic_lines(cfg_b, events)) == Counter(log_b)
            # the feed: its first table (and steps) on the indicators topic.
            indicators = await _topic_lines(cfg_b, (spec.TOPIC_INDICATORS,))
            assert len(indicators) > 100, len(indicators)
        finally:
            for child in procs.values():
                child.end()


async def test_one_shot_tools_give_up_after_30_s_by_default_while_services_wait(tmp_path):
    log = tmp_path / "one.jsonl"
    _log(log, seed=73, count=10)
    env = {
        "PULSEBOARD_STATE_DIR": str(tmp_path / "state"),
        "PULSEBOARD_BOOTSTRAP": DEAD,
        "PULSEBOARD_CONNECT_TIMEOUT": "",  # unset whatever the developer's shell says
    }
    started = time.monotonic()
    one_shots = {
        "record": Child(env, "record", "--out", str(tmp_path / "rec.jsonl")),
        "replay": Child(env, "replay", str(log), "--to-kafka"),
    }
    services = {
        "record --follow": Child(env, "record", "--follow", "--out", str(tmp_path / "f.jsonl")),
        "feed": Child(env, module="web.fake_feed"),
    }
    try:
        await until(
            lambda: all(c.poll() is not None for c in one_shots.values()), 60, "the give-up"
        )
        # 30 s of attempts (the last delay that would overrun it is not waited), plus start-up.
        assert time.monotonic() - started < 45
        for name, child in one_shots.items():
            code, err = child.wait()
            assert code == 2, (name, err[-3000:])
            assert f"cannot reach Kafka at {DEAD}" in err, (name, err[-3000:])
            assert "--bootstrap-servers" in err, name
            gave_up = GAVE_UP.search(err)
            assert gave_up, (name, err[-3000:])
            assert int(gave_up[1]) == len(retry_lines(child)) + 1 >= 5, (name, err[-3000:])
            assert 5 <= int(gave_up[2]) <= 30, (name, gave_up[0])
        assert not (tmp_path / "rec.jsonl").exists(), "record left a file behind"
        # The services are still waiting, and still logging their attempts.
        for name, child in services.items():
            assert child.poll() is None, (name, child.stderr()[-3000:])
            assert len(retry_lines(child)) >= 5, (name, child.stderr()[-3000:])
        # Stopped while waiting: record --follow exits cleanly with nothing written.
        code, err = services.pop("record --follow").end()
        assert code == 0, err[-3000:]
        assert "recorded 0 records" in err
        assert not (tmp_path / "f.jsonl").exists()
    finally:
        for child in [*one_shots.values(), *services.values()]:
            child.end()


async def test_the_feed_and_the_tools_fail_fast_on_wrong_settings(
    kafka_env, kafka_config, tmp_path
):
    """The fake feed with the services' wrong settings, and the tools' own wrong arguments:
    exit 2 at once (even with a cluster that is unreachable and would be waited for)."""
    feed_cases = {
        **wrong_settings(kafka_config.bootstrap_servers, give_up_after_s="2"),
        "rate": ({}, ["--rate", "0", "--bootstrap-servers", DEAD], "--rate must be > 0"),
    }

    def feed(extra_env: dict[str, str], flags: list[str]) -> subprocess.CompletedProcess[str]:
        return run_cli({**kafka_env, **extra_env}, *flags, timeout=60, module="web.fake_feed")

    # The one-shot tools' arguments, against a dead cluster that would be waited for.
    dead = {"PULSEBOARD_BOOTSTRAP": DEAD, "PULSEBOARD_CONNECT_TIMEOUT": "600"}
    tool_cases = {
        "replay, no log": (["replay", str(tmp_path / "absent.jsonl"), "--to-kafka"],
                           "no such file"),
        "record, bad --from": (["record", "--out", str(tmp_path / "r.jsonl"), "--from", "noon"],
                               "--from 'noon'"),
        "record --follow, bad --from": (["record", "--follow", "--out", str(tmp_path / "r.jsonl"),
                                         "--from", "2026-11-20T08:00:00"], "--from '2026"),
    }  # fmt: skip
    started = time.monotonic()
    runs = {
        **{("feed", case): asyncio.to_thread(feed, e, f) for case, (e, f, _) in feed_cases.items()},
        **{
            ("tool", case): asyncio.to_thread(run_cli, {**kafka_env, **dead}, *argv, timeout=60)
            for case, (argv, _) in tool_cases.items()
        },
    }
    results = dict(zip(runs, await asyncio.gather(*runs.values()), strict=True))
    for (kind, case), result in results.items():
        fragment = feed_cases[case][2] if kind == "feed" else tool_cases[case][1]
        assert result.returncode == 2, (case, result.stderr[-2000:])
        assert fragment in result.stderr, (case, result.stderr[-2000:])
        assert "Traceback" not in result.stderr, (case, result.stderr[-2000:])
    assert "PULSEBOARD_SASL" in results[("feed", "sasl")].stderr
    assert "pulseboard kafka up" in results[("feed", "topic")].stderr
    assert "--bootstrap-servers" in results[("feed", "give up")].stderr
    for case in tool_cases:  # none of them waited for the dead cluster
        assert "cannot reach Kafka" not in results[("tool", case)].stderr, case
    assert not (tmp_path / "r.jsonl").exists()
    assert time.monotonic() - started < 60
