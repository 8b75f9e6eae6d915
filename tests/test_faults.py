"""Faults (issue 6): a broker outage under a running producer, an aggregator SIGKILLed
repeatedly, a rebalance storm, the push server restarted under 200 clients, Kafka
unreachable or misconfigured at start, and a full or unwritable disk for `record`.

Every result is compared with a ground truth computed independently: the generator's own
log (`produce --to-file` with the same seed, start and rate) and `pulseboard replay --out`
offline. Tests that stop a broker start one of their own; the session broker is never
touched."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import re
import resource
import signal
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support import (
    Child,
    Finals,
    diff,
    free_port,
    metric,
    own_broker_env,
    retry_lines,
    rows_of,
    run_cli,
    start_broker,
    until,
    wrong_settings,
)
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from producers.command import write_log
from producers.replay_to_kafka import ReplayOptions, records_of, replay_to_kafka
from producers.simulation import SimConfig, Simulation
from pulseboard import localbroker, spec
from pulseboard.config import Config
from pulseboard.eventlog import read_lines
from pulseboard.kafka_client import client_kwargs
from pulseboard.progress import is_marker
from pulseboard.topics import ensure_topics
from web.fake_feed import FakeIndicators, encode, indicator_key
from web.metadata import ClientTiming, build_meta
from web.precision import LANGS, shown

pytestmark = pytest.mark.integration

LATENESS = "5000"  # short allowed lateness: final values follow the data within seconds


def _offline(env: dict[str, str], log: Path, out: Path) -> dict[tuple[int, str, str], object]:
    """`pulseboard replay LOG --out FILE`: the final records, as the live pipeline must give."""
    done = run_cli(env, "replay", str(log), "--out", str(out), "--lateness-ms", LATENESS)
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert rows
    return {(r["t"], r["name"], r["key"]): r["value"] for r in rows}


def _aggregate(cfg: Config, env: dict[str, str], *extra: str) -> Child:
    return Child(
        env,
        *[
            "aggregate",
            "--topic-prefix",
            cfg.kafka.topic_prefix,
            "--kafka-port",
            str(cfg.broker.port),
            "--lateness-ms",
            LATENESS,
            "--metrics-port",
            "0",
            "--checkpoint-interval-ms",
            "500",
            *extra,
        ],
    )


async def _read_events(cfg: Config) -> list[bytes]:
    """Every event in the two events topics, read back from the start (progress markers
    ride along in every partition; they are not events)."""
    c = AIOKafkaConsumer(**client_kwargs(cfg, "test-events"), enable_auto_commit=False)
    await c.start()
    try:
        tps = [
            TopicPartition(cfg.kafka.topic(base), p)
            for base in (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)
            for p in range(cfg.kafka.partitions()[base])
        ]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        ends = await c.end_offsets(tps)
        out: list[bytes] = []

        async def behind() -> bool:
            return any([await c.position(tp) < ends[tp] for tp in tps])

        while await behind():
            for records in (await c.getmany(timeout_ms=500)).values():
                out.extend(r.value for r in records if not is_marker(r.value, r.headers))
        return out
    finally:
        await c.stop()


# ----------------------------------------------------------------------------- 1. outage


async def test_broker_outage_under_a_running_producer_loses_and_duplicates_nothing(tmp_path):
    rate, count, seed = 400, 7_000, 61
    start = datetime.fromtimestamp(int(time.time()), UTC).isoformat()
    sim_args = ["--rate", str(rate), "--seed", str(seed), "--start", start, "--count", str(count)]
    truth_log = tmp_path / "truth.jsonl"
    made = run_cli({}, "produce", "--to-file", str(truth_log), *sim_args)
    assert made.returncode == 0, made.stderr
    with own_broker_env(tmp_path) as (cfg, env):
        start_broker(cfg)
        await ensure_topics(cfg)
        expected = _offline(env, truth_log, tmp_path / "truth.out.jsonl")
        port = free_port()
        producer = Child(env, "produce", *sim_args, "--metrics-port", str(port))
        aggregator = _aggregate(cfg, env)
        acked = "pulseboard_producer_events_total"
        try:
            await until(lambda: metric(port, acked) >= 1000, 60, "the first acknowledged records")
            localbroker.stop(cfg.broker)
            down = time.monotonic()
            unacked_max = 0.0
            # The outage itself lasts 20 s; meanwhile the producer must hold its records.
            while time.monotonic() - down < 20:
                assert producer.poll() is None, "the producer died during the outage"
                unacked_max = max(unacked_max, metric(port, "pulseboard_producer_unacked_records"))
                await asyncio.sleep(0.5)
            during = metric(port, acked)
            start_broker(cfg)
            code, err = await asyncio.to_thread(producer.wait)
            assert code == 0, err
            summary = re.search(r"published (\d+) of (\d+) records", err)
            assert summary and summary.groups() == (str(count), str(count)), err
            assert unacked_max > 0, "the outage never showed in pulseboard_producer_unacked_records"
            assert during < count
            # Nothing lost, nothing twice: the events topics hold exactly the generator's log.
            got = Counter(orjson.loads(v)["id"] for v in await _read_events(cfg))
            want = Counter(orjson.loads(line)["id"] for line in read_lines(truth_log))
            assert got == want
            # The aggregator rode the outage out by itself, and its final records are exactly
            # the offline replay's: no second was sealed while producers held its records.
            last_t = max(t for t, _, _ in expected)
            async with Finals(cfg) as finals:
                await finals.until(lambda: finals.max_t >= last_t or bool(finals.conflicts))
                assert not finals.conflicts
                assert finals.values == expected, diff(finals.values, expected)
            assert aggregator.poll() is None
            agg_log = aggregator.stderr()
            assert "after a spell without fetch answers" in agg_log
            assert "arrived for seconds already sealed" not in agg_log
            # The outage shows in the logs without flooding them: aiokafka alone retried in
            # a tight loop, 175,000 lines from one producer in 20 s before pacing.
            for name, text in (("producer", producer.stderr()), ("aggregator", agg_log)):
                assert len(text.splitlines()) < 300, f"{name} logged {len(text.splitlines())} lines"
        finally:
            producer.end()
            aggregator.end()


# --------------------------------------------------------- 2. and 3. kills and rebalances


@dataclasses.dataclass(frozen=True)
class Logged:
    path: Path
    records: int
    expected: dict[tuple[int, str, str], object]
    speed: str  # replay speed giving REPLAY_S of wall time, whatever the log's span


# How long the replays into Kafka last. A SIGKILLed member's partitions move only when its
# group session times out (10 s), so three kills with progress after each take ~35 s of the
# replay; a replay far longer than this outlasts the wait for its end.
REPLAY_S = 54.0


def _ingest_span_s(path: Path) -> float:
    """Seconds of ingest time the replay paces through. The simulation's rate follows the
    hour of its region's day, so the same 15,000 records span ~100 s at noon and ~270 s at
    night."""
    stamps = [rec.ingest_ts for rec in records_of(str(path))]
    return (max(stamps) - min(stamps)) / 1000


@pytest.fixture(scope="module")
def replay_log(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    tmp = tmp_path_factory.mktemp("faults")
    sim = Simulation(
        SimConfig(
            seed=62,
            start_ms=int(time.time() * 1000) - 3600 * 1000,
            events_per_sim_second=150.0,
            invalid_fraction=0.01,
            late_fraction=0.01,
            future_fraction=0.01,
        )
    )
    path = tmp / "log.jsonl"
    count = write_log(sim, str(path), 15_000)
    speed = f"{_ingest_span_s(path) / REPLAY_S:.3f}"
    return Logged(path, count, _offline({}, path, tmp / "offline.jsonl"), speed)


def _live_idle(log: Logged) -> tuple[str, ...]:
    """A member idle for 3 s moves its watermark at the replay's pace."""
    return ("--idle-ms", "3000", "--idle-speed", log.speed)


