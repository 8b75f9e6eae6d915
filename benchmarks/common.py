"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from pulseboard import localbroker
from pulseboard.config import Config, LocalBrokerSettings
from pulseboard.kafka_client import kafka_consumer, kafka_producer

RESULTS = Path(__file__).resolve().parent.parent / "bench-results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x: how fast a backlog grows (0 when it is flat)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def machine(load_avg_at_start: tuple[float, float, float], **extra: object) -> dict:
    """What a result needs to be read: the machine and how busy it was when the run began."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **extra,
        "load_avg_at_start": load_avg_at_start,
    }


def save_report(name: str, report: dict, *, hide: tuple[str, ...] = ()) -> None:
    """Write ``bench-results/<name>.json`` whole, and print it without the ``hide`` keys
    (long sample lists)."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k not in hide}, indent=2))


def scrape(port: int) -> dict[str, float]:
    """A service's /metrics on 127.0.0.1: the sum of every pulseboard_* sample by metric
    name (labels summed over); empty if it does not answer."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.decode().splitlines():
        if line.startswith("pulseboard_"):
            name, _, value = line.rpartition(" ")
            key = name.split("{")[0]
            out[key] = out.get(key, 0.0) + float(value)
    return out


# --- Ceilings measured in the same run ---------------------------------------------------
# A figure on a shared two-core machine means little alone; beside it every benchmark puts
# what Kafka's own Java tools and a bare aiokafka loop reach on the same broker in the same
# run, and the ratio. The Java tools come from org.apache.kafka:kafka-tools at the broker's
# version, resolved with Maven without its transitive dependencies: the broker's lib
# already has everything they import, so both share one classpath.

TOOLS_ARTIFACT = "org.apache.kafka:kafka-tools"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
# The producer settings pulseboard's own batches are published with (producers/publisher.py).
PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "compression.type": "lz4",
    "linger.ms": "5",
    "batch.size": str(512 * 1024),
}


def tools_classpath(broker: LocalBrokerSettings) -> str:
    """The broker's lib plus kafka-tools beside it (resolved with Maven once per version)."""
    lib = localbroker.ensure_artifacts(broker)
    version = localbroker.kafka_version()
    tools = lib.with_name("tools")
    jar = tools / f"kafka-tools-{version}.jar"
    if not jar.is_file():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise SystemExit("no `mvn` on PATH: install Maven (apt install maven)")
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                f"{localbroker.DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact={TOOLS_ARTIFACT}:{version}",
                f"-DoutputDirectory={tools}",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not jar.is_file():
            raise SystemExit(f"Maven could not resolve {TOOLS_ARTIFACT}:{version}:\n{result}")
    return f"{tools / '*'}:{lib / '*'}"


def simulated_values(count: int, *, seed: int = 1) -> list[bytes]:
    """``count`` record values from the project's simulation (its event mix and sizes), so
    the ceilings compress and decode what pulseboard publishes rather than random bytes."""
    from producers.simulation import SimConfig, Simulation

    sim = Simulation(SimConfig(seed=seed, start_ms=1_795_140_000_000, events_per_sim_second=30e3))
    out: list[bytes] = []
    while len(out) < count:
        out.extend(r.value for r in sim.take(min(50_000, count - len(out))))
    return out


