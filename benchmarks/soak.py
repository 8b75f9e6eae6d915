"""Soak: the whole stack at 10x simulated speed for 30 minutes with 200 walls watching.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--speed 10] [--clients 200]

Bounded and on loopback. Starts the project's local broker in a throwaway state folder and,
each a separate process as in production, `produce --speed S`, `aggregate --idle-speed S`
and `serve`; then holds --clients websocket connections that behave like the wall page
(heartbeat on every ping, sequence numbers checked). Every --every seconds it samples the
resident memory of every process (broker included), the aggregator's consumer lag and the
records it consumed.

Pass criteria (printed, not asserted): no service exited and none logged an error; no client
saw a gap, an error or a close; the memory of every pulseboard service at the end within 10%
of its memory after the warm-up (--warmup minutes); consumer lag flat (least-squares slope
below 1% of the event rate, and small at the end).
Results go to stdout and bench-results/soak.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from benchmarks.common import free_port, machine, save_report, slope  # noqa: E402
from pulseboard import localbroker  # noqa: E402
from pulseboard.cli_support import cluster_argv  # noqa: E402
from pulseboard.config import Config, config_from_env  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402


def steady_start(hour_cst: int = 9) -> str:
    """Memory follows the load (an hour's window at 1.8x the mean rate holds six times the
    events of one at 0.3x), so a soak judged on memory must run where the daily rhythm is
    about level: from 09:00 CST, 5 simulated hours (30 min at 10x) stay within 1.5-1.9x
    of the mean. The latest such morning already past, so event times are not ahead of
    the broker's clock."""
    cst = timezone(timedelta(hours=8))
    now = datetime.now(cst)
    start = now.replace(hour=hour_cst, minute=0, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    return start.isoformat()


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def scrape_sum(port: int, prefix: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return float("nan")
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.decode().splitlines()
        if line.startswith(prefix) and not line.startswith("#")
    )


@dataclass
class Walls:
    """What the simulated walls saw, summed."""

    connected: int = 0
    frames: int = 0
    deltas: int = 0
    gaps: int = 0
    closes: list[str] = field(default_factory=list)


async def wall(url: str, walls: Walls, stop: asyncio.Event) -> None:
    async with connect(url, max_size=None, open_timeout=60) as ws:
        walls.connected += 1
        expected: int | None = None
        try:
            async for raw in ws:
                msg = orjson.loads(raw)
                walls.frames += 1
                seq = msg["seq"]
                # A snapshot is numbered as the last broadcast it includes; after it, +1.
                if expected is not None and seq != expected and msg["type"] != "snapshot":
                    walls.gaps += 1
                expected = seq + 1
                if msg["type"] == "delta":
                    walls.deltas += 1
                elif msg["type"] == "ping":
                    await ws.send('{"type":"heartbeat"}')
                if stop.is_set():
                    return
        except ConnectionClosed as exc:
            if not stop.is_set():
                walls.closes.append(repr(exc))


class Stack:
    def __init__(self, config: Config, env: dict[str, str], opts: argparse.Namespace) -> None:
        self.logs = Path(env["PULSEBOARD_STATE_DIR"]) / "service-logs"
        self.logs.mkdir()
        self.web_port, self.agg_port, self.prod_port = free_port(), free_port(), free_port()
        cluster = cluster_argv(config)
        argv = {
            "producer": ["produce", *cluster, "--speed", str(opts.speed), "--rate",
                         str(opts.rate), "--start", opts.start,
                         "--metrics-port", str(self.prod_port)],
            "aggregator": ["aggregate", *cluster, "--idle-speed", str(opts.speed),
                           "--metrics-port", str(self.agg_port)],
            "server": ["serve", *cluster, "--port", str(self.web_port),
                       "--max-clients", str(opts.clients + 50)],
        }  # fmt: skip
        self.log_start: dict[str, int] = {}
        self.procs = {
            name: subprocess.Popen(
                [sys.executable, "-m", "pulseboard.cli", *args],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=(self.logs / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for name, args in argv.items()
        }

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def mark_logs(self) -> None:
        """Errors before this point belong to start-up (a fresh broker answers "coordinator
        not available" until its offsets topic exists, and clients retry): not the soak's."""
        self.log_start = {n: (self.logs / f"{n}.log").stat().st_size for n in self.procs}

    def error_lines(self) -> dict[str, list[str]]:
        out = {}
        for name in self.procs:
            with (self.logs / f"{name}.log").open("rb") as f:
                f.seek(self.log_start.get(name, 0))
                text = f.read().decode(errors="replace").splitlines()
            bad = [line for line in text if " ERROR " in line or "Traceback" in line]
            if bad:
                out[name] = bad[:5]
        return out

    def stop(self) -> None:
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_ready(port: int, stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.exited():
            raise SystemExit(f"a service exited during start-up: {stack.exited()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit("the push server was not ready in time")


async def soak(stack: Stack, pids: dict[str, int], opts: argparse.Namespace) -> dict:
    walls, stop = Walls(), asyncio.Event()
    url = f"ws://127.0.0.1:{stack.web_port}/ws"
    tasks = [asyncio.create_task(wall(url, walls, stop)) for _ in range(opts.clients)]
    samples = []
    t0 = time.monotonic()
    n = 0
    while True:
        n += 1
        await asyncio.sleep(max(0.0, t0 + n * opts.every - time.monotonic()))
        sample = {
            "minute": round((time.monotonic() - t0) / 60, 2),
            "rss_mb": {name: round(rss_bytes(pid) / 2**20, 1) for name, pid in pids.items()},
            "lag": await asyncio.to_thread(
                scrape_sum, stack.agg_port, "pulseboard_aggregator_consumer_lag_records"
            ),
            "consumed": await asyncio.to_thread(
                scrape_sum, stack.agg_port, "pulseboard_aggregator_records_consumed_total"
            ),
            "produced": await asyncio.to_thread(
                scrape_sum, stack.prod_port, "pulseboard_producer_events_total"
            ),
            "walls_connected": walls.connected - len(walls.closes),
            "deltas": walls.deltas,
        }
        samples.append(sample)
        print(json.dumps(sample), flush=True)
        if sample["minute"] >= opts.minutes or stack.exited():
            break
    stop.set()
    await asyncio.wait(tasks, timeout=15)
    for t in tasks:
        t.cancel()
    return {"walls": walls, "samples": samples}


def verdict(samples: list[dict], opts: argparse.Namespace, rate: float) -> dict:
    warm = min(samples, key=lambda s: abs(s["minute"] - opts.warmup))
    last = samples[-1]
    memory = {
        name: {
            "after_warmup_mb": warm["rss_mb"][name],
            "end_mb": last["rss_mb"][name],
            "max_after_warmup_mb": max(
                s["rss_mb"][name] for s in samples if s["minute"] >= warm["minute"]
            ),
            "change_pct": round(100 * (last["rss_mb"][name] / warm["rss_mb"][name] - 1), 1),
        }
        for name in last["rss_mb"]
    }
    steady = [s for s in samples if s["minute"] >= warm["minute"]]
    lag_slope = slope([(s["minute"] * 60, s["lag"]) for s in steady])
    return {
        "memory": memory,
        # The broker is Kafka's JVM: its resident size grows until the heap it was given
        # (-Xmx) has been touched once, whatever the load, so it is reported, not judged.
        "memory_flat": all(
            abs(m["change_pct"]) <= 10 for name, m in memory.items() if name != "broker"
        ),
        "lag_max": max(s["lag"] for s in steady),
        "lag_end": last["lag"],
        "lag_slope_records_per_s": round(lag_slope, 2),
        "lag_flat": abs(lag_slope) < 0.01 * rate and last["lag"] < 2 * rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="minutes; at least the longest window (1 h) in real time, 6 min at 10x",
    )
    parser.add_argument(
        "--start",
        default=None,
        help="simulated start (default: the latest 09:00 CST already past: a level load)",
    )
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="mean events/s, real time")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--port", type=int, default=19498, help="local broker port")
    opts = parser.parse_args()
    opts.start = opts.start or steady_start()
    with tempfile.TemporaryDirectory(prefix="pulseboard-soak-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": str(opts.port)}
        config = config_from_env(env)
        localbroker.start(config.broker)
        load0 = os.getloadavg()
        try:
            asyncio.run(ensure_topics(config))
            stack = Stack(config, env, opts)
            try:
                wait_ready(stack.web_port, stack, 180)
                stack.mark_logs()
                pids = {name: p.pid for name, p in stack.procs.items()}
                broker = localbroker.running_pid(localbroker.BrokerPaths.of(config.broker))
                if broker:
                    pids["broker"] = broker
                result = asyncio.run(soak(stack, pids, opts))
                exited, errors = stack.exited(), stack.error_lines()
            finally:
                stack.stop()
        finally:
            localbroker.stop(config.broker)
    samples, walls = result["samples"], result["walls"]
    elapsed_s = samples[-1]["minute"] * 60
    rate = samples[-1]["produced"] / elapsed_s if elapsed_s else 0.0
    report = {
        "machine": machine(load0),
        "conditions": f"broker + produce --speed {opts.speed} --rate {opts.rate} "
        f"--start {opts.start} + aggregate + "
        f"serve, {opts.clients} websocket clients, all on one machine",
        "events_per_s_mean": round(rate),
        "services_exited": exited,
        "service_error_lines": errors,
        "walls": {
            "connected": walls.connected,
            "frames": walls.frames,
            "deltas": walls.deltas,
            "gaps": walls.gaps,
            "closes": walls.closes[:5],
        },
        **verdict(samples, opts, rate),
        "samples": samples,
    }
    report["pass"] = (
        not exited
        and not errors
        and walls.gaps == 0
        and not walls.closes
        and walls.connected == opts.clients
        and report["memory_flat"]
        and report["lag_flat"]
    )
    save_report("soak", report, hide=("samples",))


if __name__ == "__main__":
    main()