def _replay_into(cfg: Config, env: dict[str, str], log: Logged) -> Child:
    # `write_log` writes lines in ingest order, so the replay needs no reorder allowance; with
    # the default 60 s its progress markers, and so every final, trail the records by 60 s
    # of log time (the offline replay keeps its default: the same finals either way).
    argv = ["--to-kafka", "--speed", log.speed, "--reorder-ms", "0", "--force"]
    return Child(env, "replay", str(log.path), *argv, "--topic-prefix", cfg.kafka.topic_prefix)


async def _progress(finals: Finals, since: int, timeout: float = 60) -> None:
    """Until final records beyond ``since`` appear (the current members are working)."""
    deadline = time.monotonic() + timeout
    while finals.max_t <= since:
        assert time.monotonic() < deadline, "no final records"
        await finals.poll()


async def test_aggregator_sigkilled_three_times_during_a_replay(isolated, replay_log):
    cfg, env = isolated
    agg = _aggregate(cfg, env, *_live_idle(replay_log))
    replay = _replay_into(cfg, env, replay_log)
    try:
        async with Finals(cfg) as finals:
            for _ in range(3):
                await _progress(finals, finals.max_t)
                assert replay.poll() is None, "the replay ended before the kills"
                agg.send_signal(signal.SIGKILL)
                agg.wait()
                agg = _aggregate(cfg, env, *_live_idle(replay_log))
            err = await _replay_ends_with_the_offline_records(finals, replay, replay_log)
            assert f"replayed {replay_log.records} records" in err, err
    finally:
        replay.end()
        agg.end()


