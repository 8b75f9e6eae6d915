"""Live = offline call-outs, with the real broker: a log with a corridor closure is replayed
offline (`replay LOG --anomalies FILE`) and into a history session (`replay --to-history`);
the live anomaly service (`pulseboard anomalies --session`) reads that session from the
history topic and must publish exactly the offline file's call-outs, keyed ``name|key``; and
`replay --to-history` itself stores the same call-outs in the session, which the history
index then answers for time travel.

The "day" of the daily rhythm is 10 minutes here (``--anomaly-period 600``) so that three
learning periods and a judged one fit a short log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import orjson
import pytest
from aiokafka import TopicPartition

from producers.command import write_log
from producers.incidents import Incident
from producers.simulation import SimConfig, Simulation
from pulseboard.config import TOPIC_ANOMALIES, TOPIC_HISTORY, config_from_env
from pulseboard.history.codec import Anomalies, Begin, decode
from pulseboard.history.indexer import catch_up
from pulseboard.history.store import HistoryReader
from pulseboard.kafka_client import kafka_consumer
from pulseboard.topics import ensure_topics

pytestmark = pytest.mark.integration

START_MS = 1_796_263_200_000  # 2026-12-03 10:00 CST
PERIOD = ["--anomaly-period", "600"]


async def read_topic(config, topic: str, want: int, timeout: float = 180.0) -> list:
    """Records of ``topic`` until ``want`` of them arrived (or the timeout)."""
    tp = TopicPartition(topic, 0)
    consumer = kafka_consumer(config, "test-anomalies", auto_offset_reset="earliest")
    await consumer.start()
    got: list = []
    try:
        consumer.assign([tp])
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            got += batches.get(tp, [])
    finally:
        await consumer.stop()
    return got


def closure_log(tmp_path, env, cli):
    """A log with call-outs, and the call-outs the offline replay finds in it."""
    # 3 learning periods of 10 minutes after a 10-minute warm-up, then one with a closure of
    # the busiest corridor 2 minutes in.
    closure = Incident(
        "corridor_closure", "520300>520100", START_MS + 42 * 60_000, START_MS + 50 * 60_000
    )
    outage = Incident("dc_outage", "dc-guian-01", START_MS + 31 * 60_000, START_MS + 60 * 60_000)
    sim = Simulation(
        SimConfig(
            seed=5, start_ms=START_MS, events_per_sim_second=100.0, incidents=(closure, outage)
        )
    )
    log = tmp_path / "closure.jsonl"
    write_log(sim, str(log), 100 * 60 * 60)

    offline = tmp_path / "offline.jsonl"
    done = cli(env, "replay", str(log), "--anomalies", str(offline), *PERIOD)
    assert done.returncode == 0, done.stderr
    expected = [orjson.loads(line) for line in offline.read_bytes().splitlines()]
    # At least the data-centre outage (a smooth indicator) is called out. Whether the
    # detector finds a closure is tested in tests/test_anomaly_days.py.
    assert sum(1 for c in expected if c["state"] == "opened") >= 1
    return log, expected


def test_live_service_publishes_exactly_the_offline_callouts(isolated, tmp_path, cli):
    _, env = isolated
    log, expected = closure_log(tmp_path, env, cli)
    stored = cli(env, "replay", str(log), "--to-history", "closure")
    assert stored.returncode == 0, stored.stderr
    session_env = {**env, "PULSEBOARD_SESSION": "closure"}
    session = config_from_env(session_env)
    asyncio.run(ensure_topics(session))  # the session's anomalies topic
    service = subprocess.Popen(
        [sys.executable, "-m", "pulseboard.cli", "anomalies", "--metrics-port", "0", *PERIOD],
        env={**os.environ, **session_env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        topic = session.kafka.topic(TOPIC_ANOMALIES)
        got = asyncio.run(read_topic(session, topic, len(expected)))
    finally:
        service.terminate()
        _, err = service.communicate(timeout=60)
    assert [orjson.loads(r.value) for r in got] == expected, err.decode()[-2000:]
    assert [r.key.decode() for r in got] == [f"{c['name']}|{c['key']}" for c in expected]


async def session_messages(config, session: str) -> list:
    """Every history-topic message of ``session``, decoded, in order."""
    tp = TopicPartition(config.kafka.topic(TOPIC_HISTORY), 0)
    consumer = kafka_consumer(config, "test-history", auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        got: list = []
        while (await consumer.position(tp)) < end:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            got += [decode(r.value) for r in batches.get(tp, []) if r.key == session.encode()]
        return got
    finally:
        await consumer.stop()


def test_replay_to_history_stores_the_offline_callouts(isolated, tmp_path, cli):
    config, env = isolated
    log, expected = closure_log(tmp_path, env, cli)
    stored = cli(env, "replay", str(log), "--to-history", "closure", *PERIOD)
    assert stored.returncode == 0, stored.stderr
    assert f"and {len(expected)} call-out records" in stored.stdout

    messages = asyncio.run(session_messages(config, "closure"))
    generation = next(m.g for m in messages if isinstance(m, Begin))
    rows = [row for m in messages if isinstance(m, Anomalies) for row in m.r]
    assert all(m.g == generation for m in messages if isinstance(m, Anomalies))
    fields = ("t", "name", "key", "value", "expected", "low", "high", "score", "state")
    assert [dict(zip(fields, row, strict=True)) for row in rows] == expected

    # Time travel: at each second a call-out record was written, the index answers the
    # (name, key)s whose latest record so far is not `closed` (worked out from the file).
    index = tmp_path / "index"
    asyncio.run(catch_up(config, index))
    reader = HistoryReader(index)
    try:
        sid = reader.sid_of("closure")
        assert sid is not None
        for t in sorted({c["t"] for c in expected}):
            latest: dict[tuple[str, str], str] = {}
            for c in expected:
                if c["t"] <= t:
                    latest[(c["name"], c["key"])] = c["state"]
            want = {nk for nk, state in latest.items() if state != "closed"}
            got = {(c["name"], c["key"]) for c in reader.callouts(sid, t)}
            assert got == want, t
    finally:
        reader.close()