def java_producer_perf(
    broker: LocalBrokerSettings, bootstrap: str, topic: str, payloads: Path, records: int
) -> dict[str, float]:
    """Kafka's ProducerPerformance, unthrottled, with pulseboard's producer settings; the
    values are drawn at random from the lines of ``payloads``."""
    props = [f"{k}={v}" for k, v in PRODUCER_PROPS.items()]
    out, cpu = _java(
        broker,
        PRODUCER_PERF,
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--throughput",
        "-1",
        "--payload-file",
        str(payloads),
        "--command-property",
        *props,
    )
    # Every 5 s and at the end: "1000000 records sent, 428000.0 records/sec (73.42 MB/sec),
    # 5.1 ms avg latency, ..."; the last line is the whole run's.
    matches = re.findall(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", out)
    match = matches[-1] if matches else None
    if match is None or int(match[0]) != records:
        raise SystemExit(f"ProducerPerformance gave no summary:\n{out[-2000:]}")
    return {
        "records": int(match[0]),
        "events_per_s": round(float(match[1])),
        "mb_per_s": float(match[2]),
        "cpu_us_per_event": round(cpu / records * 1e6, 2),  # JVM start and JIT included
    }


def java_consumer_perf(
    broker: LocalBrokerSettings, bootstrap: str, topics: list[str], records: int
) -> dict[str, float]:
    """Kafka's ConsumerPerformance reading ``records`` from the start of ``topics`` in a
    fresh group: events/s including the group join, and over the fetch time alone."""
    out, cpu = _java(
        broker,
        CONSUMER_PERF,
        "--bootstrap-server",
        bootstrap,
        "--include",
        "|".join(re.escape(t) for t in topics),
        "--num-records",
        str(records),
        "--group",
        f"ceiling-{time.monotonic_ns()}",
        "--timeout",
        "30000",
        "--hide-header",
    )
    # start, end, MB, MB/s, records, records/s, rebalance ms, fetch ms, fetch MB/s, fetch rec/s
    fields = [f.strip() for f in out.strip().splitlines()[-1].split(",")]
    try:
        consumed, per_s, fetch_per_s = int(fields[4]), float(fields[5]), float(fields[9])
    except (IndexError, ValueError):
        raise SystemExit(f"ConsumerPerformance gave no summary:\n{out[-2000:]}") from None
    return {
        "records": consumed,
        "events_per_s": round(per_s),
        "events_per_s_fetch_only": round(fetch_per_s),
        "cpu_us_per_event": round(cpu / consumed * 1e6, 2),  # JVM start and JIT included
    }


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _java(broker: LocalBrokerSettings, main_class: str, *argv: str) -> tuple[str, float]:
    """The tool's output and the CPU seconds its JVM used (all its threads)."""
    cpu = children_cpu_s()
    result = subprocess.run(
        ["java", "-Xmx512m", "-cp", tools_classpath(broker), main_class, *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise SystemExit(f"{main_class} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout, children_cpu_s() - cpu


async def aiokafka_send_loop(config: Config, topic: str, values: list[bytes], records: int) -> dict:
    """The bare aiokafka floor for producing: ``send()`` per record with pulseboard's
    producer settings (no simulation, no batching of our own), then flush."""
    producer = kafka_producer(
        config,
        "ceiling-producer",
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        n = len(values)
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(records):
            await producer.send(topic, values[i % n])
        await producer.flush()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "events_per_s": round(records / seconds),
        "cpu_us_per_event": round(cpu / records * 1e6, 2),
    }


async def aiokafka_getmany_loop(config: Config, topics: dict[str, int]) -> dict:
    """The bare aiokafka floor for consuming: every partition of ``topics`` (name: partition
    count) from the start
    to its end offset, ``getmany`` and ``orjson.loads`` of each value; no group."""
    import orjson
    from aiokafka import TopicPartition

    consumer = kafka_consumer(config, "ceiling-consumer", enable_auto_commit=False)
    started, cpu = time.perf_counter(), time.process_time()
    await consumer.start()
    records = decoded = 0
    try:
        parts = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        left = {tp for tp in parts if ends[tp] > 0}
        loads = orjson.loads
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000, max_records=100_000)
            for tp, batch in batches.items():
                for record in batch:
                    try:
                        loads(record.value)
                        decoded += 1
                    except orjson.JSONDecodeError:
                        pass
                records += len(batch)
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await consumer.stop()
    return {
        "records": records,
        "decoded": decoded,
        "seconds": round(seconds, 2),
        "events_per_s": round(records / seconds),
        "cpu_us_per_event": round(cpu / records * 1e6, 2),
    }


def ratio(figure: float, ceiling: float) -> float | None:
    return round(figure / ceiling, 3) if ceiling else None


def beside(name: str, figure: dict, ceilings: dict[str, dict]) -> str:
    """One line: the figure (events/s and CPU µs per event), each ceiling of the same run
    and the figure's ratios to it (events/s: figure/ceiling; CPU: ceiling/figure, so that
    both read "share of the ceiling")."""

    def cpu(d: dict) -> str:
        return f", {d['cpu_us_per_event']:.2f} µs CPU/event" if d.get("cpu_us_per_event") else ""

    parts = [f"{name}: {figure['events_per_s']:,.0f} events/s{cpu(figure)}"]
    for k, c in ceilings.items():
        share = figure["events_per_s"] / c["events_per_s"]
        text = f"{k} {c['events_per_s']:,.0f}{cpu(c)} ({share:.2f}x"
        if c.get("cpu_us_per_event") and figure.get("cpu_us_per_event"):
            text += f"; CPU {c['cpu_us_per_event'] / figure['cpu_us_per_event']:.2f}x"
        parts.append(text + ")")
    return " | ".join(parts)
