"""Push server fan-out: 1,000 websocket clients of one `pulseboard serve` process.

    .venv/bin/python benchmarks/bench_ws.py [--clients 1000] [--seconds 30] [--stuck 10]

Starts the project's local broker in a throwaway state folder (unless PULSEBOARD_BOOTSTRAP
points elsewhere) and the push server as a separate process, as a user would. The fake
aggregator (web/fake_feed.py) publishes a realistic indicator stream at 4 steps a second,
each record stamped with its publish time (`ingest_ts`). Client processes (--processes)
hold the websocket connections (benchmarks/ws_walls.py: raw sockets that read only frame
headers and the first bytes of each message, so that ten thousand walls do not take the
cores the server is measured on), check every frame's sequence number for gaps and
measure, for every delta, the time from the publication of its oldest change to the
frame's arrival: Kafka, the server's coalescing (its default, at most 10 deltas a second;
the feed's 4 steps a second make 4) and the fan-out.

Two phases of --seconds each: all clients reading; then the same with --stuck extra
clients that connect and never read a byte. The second phase must look like the first.
Results go to stdout and bench-results/ws.json."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from array import array
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, save_report  # noqa: E402
from benchmarks.ws_walls import run_walls  # noqa: E402
from pulseboard import localbroker  # noqa: E402
from pulseboard.cli_support import cluster_argv  # noqa: E402
from pulseboard.config import Config, config_from_env  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402
from web.fake_feed import run_feed  # noqa: E402


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- client processes ---------------------------------------------------------------


def _worker(port: int, count: int, ready: mp.Event, stop: mp.Event, conn: Connection) -> None:
    _raise_fd_limit()
    tally = run_walls("127.0.0.1", port, count, ready=ready.set, stopped=lambda _: stop.is_set())
    conn.send(tally.as_message())


# -- stuck clients ------------------------------------------------------------------


def _stuck_client(port: int) -> socket.socket:
    """A websocket client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    return sock


# -- the run ------------------------------------------------------------------------


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"samples": 0}
    values = sorted(values)

    def pick(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)

    return {
        "samples": len(values),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(values[-1], 1),
    }


