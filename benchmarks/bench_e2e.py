"""End to end: event ingest to the websocket frame on the wire, at 10,000 events/s.

    .venv/bin/python benchmarks/bench_e2e.py [--rate 10000] [--seconds 120] [--probe-hz 5]

Starts the project's local broker in a throwaway state folder (unless PULSEBOARD_BOOTSTRAP
points elsewhere) and, each a separate process as in production: `pulseboard produce
--rate R` (the load), `pulseboard aggregate` and `pulseboard serve`. One websocket client
watches the wall's feed.

How latency is measured, per event: alongside the load, this script publishes *probe*
shipments (valid SPEC events, export country `AQ`, which the simulation never uses, value 1
CNY each), with the Kafka record timestamp (= the SPEC's ingest_ts) set at the moment of
sending. `export_value_by_country_1h|AQ` therefore equals the number of probes the screen
reflects; when a frame raises it from k to n, probes k+1..n have arrived, and each one's
latency is the frame's arrival time minus that probe's ingest time. That is the whole path:
producer → Kafka → sealer → Kafka → finalizer → Kafka → push server (coalescing) → socket,
under the load of the producer at R events/s on the same machine.

The push server's own histogram (ingest_ts of the newest event behind each indicator to
websocket send) is read from its /metrics as a second opinion. Results go to stdout and
bench-results/e2e.json."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from benchmarks.common import free_port, machine, save_report  # noqa: E402
from pulseboard import localbroker, packs  # noqa: E402
from pulseboard.cli_support import cluster_argv  # noqa: E402
from pulseboard.config import Config, config_from_env  # noqa: E402
from pulseboard.kafka_client import client_kwargs  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402

PROBE_NAME = "export_value_by_country_1h"
PROBE_COUNTRY = "AQ"
_PACK = packs.load(packs.DEFAULT_PACK)  # whose codes the probe shipments use


def spawn(config: Config, env: dict[str, str], *argv: str) -> subprocess.Popen[bytes]:
    cmd, rest = argv[0], argv[1:]
    return subprocess.Popen(
        [sys.executable, "-m", "pulseboard.cli", cmd, *cluster_argv(config), *rest],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def scrape(port: int, path: str = "/metrics") -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read().decode()


def histogram(text: str, metric: str) -> dict[float, float]:
    """Cumulative bucket counts of a histogram without labels (or summed over labels)."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(metric + "_bucket"):
            name, _, value = line.rpartition(" ")
            le = name.split('le="')[1].split('"')[0]
            bound = float("inf") if le == "+Inf" else float(le)
            out[bound] = out.get(bound, 0.0) + float(value)
    return dict(sorted(out.items()))


