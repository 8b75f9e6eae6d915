"""History end to end with the real broker: `replay --to-history` writes a session to the
history topic; push servers index it and answer the SPEC section 9 API exactly as an
independent carry-forward of `replay --out` says; an empty index folder is rebuilt from
Kafka; replacing and dropping sessions work; bad parameters get clear 4xx answers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from web_raw import http

from producers.command import write_log
from producers.replay_to_kafka import ReplayOptions, replay_to_kafka
from producers.simulation import SimConfig, Simulation
from pulseboard.config import Config
from pulseboard.eventlog import LogWriter
from web.assets import STATIC_DIR, build_frontend
from web.harness import serving
from web.server import PushServer, ServeSettings

pytestmark = pytest.mark.integration

RATES = {"on_time_rate_1h", "avg_transit_min_1h", "digital_share_1h", "dc_utilization_5m"}


def make_log(path: Path, seed: int, count: int) -> None:
    # 2026-12-03 09:00 CST; ~100 events per simulated second: a few minutes of event time.
    sim = Simulation(SimConfig(seed=seed, start_ms=1_796_259_600_000, events_per_sim_second=100.0))
    write_log(sim, str(path), count)


def read_records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def carried(records: list[dict], t: int) -> dict[str, object]:
    """The model: SPEC section 8's changelog carried forward to t, absent values left out."""
    state: dict[str, object] = {}
    for r in records:
        if r["t"] <= t:
            state[f"{r['name']}|{r['key']}"] = r["value"]
    return {
        k: v for k, v in state.items() if v is not None and (k.split("|")[0] in RATES or v != 0)
    }


def carried_one(records: list[dict], name: str, key: str, t: int) -> object:
    value: object = None if name in RATES else 0
    for r in records:
        if r["t"] <= t and r["name"] == name and r["key"] == key:
            value = r["value"]
    return value


async def get(port: int, target: str) -> tuple[int, dict]:
    response = await http(port, target)
    assert response.headers["content-type"] == "application/json"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return response.status or 0, orjson.loads(response.body)