def _metric(text: str, name: str, labels: str = "") -> float:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def _server_histogram(
    text: str, name: str = "pulseboard_web_end_to_end_latency_seconds"
) -> dict[str, float]:
    """p50/p99 upper bounds (and the mean) from one of the server's histograms."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    total = buckets[-1][1] if buckets else 0
    out = {"observations": total}
    if total:
        out["mean_ms"] = round(_metric(text, name + "_sum") / total * 1000, 2)
    for q in (0.5, 0.99):
        bound = next((le for le, n in buckets if total and n >= q * total), None)
        out[f"p{int(q * 100)}_at_most_ms"] = None if bound is None else bound * 1000
    return out


async def _feed_for(config: Config, seconds: float) -> int:
    stop = asyncio.Event()
    task = asyncio.create_task(run_feed(config, rate_hz=4.0, seed=1, stop=stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(opts: argparse.Namespace, config: Config) -> dict:
    prefix = f"bench-ws-{uuid.uuid4().hex[:6]}."
    config = replace(config, kafka=replace(config.kafka, topic_prefix=prefix))
    asyncio.run(ensure_topics(config))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pulseboard.cli", "serve", *cluster_argv(config),
         "--port", str(port), "--max-clients", str(opts.clients + opts.stuck + 10),
         "--client-timeout", "0", "--log-level", "WARNING"],
        cwd=ROOT,
    )  # fmt: skip
    workers = []
    stuck: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the push server did not become ready")
            time.sleep(0.2)
        rss_idle = _rss_kib(server.pid)
        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        per = [opts.clients // opts.processes + (i < opts.clients % opts.processes)
               for i in range(opts.processes)]  # fmt: skip
        for count in per:
            ready = ctx.Event()
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(port, count, ready, stop, child))
            proc.start()
            workers.append((proc, ready, parent))
        connect_started = time.monotonic()
        for _, ready, _ in workers:
            if not ready.wait(120):
                raise SystemExit("clients did not connect in time")
        connect_s = time.monotonic() - connect_started
        cpu0 = [_cpu_s(proc.pid) for proc, _, _ in workers] + [_cpu_s(server.pid)]

        phase_a = (time.time() * 1000, 0.0)
        steps_a = asyncio.run(_feed_for(config, opts.seconds))
        phase_a = (phase_a[0] + 2000, time.time() * 1000)  # skip the first deltas' warm-up
        stuck = [_stuck_client(port) for _ in range(opts.stuck)]
        phase_b_start = time.time() * 1000
        steps_b = asyncio.run(_feed_for(config, opts.seconds))
        phase_b = (phase_b_start + 2000, time.time() * 1000)
        elapsed_s = (phase_b[1] - phase_a[0] + 2000) / 1000
        cpu1 = [_cpu_s(proc.pid) for proc, _, _ in workers] + [_cpu_s(server.pid)]
        rss_loaded = _rss_kib(server.pid)
        _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        stop.set()
        results = [parent.recv() for _, _, parent in workers]
    finally:
        for sock in stuck:
            sock.close()
        for proc, _, _ in workers:
            proc.join(15)
            if proc.is_alive():
                proc.terminate()
        server.terminate()
        server.wait(15)

    times = array("d")
    lats = array("d")
    for r in results:
        t = array("d")
        t.frombytes(r["t"])
        lat = array("d")
        lat.frombytes(r["lat"])
        times.extend(t)
        lats.extend(lat)

    def phase(lo: float, hi: float) -> dict[str, float]:
        return _percentiles([lat for t, lat in zip(times, lats, strict=True) if lo <= t <= hi])

    text = metrics.decode()
    return {
        "clients": opts.clients,
        "client_processes": opts.processes,
        "connect_all_s": round(connect_s, 2),
        "feed_steps_per_phase": [steps_a, steps_b],
        "deltas_received": sum(r.get("delta", 0) for r in results),
        # cores the client load took, and the server's, over both phases
        "cpu_share_of_one_core": {
            "clients": round(
                sum(b - a for a, b in zip(cpu0[:-1], cpu1[:-1], strict=True)) / elapsed_s, 2
            ),
            "server": round((cpu1[-1] - cpu0[-1]) / elapsed_s, 2),
        },
        # the server's resident memory with no client and with all of them (after both
        # phases), and the difference per connection
        "server_rss_kib": {
            "idle": rss_idle,
            "loaded": rss_loaded,
            "per_connection": round((rss_loaded - rss_idle) / (opts.clients + opts.stuck), 1),
        },
        "gaps_seen_by_clients": sum(r["gaps"] for r in results),
        "client_errors": sum(len(r["errors"]) for r in results),
        "latency_publish_to_receive": {
            "all_reading": phase(*phase_a),
            f"with_{opts.stuck}_stuck_clients": phase(*phase_b),
        },
        "server": {
            "latency_ingest_to_send": _server_histogram(text),
            # one pass of a delta or ping over every client: the first wall to the last
            "broadcast_pass": _server_histogram(text, "pulseboard_web_broadcast_seconds"),
            "messages_sent": _metric(text, "pulseboard_web_messages_sent_total", 'type="delta"'),
            "bytes_sent": _metric(text, "pulseboard_web_sent_bytes_total"),
            "updates_dropped_for_slow_clients": _metric(
                text, "pulseboard_web_updates_dropped_total"
            ),
            "stuck_clients_closed": _metric(
                text,
                "pulseboard_web_connections_closed_by_server_total",
                'reason="send timed out"',
            )
            + _metric(
                text,
                "pulseboard_web_connections_closed_by_server_total",
                'reason="client too slow"',
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stuck", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    opts = parser.parse_args()
    _raise_fd_limit()

    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": "19492"}
        config = config_from_env({**os.environ, **env})
        if config.uses_local_broker:
            localbroker.start(config.broker)
        try:
            result = run(opts, config)
        finally:
            if config.uses_local_broker:
                localbroker.stop(config.broker)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "conditions": "server, clients and broker on one machine; fake aggregator at 4 "
                      "steps/s (~200 changed indicators a step); the server's default "
                      "coalescing (10 deltas/s at most), so 4 deltas/s",
        **result,
    }  # fmt: skip
    save_report("ws", report)


if __name__ == "__main__":
    main()
