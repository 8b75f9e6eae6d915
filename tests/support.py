"""What the tests share, written once: running and spawning the `pulseboard` command, waiting
for a condition with a deadline, free ports, a broker of a test's own, the final records on
the indicators topic, and the push server's test settings. Fixtures live in conftest.py;
test modules import from here, never from one another."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pulseboard import localbroker, spec
from pulseboard.config import Config, config_from_env
from pulseboard.kafka_client import client_kwargs
from web import fake_callouts
from web.fake_callouts import ensure_anomalies_topic
from web.protocol import Timing
from web.server import ServeSettings

CLI = [sys.executable, "-m", "pulseboard.cli"]
DEAD = "127.0.0.1:1"  # nothing listens there: connection refused at once


# ------------------------------------------------------------------------------- ports


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """Two free consecutive ports below the ephemeral range, so an outgoing connection
    cannot take the controller port between this check and the broker's bind."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000, 2)
        if not localbroker.port_in_use(port) and not localbroker.port_in_use(port + 1):
            return port
    raise RuntimeError("no free port pair on 127.0.0.1")


# ------------------------------------------------------------------- the command line


def run_cli(
    env: dict[str, str],
    *argv: str,
    timeout: float = 180,
    module: str = "pulseboard.cli",
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """`pulseboard ARGV...` (or ``python -m MODULE ARGV...``) run to the end in a child
    process, ``env`` added to the environment; its output captured as text."""
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


class Child:
    """A long-running child: `pulseboard ARGV...` (or ``python -m MODULE ARGV...``). Its
    stderr goes to a file (a pipe nobody reads while it runs could fill up and block it),
    readable at any time."""

    def __init__(self, env: dict[str, str], *argv: str, module: str = "pulseboard.cli") -> None:
        fd, name = tempfile.mkstemp(prefix="pulseboard-child-", suffix=".log")
        self.err_path = Path(name)
        with os.fdopen(fd, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, *argv],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def poll(self) -> int | None:
        return self.proc.poll()

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 120) -> tuple[int, str]:
        """Wait for the child to exit by itself; its exit code and stderr."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self.stderr()

    def end(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Stop it (by its own pid, never by name) unless it has exited."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code, err = self.wait(60)
        self.err_path.unlink(missing_ok=True)
        return code, err


RETRY_LINE = re.compile(r"cannot reach Kafka at \S+ \(attempt (\d+): .*retrying in ([\d.]+) s")


def retry_lines(child: Child) -> list[tuple[int, float]]:
    """(attempt, delay) of every "cannot reach Kafka" line the child logged so far."""
    found = map(RETRY_LINE.search, child.stderr().splitlines())
    return [(int(m[1]), float(m[2])) for m in found if m]


# ------------------------------------------------------------------------------ waiting


async def until(
    predicate: Callable[[], object], timeout: float, what: str, step: float = 0.2
) -> None:
    """Poll a condition with a deadline (never a fixed wait standing in for an event)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(step)


def metric(port: int, name: str) -> float:
    """Sum of every sample of one metric family (0 if the endpoint is not up yet)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3).read()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


# ------------------------------------------------------------------- a broker of its own


@contextlib.contextmanager
def own_broker_env(tmp: Path) -> Iterator[tuple[Config, dict[str, str]]]:
    """Settings of a broker of the test's own (not started); stopped on exit if it runs."""
    env = {
        "PULSEBOARD_STATE_DIR": str(tmp / "kafka"),
        "PULSEBOARD_KAFKA_PORT": str(free_port_pair()),
        "PULSEBOARD_KAFKA_HEAP": "384m",
    }
    if "PULSEBOARD_CACHE_DIR" in os.environ:
        env["PULSEBOARD_CACHE_DIR"] = os.environ["PULSEBOARD_CACHE_DIR"]
    config = config_from_env(env)
    try:
        yield config, env
    finally:
        localbroker.stop(config.broker)


def start_broker(config: Config) -> None:
    localbroker.start(config.broker, log=lambda _: None)


def wrong_settings(
    broker: str, give_up_after_s: str
) -> dict[str, tuple[dict[str, str], list[str], str]]:
    """Settings no retry can fix, and a cluster given up on: case -> (extra environment,
    flags, what the error must say). `broker` is a plaintext broker that is up."""
    sasl = {
        "PULSEBOARD_BOOTSTRAP": broker,
        "PULSEBOARD_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "PULSEBOARD_SASL_MECHANISM": "PLAIN",
        "PULSEBOARD_SASL_USERNAME": "wall",
        "PULSEBOARD_SASL_PASSWORD": "secret",
    }
    return {
        "syntax": ({}, ["--bootstrap-servers", "bad host:9092"], "is not host:port"),
        "topic": ({}, ["--topic-prefix", "never-created."], "does not exist on Kafka"),
        "sasl": (sasl, [], "accepts connections but refused ours"),
        "give up": ({}, ["--bootstrap-servers", DEAD, "--connect-timeout", give_up_after_s],
                    f"cannot reach Kafka at {DEAD}"),
    }  # fmt: skip