async def until_sessions(port: int, predicate, timeout: float = 60.0) -> list[dict]:
    """Poll the sessions list until ``predicate`` holds (the index follows the topic)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await get(port, "/api/history/sessions")
        if status == 200 and predicate(body["sessions"]):
            return body["sessions"]
        assert time.monotonic() < deadline, f"history never showed the session: {body}"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def push_server(config: Config, index: Path) -> AsyncIterator[PushServer]:
    build_frontend()
    settings = ServeSettings(port=0, static_dir=STATIC_DIR)
    async with serving(settings, replace(config, history_dir=index)) as server:
        yield server


def named(sessions: list[dict], name: str) -> dict | None:
    return next((s for s in sessions if s["name"] == name), None)


async def test_replayed_session_is_served_exactly_rebuilt_replaced_and_dropped(
    isolated, tmp_path, cli
):
    config, env = isolated
    log1, log2 = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    make_log(log1, seed=3, count=25_000)
    make_log(log2, seed=4, count=12_000)
    out1, out2 = tmp_path / "one.out", tmp_path / "two.out"
    for log, out in ((log1, out1), (log2, out2)):
        done = await asyncio.to_thread(cli, env, "replay", str(log), "--out", str(out))
        assert done.returncode == 0, done.stderr
    ref1, ref2 = read_records(out1), read_records(out2)
    first, last = ref1[0]["t"], ref1[-1]["t"]

    stored = await asyncio.to_thread(cli, env, "replay", str(log1), "--to-history", "day-1")
    assert stored.returncode == 0, stored.stderr
    assert f"stored {len(ref1)} final records" in stored.stdout
    assert "http://127.0.0.1:8080/?session=day-1" in stored.stdout

    probes = [first, first + 1, (first + last) // 2, last - 7, last]
    answers: dict[int, dict] = {}
    async with push_server(config, tmp_path / "index-a") as server:
        port = server.port
        sessions = await until_sessions(port, lambda ss: named(ss, "day-1") is not None)
        assert named(sessions, "day-1") == {
            "name": "day-1",
            "from": first,
            "to": last,
            "records": len(ref1),
        }
        for t in probes:
            status, body = await get(port, f"/api/history/state?session=day-1&t={t}")
            assert status == 200, body
            assert body["session"] == "day-1" and body["t"] == t
            assert body["values"] == carried(ref1, t), t
            answers[t] = body
        # ISO 8601 with an offset names the same second (first is a whole second).
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(probes[2] + 8 * 3600)) + "%2B08:00"
        status, body = await get(port, f"/api/history/state?session=day-1&t={iso}")
        assert status == 200 and body == answers[probes[2]]

        for name, key in (("shipments_1m", "520000"), ("on_time_rate_1h", "520100")):
            target = (
                f"/api/history/series?session=day-1&name={name}&key={key}"
                f"&from={first}&to={last}&step=7"
            )
            status, body = await get(port, target)
            assert status == 200, body
            assert body["t"] == list(range(first, last + 1, 7))
            assert body["v"] == [carried_one(ref1, name, key, t) for t in body["t"]]

        # Bad requests: each says what is wrong.
        bad = [
            ("/api/history/state?session=nope&t=1", 404, "unknown session 'nope'"),
            ("/api/history/state?session=Day&t=1", 400, "is not allowed"),
            (f"/api/history/state?session=day-1&t={first - 1}", 400, "is outside session"),
            (f"/api/history/state?session=day-1&t={last + 1}", 400, "is outside session"),
            ("/api/history/state?session=day-1&t=yesterday", 400, "neither integer"),
            ("/api/history/state?session=day-1", 400, "missing parameter 't'"),
            ("/api/history/state?session=day-1&t=1&x=2", 400, "unknown parameter 'x'"),
            (
                f"/api/history/series?session=day-1&name=bogus&key=1&from={first}&to={last}&step=1",
                404,
                "unknown indicator name 'bogus'",
            ),
            (
                f"/api/history/series?session=day-1&name=shipments_1m&key=XX&from={first}"
                f"&to={last}&step=1",
                404,
                "unknown indicator shipments_1m|XX",
            ),
            (
                f"/api/history/series?session=day-1&name=shipments_1m&key=520000&from={first}"
                f"&to={first + 100_000}&step=1",
                400,
                "too small for the range",
            ),
            (
                f"/api/history/series?session=day-1&name=shipments_1m&key=520000&from={first}"
                f"&to={last}&step=0",
                400,
                "step='0'",
            ),
            ("/api/history/../../etc/passwd", 404, "no such history request"),
        ]
        for target, want_status, fragment in bad:
            status, body = await get(port, target)
            assert (status, fragment in body.get("error", "")) == (want_status, True), (
                target,
                body,
            )
        refused = await http(port, "/api/history/sessions", method="POST")
        assert refused.status == 405

    # A second server with an empty folder rebuilds the index from Kafka alone.
    async with push_server(config, tmp_path / "index-b") as server:
        port = server.port
        await until_sessions(port, lambda ss: named(ss, "day-1") is not None)
        for t in probes:
            status, body = await get(port, f"/api/history/state?session=day-1&t={t}")
            assert (status, body) == (200, answers[t])

        # Replacing the session: the server now answers from the second log.
        again = await asyncio.to_thread(cli, env, "replay", str(log2), "--to-history", "day-1")
        assert again.returncode == 0, again.stderr
        await until_sessions(
            port, lambda ss: (named(ss, "day-1") or {}).get("records") == len(ref2)
        )
        t = (ref2[0]["t"] + ref2[-1]["t"]) // 2
        status, body = await get(port, f"/api/history/state?session=day-1&t={t}")
        assert status == 200 and body["values"] == carried(ref2, t)

        dropped = await asyncio.to_thread(cli, env, "history", "drop", "day-1")
        assert dropped.returncode == 0, dropped.stderr
        await until_sessions(port, lambda ss: named(ss, "day-1") is None)
        status, body = await get(port, f"/api/history/state?session=day-1&t={t}")
        assert status == 404 and "unknown session 'day-1'" in body["error"]

    # The first server's folder, reopened, resumes where it stopped and sees the replace
    # and the drop too.
    async with push_server(config, tmp_path / "index-a") as server:
        await until_sessions(server.port, lambda ss: named(ss, "day-1") is None)


def test_bad_session_names_fail_before_any_work(isolated, tmp_path, cli):
    _, env = isolated
    log = tmp_path / "x.jsonl"
    make_log(log, seed=1, count=100)
    done = cli(env, "replay", str(log), "--to-history", "../etc")
    assert done.returncode == 2 and "session name '../etc' is not allowed" in done.stderr
    done = cli(env, "history", "drop", "A")
    assert done.returncode == 2 and "session name 'A' is not allowed" in done.stderr


async def test_live_aggregator_finals_reach_history(isolated, tmp_path):
    """The aggregator's final records land in session ``live`` and are served exactly."""
    config, env = isolated
    log = tmp_path / "live.jsonl"
    # Recent ingest times: the events topics' retention must not delete the test's data.
    start = (int(time.time()) - 3 * 3600) * 1000
    write_log(
        Simulation(SimConfig(seed=9, start_ms=start, events_per_sim_second=100.0)),
        str(log),
        15_000,
    )
    out = tmp_path / "live.out"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pulseboard.cli", "replay", str(log), "--out", str(out)],
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    ref = read_records(out)
    sent, _ = await replay_to_kafka(config, str(log), ReplayOptions())
    assert sent == 15_000
    argv = [sys.executable, "-m", "pulseboard.cli", "aggregate", "--metrics-port", "0"]
    argv += ["--idle-ms", "500", "--idle-speed", "50", "--checkpoint-interval-ms", "500"]
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    try:
        async with push_server(config, tmp_path / "index") as server:
            sessions = await until_sessions(
                server.port,
                lambda ss: (named(ss, "live") or {}).get("records") == len(ref),
                timeout=120,
            )
            assert named(sessions, "live") == {
                "name": "live",
                "from": ref[0]["t"],
                "to": ref[-1]["t"],
                "records": len(ref),
            }
            first, last = ref[0]["t"], ref[-1]["t"]
            for t in (first, (first + last) // 2, last):
                status, body = await get(server.port, f"/api/history/state?session=live&t={t}")
                assert status == 200 and body["values"] == carried(ref, t), t
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0


async def test_backfill_fills_live_with_a_simulated_day(isolated, tmp_path, cli):
    """`history backfill` computes yesterday from the simulation through the engine and
    stores it in ``live``; its values equal an offline replay of the same simulated log."""
    config, env = isolated
    env = {**env, "PULSEBOARD_HISTORY_DIR": str(tmp_path / "cli-index")}
    argv = ("history", "backfill", "--days", "1", "--rate", "2", "--workers", "1")
    done = await asyncio.to_thread(cli, env, *argv)
    assert done.returncode == 0, done.stderr
    assert "backfill: 1 day in" in done.stdout

    # The same day by hand: CST midnight yesterday, warm-up hour, seed per docs/history.md.
    midnight = (int(time.time()) + 8 * 3600) // 86_400 * 86_400 - 8 * 3600
    d0 = midnight - 86_400
    seed = (d0 + 8 * 3600) // 86_400
    sim = Simulation(SimConfig(seed=seed, start_ms=(d0 - 3600) * 1000, events_per_sim_second=2.0))
    log = tmp_path / "day.jsonl"
    with LogWriter(str(log)) as writer:
        while True:
            batch = sim.take(5_000)
            kept = [r for r in batch if r.ingest_ts <= midnight * 1000 + 35_000]
            for r in kept:
                writer.write_record(r.value, r.ingest_ts)
            if len(kept) < len(batch):
                break
    out = tmp_path / "day.out"
    replayed = await asyncio.to_thread(cli, env, "replay", str(log), "--out", str(out))
    assert replayed.returncode == 0, replayed.stderr
    ref = read_records(out)

    async with push_server(config, tmp_path / "index") as server:
        sessions = await until_sessions(server.port, lambda ss: named(ss, "live") is not None)
        live = named(sessions, "live")
        assert live is not None and (live["from"], live["to"]) == (d0, midnight - 1)
        for t in (d0, d0 + 5 * 3600 + 17, midnight - 1):
            status, body = await get(server.port, f"/api/history/state?session=live&t={t}")
            assert status == 200 and body["values"] == carried(ref, t), t
            assert body["values"]  # a simulated day has values at every moment

    again = await asyncio.to_thread(cli, env, *argv)
    assert again.returncode == 0, again.stderr
    assert "is already in live history; left as it is" in again.stdout