async def _replay_ends_with_the_offline_records(
    finals: Finals, replay: Child, replay_log: Logged
) -> str:
    """The replay into Kafka exits 0 and the final records equal the offline replay of the
    same log; returns the replay's stderr."""
    code, err = await asyncio.to_thread(replay.wait)
    assert code == 0, err
    want = replay_log.expected
    await finals.until(lambda: finals.values == want or bool(finals.conflicts))
    assert not finals.conflicts
    assert finals.values == want, diff(finals.values, want)
    return err


async def test_rebalance_storm_gives_the_offline_records(isolated, replay_log):
    cfg, env = isolated
    members = [_aggregate(cfg, env, *_live_idle(replay_log)) for _ in range(3)]
    replay = _replay_into(cfg, env, replay_log)
    try:
        async with Finals(cfg) as finals:
            # Members leave (SIGTERM) and new ones join while the log flows in.
            for _ in range(3):
                await _progress(finals, finals.max_t)
                leaving = members.pop(0)  # the oldest: long past its start-up
                code, _ = await asyncio.to_thread(leaving.end)
                assert code == 0
                members.append(_aggregate(cfg, env, *_live_idle(replay_log)))
            await _replay_ends_with_the_offline_records(finals, replay, replay_log)
    finally:
        replay.end()
        for m in members:
            m.end()


# ------------------------------------------------------------------ 4. push server restart


@dataclasses.dataclass
class WallClient:
    """What the page does: keep a table from snapshots and deltas, reconnect with backoff."""

    url: str
    table: dict[tuple[str, str], object] = dataclasses.field(default_factory=dict)
    ids: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    snapshots: list[float] = dataclasses.field(default_factory=list)  # monotonic, ready ones
    deltas_after_snapshot: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random()
        delay = 0.1
        while not stop.is_set():
            try:
                async with connect(self.url, open_timeout=10, max_size=None) as ws:
                    delay = 0.1
                    while True:
                        msg = orjson.loads(await ws.recv())
                        self._apply(msg)
            except (OSError, WebSocketException, TimeoutError):
                await asyncio.sleep(rng.uniform(delay / 2, delay))
                delay = min(delay * 2, 2.0)

    def _apply(self, msg: dict) -> None:
        if msg["type"] == "snapshot":
            self.ids = {}
            self.table = {
                (name, row[0]): row[1]
                for name, rows in rows_of(msg, "values", self.ids).items()
                for row in rows
            }
            if msg["ready"]:
                self.snapshots.append(time.monotonic())
                self.deltas_after_snapshot = 0
        elif msg["type"] == "delta":
            for name, rows in rows_of(msg, "changes", self.ids).items():
                self.table.update({(name, row[0]): row[1] for row in rows})
            for ident in msg.get("removed", []):
                if ident in self.ids:
                    self.table.pop(self.ids[ident], None)
            self.deltas_after_snapshot += 1