# ------------------------------------------------------------------ the final records


class Finals:
    """Reads the indicators topic from the start: final records by (t, name, key)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.values: dict[tuple[int, str, str], object] = {}
        self.conflicts: list[tuple[tuple[int, str, str], object, object]] = []
        self.duplicates = 0
        self.provisional = 0
        self.provisional_times: list[int] = []  # record timestamps (publish time, ms)
        self.max_t = 0
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Finals:
        c = AIOKafkaConsumer(**client_kwargs(self.cfg, "test-finals"), enable_auto_commit=False)
        await c.start()
        topic = self.cfg.kafka.topic(spec.TOPIC_INDICATORS)
        tps = [TopicPartition(topic, p) for p in range(self.cfg.kafka.indicators_partitions)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        self._consumer = c
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def poll(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for rec in records:
                obj = orjson.loads(rec.value)
                assert rec.key == f"{obj['name']}|{obj['key']}".encode()
                assert type(obj["ingest_ts"]) is int and type(obj["final"]) is bool
                if not obj["final"]:
                    self.provisional += 1
                    self.provisional_times.append(rec.timestamp)
                    continue
                k = (obj["t"], obj["name"], obj["key"])
                if k in self.values:
                    self.duplicates += 1
                    if self.values[k] != obj["value"]:
                        self.conflicts.append((k, self.values[k], obj["value"]))
                self.values[k] = obj["value"]
                self.max_t = max(self.max_t, obj["t"])

    async def until(self, done: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            await self.poll()


def diff(got: dict, want: dict) -> str:
    """What differs between two dicts of final records, briefly, for an assertion message."""
    missing = sorted(k for k in want if k not in got)
    extra = sorted(k for k in got if k not in want)
    wrong = sorted(k for k in want if k in got and got[k] != want[k])
    return (
        f"{len(missing)} missing (first {missing[:3]}), {len(extra)} extra (first {extra[:3]}), "
        f"{len(wrong)} different (first {[(k, got[k], want[k]) for k in wrong[:3]]})"
    )


# --------------------------------------------------------------------- the push server


def serve_settings(static_dir: Path, **kw: Any) -> ServeSettings:
    """Push server settings for a test: any free port, the built page, quick timing
    (20 Hz coalescing), each replaceable by a keyword."""
    return replace(ServeSettings(port=0, static_dir=static_dir, timing=Timing(20, 5, 10)), **kw)


def rows_of(
    msg: dict, field: str, ids: dict[int, tuple[str, str]] | None = None
) -> dict[str, list[list[object]]]:
    """A push message's values as ``{name: [[key, value, t, final], ...]}``, whatever the
    server sent (docs/push-protocol.md, protocol 3): ids resolved by ``msg["defs"]`` and by
    ``ids``, what earlier messages of the same connection defined (updated in place, as a
    page keeps them); rows of two items take ``msg["at"]``. An id never defined fails."""
    known = {} if ids is None else ids
    for name, pairs in msg.get("defs", {}).items():
        for key, ident in pairs:
            known[ident] = (name, key)
    at = msg.get("at")
    out: dict[str, list[list[object]]] = {}
    for row in msg.get(field, []):
        name, key = known[row[0]]
        t, final = (row[2], row[3]) if len(row) == 4 else (at[0], at[1])
        out.setdefault(name, []).append([key, row[1], t, final])
    return out


# ------------------------------------------------------------------------------ call-outs


async def create_anomalies_topic(config: Config, partitions: int = 2) -> str:
    """The live anomalies topic of ``config``'s prefix (the detector's, which tests play)."""
    return await ensure_anomalies_topic(config, partitions)


def anomaly(
    state: str, t: int, name: str, key: str, score: float, value: float | None, expected: float
) -> dict[str, Any]:
    """An anomaly record as the detector writes it (band: expected ± 30 %)."""
    return {
        "t": t, "name": name, "key": key, "value": value, "expected": expected,
        "low": round(expected * 0.7, 3), "high": round(expected * 1.3, 3),
        "score": score, "state": state,
    }  # fmt: skip


async def publish_anomalies(config: Config, records: list[dict[str, Any]]) -> None:
    """Write anomaly records (keyed name|key) to the live anomalies topic and wait for them."""
    await fake_callouts.publish_anomalies(config, records)
