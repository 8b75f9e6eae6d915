"""End to end: event ingest to the websocket frame on the wire, at 10,000 events/s.

    .venv/bin/python benchmarks/bench_e2e.py [--rate 10000] [--seconds 120] [--probe-hz 5]

Starts the project's local broker in a throwaway state folder (unless PULSEBOARD_BOOTSTRAP
points elsewhere) and, each a separate process as in production: `pulseboard produce
--rate R` (the load), `pulseboard aggregate` and `pulseboard serve`. One websocket client
watches the wall's feed.

How latency is measured, per event: alongside the load, this script publishes *probe*
shipments (valid SPEC events, export country `AQ`, which the simulation never uses, value 1
CNY each; --probe-hz a second, each at a random moment of its slot), with the Kafka record
timestamp (= the SPEC's ingest_ts) set at the moment of sending.
`export_value_by_country_1h|AQ` therefore equals the number of probes the screen reflects;
when a frame raises it from k to n, probes k+1..n have arrived, and each one's latency is
the frame's arrival time minus that probe's ingest time. That is the whole path: producer →
Kafka → sealer → Kafka → finalizer → Kafka → push server (coalescing) → socket,
under the load of the producer at R events/s on the same machine.

Where the time goes, per probe and per hop (``--hops``, on by default): an observer
(no group, its own reader) follows the internal topic and the indicators topic beside the
services. Records there carry the time their writer appended them (CreateTime, taken
when the aggregator's batcher appends the record), so each probe gets: its
acknowledgement (acks=all), the sealer's provisional message that first counts it, when
the observer read that message, the finalizer's indicator record that first counts it,
when the observer read that, and the frame. All clocks are this machine's one wall clock.

The push server's own histogram (ingest_ts of the newest event behind each indicator to
websocket send) is read from its /metrics as a second opinion. Results go to stdout and
bench-results/e2e.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from aiokafka import AIOKafkaProducer, TopicPartition  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from benchmarks.common import free_port, machine, save_report  # noqa: E402
from consumers.aggregate.codec import decode_message  # noqa: E402
from consumers.aggregate.options import AggregateOptions  # noqa: E402
from pulseboard import localbroker, packs, spec  # noqa: E402
from pulseboard.cli_support import cluster_argv  # noqa: E402
from pulseboard.config import TOPIC_BUCKETS, Config, config_from_env  # noqa: E402
from pulseboard.kafka_client import client_kwargs, kafka_consumer  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402
from web.protocol import Timing  # noqa: E402

PROBE_NAME = "export_value_by_country_1h"
PROBE_COUNTRY = "AQ"
PROBE_KEY = f"{PROBE_NAME}|{PROBE_COUNTRY}".encode()
PROBE_MICRO = 1_000_000  # one probe's value_cny (1) in the buckets' micro-CNY
_PACK = packs.load(packs.DEFAULT_PACK)  # whose codes the probe shipments use
_DEFAULTS = AggregateOptions()


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


@dataclass
class Seen:
    """Where the probe count stood along the way: (time, probes counted so far) steps."""

    acked: list[float] = field(default_factory=list)  # wall ms each probe's ack came back
    sealed: list[tuple[float, float, int]] = field(default_factory=list)  # (append, read, n)
    final: list[tuple[float, float, int]] = field(default_factory=list)  # (append, read, n)


async def observe(config: Config, seen: Seen, ready: asyncio.Event) -> None:
    """Follow the internal topic's provisional messages and the indicators topic from their
    ends, noting when (appended, read) the probe count rose at each."""
    k = config.kafka
    buckets = TopicPartition(k.topic(TOPIC_BUCKETS), 0)
    indicators = [
        TopicPartition(k.topic(spec.TOPIC_INDICATORS), p) for p in range(k.indicators_partitions)
    ]
    consumer = kafka_consumer(config, "pulseboard-bench-hops", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([buckets, *indicators])
        await consumer.seek_to_end(buckets, *indicators)
        for tp in (buckets, *indicators):
            await consumer.position(tp)
        ready.set()
        provisional_micro = 0
        shown = 0
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            now_ms = time.time() * 1000
            for tp, records in batches.items():
                for rec in records:
                    if tp == buckets:
                        # Provisional deltas count each event once (sealing comes L later).
                        if not rec.key.startswith(b"p|") or b'"AQ"' not in rec.value:
                            continue
                        m = decode_message(rec.value)
                        provisional_micro += sum(
                            b.country.get(PROBE_COUNTRY, 0) for _, _, b in m.entries
                        )
                        seen.sealed.append(
                            (float(rec.timestamp), now_ms, provisional_micro // PROBE_MICRO)
                        )
                    elif rec.key == PROBE_KEY:
                        value = orjson.loads(rec.value)["value"]
                        if value is not None and round(value) > shown:
                            shown = round(value)
                            seen.final.append((float(rec.timestamp), now_ms, shown))
    finally:
        await consumer.stop()


def first_reaching(steps: list[tuple[float, float, int]], n: int) -> tuple[float, float] | None:
    """(append, read) of the first step whose count reached ``n``."""
    for appended, read, count in steps:
        if count >= n:
            return appended, read
    return None


HOPS = (
    ("produce (acks=all)", "ingest to the probe's acknowledgement"),
    ("to the sealer's provisional message", "ingest to the sealer's append"),
    ("internal topic", "sealer's append to the observer's read"),
    ("to the finalizer's indicator record", "sealer's append to the finalizer's append"),
    ("indicators topic", "finalizer's append to the observer's read"),
    ("push server (fetch, coalescing, send)", "finalizer's append to the frame"),
)


def hop_table(
    sent: list[float], seen: Seen, frames: list[tuple[float, int]]
) -> list[dict[str, float]]:
    """Per probe: each hop's milliseconds (probes every stage saw only)."""
    rows = []
    for n in range(1, len(sent) + 1):
        sealed = first_reaching(seen.sealed, n)
        final = first_reaching(seen.final, n)
        frame = next((t for t, count in frames if count >= n), None)
        if sealed is None or final is None or frame is None or n > len(seen.acked):
            continue
        t0 = sent[n - 1]
        rows.append(
            {
                "ingest_ms": t0,
                "total": frame - t0,
                HOPS[0][0]: seen.acked[n - 1] - t0,
                HOPS[1][0]: sealed[0] - t0,
                HOPS[2][0]: sealed[1] - sealed[0],
                HOPS[3][0]: final[0] - sealed[0],
                HOPS[4][0]: final[1] - final[0],
                HOPS[5][0]: frame - final[0],
            }
        )
    return rows