class Feed:
    """The fake aggregator: publishes indicator records and keeps the truth (last per key)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.truth: dict[tuple[str, str], object] = {}
        self.removed: set[tuple[str, str]] = set()
        self.model = FakeIndicators(seed=64)
        self.topic = cfg.kafka.topic(spec.TOPIC_INDICATORS)

    async def publish(self, producer, records: list[dict]) -> None:
        # The model knows nothing of removals: a removed key stays removed.
        records = [r for r in records if (r["name"], r["key"]) not in self.removed]
        futures = [
            await producer.send(self.topic, encode(r), key=indicator_key(r["name"], r["key"]))
            for r in records
        ]
        await asyncio.gather(*futures)
        for r in records:
            self.truth[(r["name"], r["key"])] = r["value"]

    async def remove(self, producer, name: str, key: str) -> None:
        await (await producer.send(self.topic, None, key=indicator_key(name, key)))
        self.truth.pop((name, key), None)
        self.removed.add((name, key))


async def test_push_server_restart_under_200_clients(isolated):
    from aiokafka import AIOKafkaProducer

    cfg, env = isolated
    port = free_port()
    argv = [
        "serve",
        "--port",
        str(port),
        "--topic-prefix",
        cfg.kafka.topic_prefix,
        "--coalesce-hz",
        "4",
        "--allow-origin",
        "*",
    ]
    feed = Feed(cfg)
    producer = AIOKafkaProducer(**client_kwargs(cfg, "test-feed"))
    await producer.start()
    t = int(time.time())
    await feed.publish(producer, feed.model.all_records(t))
    server = Child(env, *argv)
    stop = asyncio.Event()
    clients = [WallClient(f"ws://127.0.0.1:{port}/ws") for _ in range(200)]
    tasks = [asyncio.create_task(c.run(stop)) for c in clients]
    try:
        await until(lambda: all(c.snapshots for c in clients), 60, "200 first snapshots")
        await feed.publish(producer, feed.model.step(t + 1))
        code, _ = await asyncio.to_thread(server.end)
        assert code == 0
        # While the server is down the table moves on, a key is removed: what the clients
        # hold is now stale.
        await feed.publish(producer, feed.model.step(t + 2))
        gone = next(k for k in feed.truth if k[0] == "sector_value_1h")
        await feed.remove(producer, *gone)
        before = [len(c.snapshots) for c in clients]
        restarted = time.monotonic()
        server = Child(env, *argv)
        await until(
            lambda: all(len(c.snapshots) > n for c, n in zip(clients, before, strict=True)),
            30,
            "fresh snapshots after the restart",
        )
        late = [c.snapshots[-1] - restarted for c in clients if c.snapshots[-1] - restarted > 10]
        assert not late, f"{len(late)} clients took more than 10 s: {max(late):.1f} s"
        # The next delta: afterwards every client holds exactly the server's current state.
        marker = {"t": t + 3, "name": "shipments_1m", "key": "520000", "value": 987_654,
                  "final": False}  # fmt: skip
        await feed.publish(producer, [marker, *feed.model.step(t + 3)])
        key = ("shipments_1m", "520000")
        await until(
            lambda: all(c.table.get(key) == feed.truth[key] for c in clients), 30, "the delta"
        )
        assert gone not in feed.truth
        # Values travel at the precision the wall displays (web/precision.py, checked against
        # format.js in test_web_precision): every client shows what the truth shows.
        units = {n: i["unit"] for n, i in build_meta(ClientTiming(4, 5, 10))["indicators"].items()}

        def on_screen(table: dict) -> dict:
            return {
                k: v
                if v is None
                else [shown(v, units.get(k[0], "count"), lang)[:2] for lang in LANGS]
                for k, v in table.items()
            }

        truth = on_screen(feed.truth)
        stale = [c for c in clients if on_screen(c.table) != truth]
        assert not stale, diff(on_screen(stale[0].table), truth)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        server.end()


# ------------------------------------------------------- 5. unreachable or wrong at start


async def test_services_wait_for_an_unreachable_cluster_then_work(tmp_path):
    with own_broker_env(tmp_path) as (cfg, env):
        # The topics exist (created on a first run), then the broker goes down.
        start_broker(cfg)
        await ensure_topics(cfg)
        localbroker.stop(cfg.broker)
        produce_port, web_port = free_port(), free_port()
        procs = {
            "produce": Child(env, "produce", "--rate", "200", "--metrics-port", str(produce_port)),
            "aggregate": Child(env, "aggregate", "--metrics-port", "0", "--lateness-ms", "1000"),
            "serve": Child(env, "serve", "--port", str(web_port)),
            "record": Child(env, "record", "--follow", "--out", str(tmp_path / "live.jsonl")),
        }
        try:
            await until(
                lambda: all(len(retry_lines(p)) >= 3 for p in procs.values()), 60, "three retries"
            )
            start_broker(cfg)

            def ready() -> bool:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=2):
                        return True
                except OSError:
                    return False

            await until(lambda: metric(produce_port, "pulseboard_producer_events_total") > 0,
                         60, "the producer to publish")  # fmt: skip
            async with Finals(cfg) as finals:
                await finals.until(lambda: finals.provisional > 0, timeout=60)
                assert finals.provisional > 0, "the aggregator never published"
            await until(ready, 60, "the push server to read the indicators")
            for name, child in procs.items():
                retries = retry_lines(child)
                # One line per attempt, attempts numbered 1, 2, 3, ... with growing delays.
                assert [a for a, _ in retries] == list(range(1, len(retries) + 1)), name
                delays = [d for _, d in retries]
                assert all(b > a for a, b in zip(delays, delays[2:], strict=False)), (name, delays)
                assert "PULSEBOARD_BOOTSTRAP" in child.stderr()
                assert child.poll() is None, (name, child.stderr()[-3000:])
            # `record --follow` started before the broker and recorded what came after it
            # (its retries back off, so it may connect after the others: await its word).
            recorder = procs["record"]
            await until(lambda: "record: recording" in recorder.stderr(), 60, "record to start")
            code, err = procs.pop("record").end()
            assert code == 0, err[-3000:]
            recorded = [orjson.loads(line) for line in read_lines(tmp_path / "live.jsonl")]
            assert recorded and all("ingest_ts" in ev for ev in recorded)
        finally:
            for p in procs.values():
                p.end()


SERVICES = {
    "produce": ["produce", "--metrics-port", "0"],
    "aggregate": ["aggregate", "--metrics-port", "0"],
    "serve": ["serve", "--port", "0"],
}


async def test_wrong_settings_fail_fast_with_what_to_fix(kafka_env, kafka_config, tmp_path):
    broker = kafka_config.bootstrap_servers
    one_line = tmp_path / "one.jsonl"
    one_line.write_bytes(b'{"v":1,"ingest_ts":1}\n')
    # The one-shot tools too, each with the fault a service would have.
    commands = {
        **SERVICES,
        "record": ["record", "--out", str(tmp_path / "rec.jsonl")],
        "replay": ["replay", str(one_line), "--to-kafka"],
    }
    cases = wrong_settings(broker, give_up_after_s="1")
    runs = {
        (service, case): asyncio.to_thread(
            run_cli, {**kafka_env, **extra_env}, *argv, *flags, timeout=60
        )
        for service, argv in commands.items()
        for case, (extra_env, flags, _) in cases.items()
    }
    results = dict(zip(runs, await asyncio.gather(*runs.values()), strict=True))
    for (service, case), result in results.items():
        fragment = cases[case][2]
        assert result.returncode == 2, (service, case, result.stderr[-2000:])
        assert fragment in result.stderr, (service, case, result.stderr[-2000:])
    assert "PULSEBOARD_SASL" in results[("produce", "sasl")].stderr
    assert "pulseboard kafka up" in results[("aggregate", "topic")].stderr
    assert not (tmp_path / "rec.jsonl").exists(), "record left a file behind"


# ------------------------------------------------------------------- 6. disk full, read-only


@pytest.fixture
def recorded_topics(isolated, tmp_path) -> tuple[Config, dict[str, str]]:
    cfg, env = isolated
    sim = Simulation(SimConfig(seed=66, start_ms=int(time.time() * 1000) - 600_000))
    log = tmp_path / "source.jsonl"
    write_log(sim, str(log), 3000)
    sent, _ = asyncio.run(replay_to_kafka(cfg, str(log), ReplayOptions()))
    assert sent == 3000
    return cfg, env


def _limit_file_size() -> None:
    # A full disk without root: writes past RLIMIT_FSIZE fail with EFBIG (once SIGXFSZ,
    # which would kill the process, is ignored).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_record_on_a_full_disk_leaves_no_file(recorded_topics, tmp_path):
    cfg, env = recorded_topics
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "seen.jsonl"
    prefix = ["--topic-prefix", cfg.kafka.topic_prefix]
    result = run_cli(env, "record", "--out", str(target), *prefix, preexec_fn=_limit_file_size)
    assert result.returncode == 1, result.stderr
    assert f"cannot write {target}: File too large" in result.stderr
    assert list(folder.iterdir()) == []  # no file, no partial left behind
    # The same recording fits without the limit: the failure was the disk's, nothing else.
    fine = run_cli(env, "record", "--out", str(target), *prefix)
    assert fine.returncode == 0 and "recorded 3000 records" in fine.stderr, fine.stderr


def test_record_into_an_unwritable_directory_fails_clearly(kafka_env):
    # Root writes through any mode bits; sysfs refuses new files to everybody, root included.
    folder = Path(tempfile.mkdtemp(prefix="pulseboard-ro-")) if os.geteuid() else Path("/sys")
    try:
        if os.geteuid():
            folder.chmod(0o555)
        before = set(folder.iterdir())
        target = folder / "seen.jsonl"
        result = run_cli(kafka_env, "record", "--out", str(target))
        assert result.returncode == 1, result.stderr
        assert f"cannot write {target}: Permission denied" in result.stderr
        assert "nothing was left behind" in result.stderr
        assert set(folder.iterdir()) == before
    finally:
        if os.geteuid():
            folder.chmod(0o755)
            folder.rmdir()