def bucket_quantile(buckets: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding the q-quantile: 'at most'."""
    total = max(buckets.values(), default=0.0)
    if not total:
        return None
    for bound, count in buckets.items():
        if count >= q * total:
            return bound
    return None


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def probe_event(n: int, now_ms: int) -> tuple[bytes, bytes]:
    key = b"probe-truck"
    value = {
        "v": 1,
        "id": f"probe-{uuid.uuid4().hex[:12]}-{n}",
        "type": "shipment",
        "ts": now_ms,
        "truck_id": "probe-truck",
        "shipment_id": f"probe-shipment-{n}",
        "shipper_id": "probe-shipper",
        "origin": _PACK.regions[0].code,
        "dest": _PACK.exits[0].code,
        "cargo": "electronics",
        "weight_kg": 1000,
        "value_cny": 1,
        "export_country": PROBE_COUNTRY,
    }
    return key, orjson.dumps(value)


async def watch(
    url: str, seen: list[tuple[float, int]], ready: asyncio.Event, wire: dict[str, int]
) -> None:
    """Records (arrival wall ms, probe count shown) whenever the probe indicator rises, and
    counts the deltas and their bytes (what every wall receives)."""
    shown = 0
    probe_ids: set[int] = set()  # the ids the server gave the probe's value
    async with connect(url, max_size=None, compression=None, open_timeout=30) as ws:
        async for raw in ws:
            now_ms = time.time() * 1000
            msg = orjson.loads(raw)
            if msg.get("type") == "ping":
                await ws.send('{"type":"heartbeat"}')  # or be dropped as a dead wall
                continue
            # Value ids (docs/push-protocol.md): a snapshot defines them afresh, a delta
            # those it introduces.
            if msg.get("type") == "snapshot":
                ready.set()
                probe_ids.clear()
                rows = msg.get("values", [])
            elif msg.get("type") == "delta":
                rows = msg.get("changes", [])
                if ready.is_set() and wire.get("counting"):
                    wire["deltas"] += 1
                    wire["bytes"] += len(raw)
                    wire["values"] += len(rows)
            else:
                continue
            for key, ident in msg.get("defs", {}).get(PROBE_NAME, []):
                if key == PROBE_COUNTRY:
                    probe_ids.add(ident)
            for row in rows:
                if row[0] in probe_ids and row[1] is not None and round(row[1]) > shown:
                    shown = round(row[1])
                    seen.append((now_ms, shown))


async def probe_run(
    config: Config, web_port: int, seconds: float, hz: float, wire: dict[str, int]
) -> tuple[list[float], int, int]:
    seen: list[tuple[float, int]] = []
    ready = asyncio.Event()
    watcher = asyncio.create_task(watch(f"ws://127.0.0.1:{web_port}/ws", seen, ready, wire))
    await asyncio.wait_for(ready.wait(), 60)
    producer = AIOKafkaProducer(
        **client_kwargs(config, "pulseboard-bench-probe"), acks="all", linger_ms=0
    )
    await producer.start()
    sent: list[float] = []
    topic = config.kafka.topic_prefix + "freight.events"
    try:
        t0 = time.monotonic()
        wire["counting"] = 1
        n = 0
        while time.monotonic() - t0 < seconds:
            n += 1
            now_ms = int(time.time() * 1000)
            key, value = probe_event(n, now_ms)
            sent.append(float(now_ms))
            await producer.send_and_wait(topic, value, key=key, timestamp_ms=now_ms)
            await asyncio.sleep(max(0.0, t0 + n / hz - time.monotonic()))
        wire["counting"] = 0
        wire["seconds_x1000"] = round((time.monotonic() - t0) * 1000)
        # The last probes need a moment to show; the screen is expected to show them all.
        deadline = time.monotonic() + 10
        while (not seen or seen[-1][1] < n) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
        watcher.cancel()
    latencies: list[float] = []
    prev = 0
    for arrived, count in seen:
        for k in range(prev, min(count, len(sent))):
            latencies.append(arrived - sent[k])
        prev = max(prev, count)
    return latencies, len(sent), prev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=10_000.0, help="load, events/s")
    parser.add_argument("--seconds", type=float, default=120.0, help="probing time")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before probing")
    parser.add_argument("--probe-hz", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=19494, help="local broker port")
    # The stages' intervals: shorter ones cut the latency and cost CPU (reported per service).
    parser.add_argument("--seal-interval-ms", type=int, default=200)
    parser.add_argument("--provisional-interval-ms", type=int, default=250)
    parser.add_argument("--coalesce-hz", type=float, default=4.0)
    opts = parser.parse_args()
    # --rate is the mean over the day; the simulation follows the daily curve, so ask for
    # the rate that gives opts.rate at this hour (and measure what it gave).
    from producers.rhythm import freight_curve
    from pulseboard import packs

    mean_rate = opts.rate / freight_curve(packs.load(packs.DEFAULT_PACK).time_zone).at(
        int(time.time() * 1000)
    )
    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": str(opts.port)}
        config = config_from_env(env)
        if config.uses_local_broker:
            localbroker.start(config.broker)
        config = replace(config, kafka=replace(config.kafka, topic_prefix="e2e."))
        env["PULSEBOARD_TOPIC_PREFIX"] = "e2e."
        asyncio.run(ensure_topics(config))
        web_port, agg_port, prod_port = free_port(), free_port(), free_port()
        procs = [
            spawn(config, env, "aggregate", "--metrics-port", str(agg_port), "--log-level",
                  "WARNING", "--seal-interval-ms", str(opts.seal_interval_ms),
                  "--provisional-interval-ms", str(opts.provisional_interval_ms)),
            spawn(config, env, "serve", "--port", str(web_port), "--log-level", "WARNING",
                  "--coalesce-hz", str(opts.coalesce_hz)),
            spawn(config, env, "produce", "--rate", str(round(mean_rate)), "--metrics-port",
                  str(prod_port)),
        ]  # fmt: skip
        load0 = os.getloadavg()
        try:
            time.sleep(opts.warmup)  # a benchmark's settling time, not synchronisation
            for p in procs:
                if p.poll() is not None:
                    raise SystemExit(f"a service exited: {p.stderr.read().decode()[-2000:]}")
            sent0 = scrape_events(prod_port)
            cpu0 = [cpu_seconds(p.pid) for p in procs]
            started = time.monotonic()
            wire = {"deltas": 0, "bytes": 0, "values": 0}
            latencies, probes, shown = asyncio.run(
                probe_run(config, web_port, opts.seconds, opts.probe_hz, wire)
            )
            elapsed = time.monotonic() - started
            cpu = [
                round((cpu_seconds(p.pid) - c) / elapsed, 3)
                for p, c in zip(procs, cpu0, strict=True)
            ]
            rate = (scrape_events(prod_port) - sent0) / elapsed
            server = histogram(scrape(web_port), "pulseboard_web_end_to_end_latency_seconds")
            lag = sum(
                float(line.rpartition(" ")[2])
                for line in scrape(agg_port).splitlines()
                if line.startswith("pulseboard_aggregator_consumer_lag_records")
            )
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
            if config.uses_local_broker:
                localbroker.stop(config.broker)
    if not latencies:
        raise SystemExit("no probe reached the screen")
    report = {
        "machine": machine(load0),
        "conditions": "broker, producer, aggregator, push server and the watching client on "
        "one machine; 6 freight + 3 sector partitions; L=30 s",
        "intervals": {
            "seal_ms": opts.seal_interval_ms,
            "provisional_ms": opts.provisional_interval_ms,
            "coalesce_hz": opts.coalesce_hz,
        },
        "cpu_share_of_one_core": dict(zip(("aggregate", "serve", "produce"), cpu, strict=True)),
        "load_events_per_s": round(rate),
        "deltas_to_a_wall": {
            "per_s": round(wire["deltas"] * 1000 / wire["seconds_x1000"], 2),
            "bytes_per_delta": round(wire["bytes"] / max(1, wire["deltas"])),
            "values_per_delta": round(wire["values"] / max(1, wire["deltas"]), 1),
            "bytes_per_s": round(wire["bytes"] * 1000 / wire["seconds_x1000"]),
        },
        "probes_sent": probes,
        "probes_shown": shown,
        "aggregator_lag_at_end": int(lag),
        "probe_latency_ingest_to_frame_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "server_histogram_ingest_to_send_at_most_s": {
            "p50": bucket_quantile(server, 0.50),
            "p99": bucket_quantile(server, 0.99),
        },
    }
    save_report("e2e", report)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def scrape_events(port: int) -> float:
    return sum(
        float(line.rpartition(" ")[2])
        for line in scrape(port).splitlines()
        if line.startswith("pulseboard_producer_events_total")
    )


if __name__ == "__main__":
    main()