def hop_summary(rows: list[dict[str, float]]) -> dict[str, object]:
    """Each hop's p50/p95/p99, and the mean of each hop over the slowest 2% of probes (what
    the p99 is made of)."""
    if not rows:
        return {}
    worst = sorted(rows, key=lambda r: r["total"])[-max(1, len(rows) // 50) :]
    return {
        "probes": len(rows),
        "percentiles_ms": {
            name: {
                q: round(percentile([r[name] for r in rows], p), 1)
                for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            }
            for name in ["total", *(h for h, _ in HOPS)]
        },
        "slowest_2pct_mean_ms": {
            name: round(sum(r[name] for r in worst) / len(worst), 1)
            for name in ["total", *(h for h, _ in HOPS)]
        },
        "meaning": dict(HOPS),
    }


async def probe_run(
    config: Config, web_port: int, seconds: float, hz: float, wire: dict[str, int], hops: bool
) -> tuple[list[float], int, int, dict[str, object]]:
    seen: list[tuple[float, int]] = []
    ready = asyncio.Event()
    watcher = asyncio.create_task(watch(f"ws://127.0.0.1:{web_port}/ws", seen, ready, wire))
    await asyncio.wait_for(ready.wait(), 60)
    along = Seen()
    observer = None
    if hops:
        observing = asyncio.Event()
        observer = asyncio.create_task(observe(config, along, observing))
        await asyncio.wait_for(observing.wait(), 60)
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
        # Each probe at a random moment of its slot: at fixed moments every probe would
        # meet the stages' timers at the same phase, and a run would measure that phase.
        phases = random.Random(14)
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(max(0.0, t0 + (n + phases.random()) / hz - time.monotonic()))
            n += 1
            now_ms = int(time.time() * 1000)
            key, value = probe_event(n, now_ms)
            sent.append(float(now_ms))
            await producer.send_and_wait(topic, value, key=key, timestamp_ms=now_ms)
            along.acked.append(time.time() * 1000)
        wire["counting"] = 0
        wire["seconds_x1000"] = round((time.monotonic() - t0) * 1000)
        # The last probes need a moment to show; the screen is expected to show them all.
        deadline = time.monotonic() + 10
        while (not seen or seen[-1][1] < n) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
        watcher.cancel()
        if observer is not None:
            observer.cancel()
    latencies: list[float] = []
    prev = 0
    for arrived, count in seen:
        for k in range(prev, min(count, len(sent))):
            latencies.append(arrived - sent[k])
        prev = max(prev, count)
    rows = hop_table(sent, along, seen) if hops else []
    return latencies, len(sent), prev, {**hop_summary(rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=10_000.0, help="load, events/s")
    parser.add_argument("--seconds", type=float, default=120.0, help="probing time")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before probing")
    parser.add_argument("--probe-hz", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=19494, help="local broker port")
    # The stages' intervals: shorter ones cut the latency and cost CPU (reported per service).
    # (Defaults: the services' own.)
    parser.add_argument("--seal-interval-ms", type=int, default=_DEFAULTS.seal_interval_ms)
    parser.add_argument(
        "--provisional-interval-ms", type=int, default=_DEFAULTS.provisional_interval_ms
    )
    parser.add_argument("--coalesce-hz", type=float, default=Timing().coalesce_hz)
    parser.add_argument(
        "--hops",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the internal and indicators topics for a per-hop breakdown",
    )
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
            latencies, probes, shown, breakdown = asyncio.run(
                probe_run(config, web_port, opts.seconds, opts.probe_hz, wire, opts.hops)
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
        "hops": breakdown,
    }
    save_report("e2e", report, hide=("hops",))
    print(json.dumps({k: v for k, v in breakdown.items() if k != "rows"}, indent=2))


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
