"""The live aggregator against the local broker on this machine.

    .venv/bin/python benchmarks/bench_aggregate.py [--rate 30000] [--minutes 5]
        [--processes 1] [--catchup-count 1000000]

Starts the project's local broker in a throwaway state folder (unless PULSEBOARD_BOOTSTRAP
points elsewhere), then, with every component a separate process as in production:

1. catch-up ceiling: `pulseboard produce --unpaced --count N` into fresh topics, then the
   aggregator(s) consume the backlog; reports events/s until all are read and sealed.
2. live: the aggregator(s) run while `pulseboard produce --rate R` publishes for --minutes;
   every few seconds the aggregators' /metrics are scraped (consumer lag of every partition,
   records consumed, final delay) and the CPU time of each process is read from /proc.
   "Flat" means the backlog does not grow: the least-squares slopes of the consumer lag and
   of produced-minus-consumed over the run (after the first 20 s) are below 1% of the rate,
   and the lag ends below two seconds' worth of events.

Results go to stdout and bench-results/aggregate.json."""

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
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    aiokafka_getmany_loop,
    beside,
    free_port,
    java_consumer_perf,
    machine,
    ratio,
    scrape,
    slope,
)
from pulseboard import localbroker  # noqa: E402
from pulseboard.cli_support import cluster_argv  # noqa: E402
from pulseboard.config import Config, config_from_env  # noqa: E402
from pulseboard.spec import TOPIC_FREIGHT, TOPIC_SECTOR  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402

CST = timezone(timedelta(hours=8))
TICKS = os.sysconf("SC_CLK_TCK")


def busy_start_today() -> str:
    """A start time earlier today (CST) where the daily rhythm runs at about its mean, so a
    paced run at --rate publishes about --rate events per second; recent enough that the
    broker's one-day retention keeps the records."""
    from producers.rhythm import freight_curve
    from pulseboard import packs

    curve = freight_curve(packs.load(packs.DEFAULT_PACK).time_zone)
    now = time.time() * 1000
    day = (int(now) + 8 * 3_600_000) // 86_400_000 * 86_400_000 - 8 * 3_600_000
    for d in (day, day - 86_400_000):
        for minute in range(6 * 60, 24 * 60):
            t = d + minute * 60_000
            if t > now - 600_000:
                break
            if 1.0 <= curve.at(t) <= 1.05 and curve.at(t + 120_000) >= curve.at(t):
                return datetime.fromtimestamp(t / 1000, tz=CST).isoformat()
    raise SystemExit("no start time at the mean rate found")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def broker_pid(config: Config) -> int | None:
    if not config.uses_local_broker:
        return None
    return localbroker.running_pid(localbroker.BrokerPaths.of(config.broker))


class Aggregators:
    def __init__(
        self, config: Config, env: dict[str, str], n: int, profile: Path | None = None
    ) -> None:
        self.ports = [free_port() for _ in range(n)]
        # With a profile the (first) aggregator runs under cProfile, which writes its
        # statistics there when the service exits after SIGTERM.
        prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    *(prof if i == 0 else []),
                    "-m",
                    "pulseboard.cli",
                    "aggregate",
                    *cluster_argv(config),
                    "--metrics-port",
                    str(port),
                    "--log-level",
                    "WARNING",
                ],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
            )
            for i, port in enumerate(self.ports)
        ]

    def metrics(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for port in self.ports:
            for k, v in scrape(port).items():
                total[k] = total.get(k, 0.0) + v
        return total

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def produce(config: Config, env: dict[str, str], *argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pulseboard.cli", "produce", *cluster_argv(config), *argv],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def catchup(
    config: Config,
    env: dict[str, str],
    count: int,
    processes: int,
    invalid: float,
    profile: Path | None = None,
) -> dict:
    p = produce(
        config,
        env,
        "--unpaced",
        "--count",
        str(count),
        "--metrics-port",
        "0",
        "--rate",
        "30000",
        "--invalid-fraction",
        str(invalid),
    )
    _, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"produce failed: {err.decode()}")
    # The ceilings read the very backlog the aggregator then reads (markers included).
    k = config.kafka
    topics = {
        k.topic(TOPIC_FREIGHT): k.freight_partitions,
        k.topic(TOPIC_SECTOR): k.sector_partitions,
    }
    bare = asyncio.run(aiokafka_getmany_loop(config, topics))
    print(f"aiokafka getmany + orjson.loads: {bare}", flush=True)
    java = java_consumer_perf(
        config.broker, config.bootstrap_servers, list(topics), bare["records"]
    )
    print(f"Java ConsumerPerformance: {java}", flush=True)
    aggs = Aggregators(config, env, processes, profile)
    started = time.monotonic()
    cpu0 = aggs.cpu()
    try:
        while time.monotonic() - started < 600:
            time.sleep(0.5)
            m = aggs.metrics()
            if m.get("pulseboard_aggregator_records_consumed_total", 0) >= count:
                break
        seconds = time.monotonic() - started
        cpu = aggs.cpu() - cpu0
    finally:
        aggs.stop()
    per_s = round(count / seconds)
    print(
        beside(
            "aggregate catch-up",
            {"events_per_s": per_s, "cpu_us_per_event": cpu / count * 1e6},
            {"Java ConsumerPerformance": java, "aiokafka getmany+orjson": bare},
        ),
        flush=True,
    )
    return {
        "events": count,
        "backlog_records_incl_markers": bare["records"],
        "ceilings": {"java_consumer_perf": java, "aiokafka_getmany_orjson": bare},
        "ratios": {
            "to_java": ratio(per_s, java["events_per_s"]),
            "to_aiokafka_getmany_orjson": ratio(per_s, bare["events_per_s"]),
        },
        "invalid_fraction": invalid,
        "processes": processes,
        "seconds_incl_startup": round(seconds, 2),
        "events_per_s": per_s,
        "aggregator_cpu_s": round(cpu, 2),
        "aggregator_cpu_us_per_event": round(cpu / count * 1e6, 2),
    }


def live(
    config: Config,
    env: dict[str, str],
    rate: float,
    minutes: float,
    processes: int,
    sample_s: float,
) -> dict:
    aggs = Aggregators(config, env, processes)
    time.sleep(3)  # join the groups before the data flows
    producer_port = free_port()
    seconds = minutes * 60
    prod = produce(
        config,
        env,
        "--rate",
        str(rate),
        "--duration",
        str(seconds),
        "--start",
        busy_start_today(),
        "--metrics-port",
        str(producer_port),
    )
    bpid = broker_pid(config)
    started = time.monotonic()
    cpu0 = (aggs.cpu(), cpu_seconds(prod.pid), cpu_seconds(bpid) if bpid else 0.0)
    samples = []
    prod_cpu = 0.0
    try:
        while prod.poll() is None:
            time.sleep(sample_s)
            t = time.monotonic() - started
            m = aggs.metrics()
            sent = scrape(producer_port).get("pulseboard_producer_events_total", 0.0)
            if prod.poll() is not None:
                break  # its metrics are gone with it
            prod_cpu = cpu_seconds(prod.pid) - cpu0[1]
            samples.append(
                {
                    "t_s": round(t, 1),
                    "produced": int(sent),
                    "consumed": int(m.get("pulseboard_aggregator_records_consumed_total", 0)),
                    "lag": int(m.get("pulseboard_aggregator_consumer_lag_records", 0)),
                    # End to end: published but not yet read (the two scrapes are ms apart).
                    "behind": max(
                        0, int(sent - m.get("pulseboard_aggregator_records_consumed_total", 0))
                    ),
                    "final_delay_s": round(
                        m.get("pulseboard_aggregator_final_delay_seconds", 0), 1
                    ),
                    "final_records": int(
                        m.get("pulseboard_aggregator_indicator_records_published_total", 0)
                    ),
                }
            )
            print(json.dumps(samples[-1]), flush=True)
        elapsed = time.monotonic() - started
        cpu = (
            aggs.cpu() - cpu0[0],
            prod_cpu,
            (cpu_seconds(bpid) - cpu0[2]) if bpid else None,
        )
        _, err = prod.communicate()
        time.sleep(3)
        end = aggs.metrics()
    finally:
        aggs.stop()
    steady = [s for s in samples if s["t_s"] >= 20]  # after the first 20 s
    lag_slope = slope([(s["t_s"], s["lag"]) for s in steady])
    behind_slope = slope([(s["t_s"], s["behind"]) for s in steady])
    consumed = end.get("pulseboard_aggregator_records_consumed_total", 0)
    produced = max((s["produced"] for s in samples), default=0)
    produced_t = max((s["t_s"] for s in samples if s["produced"] == produced), default=elapsed)
    return {
        "target_rate": rate,
        "minutes": minutes,
        "processes": processes,
        "producer": err.decode().strip().splitlines()[-1] if err else "",
        "produced_per_s": round(produced / produced_t) if produced_t else 0,
        "consumed_per_s": round(consumed / elapsed) if elapsed else 0,
        "lag_max": max((s["lag"] for s in steady), default=0),
        "lag_last": samples[-1]["lag"] if samples else None,
        "lag_slope_records_per_s": round(lag_slope, 1),
        "behind_max": max((s["behind"] for s in steady), default=0),
        "behind_slope_records_per_s": round(behind_slope, 1),
        "final_delay_s_max": max((s["final_delay_s"] for s in steady), default=0),
        "flat": abs(lag_slope) < 0.01 * rate
        and abs(behind_slope) < 0.01 * rate
        and (samples[-1]["lag"] if samples else 0) < 2 * rate,
        "cpu_share_of_one_core": {
            "aggregators": round(cpu[0] / elapsed, 2),
            "producer": round(cpu[1] / produced_t, 2) if produced_t else None,
            "broker": None if cpu[2] is None else round(cpu[2] / elapsed, 2),
        },
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=30_000.0)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=1, help="aggregator processes")
    parser.add_argument(
        "--catchup-count",
        type=int,
        default=1_000_000,
        help="events for the catch-up ceiling (0 skips it)",
    )
    parser.add_argument(
        "--invalid-fraction",
        type=float,
        default=0.005,
        help="share of the catch-up records that are invalid (20 kinds of fault, DLQ'd)",
    )
    parser.add_argument("--no-live", action="store_true", help="only the catch-up ceiling")
    parser.add_argument(
        "--profile", type=Path, help="cProfile the catch-up's aggregator into this file"
    )
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=19492, help="local broker port")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": str(opts.port)}
        config = config_from_env(env)
        if config.uses_local_broker:
            localbroker.start(config.broker)
        try:
            report: dict = {
                "machine": machine(os.getloadavg()),
                "conditions": "broker, producer and aggregator(s) on the same machine; "
                "6 freight + 3 sector partitions; L=30 s",
            }
            if opts.catchup_count:
                cfg = replace(config, kafka=replace(config.kafka, topic_prefix="catchup."))
                asyncio.run(ensure_topics(cfg))
                report["catchup"] = catchup(
                    cfg,
                    env,
                    opts.catchup_count,
                    opts.processes,
                    opts.invalid_fraction,
                    opts.profile.resolve() if opts.profile else None,
                )
                print(json.dumps(report["catchup"]), flush=True)
            if not opts.no_live:
                cfg = replace(config, kafka=replace(config.kafka, topic_prefix="live."))
                asyncio.run(ensure_topics(cfg))
                report["live"] = live(
                    cfg, env, opts.rate, opts.minutes, opts.processes, opts.sample_s
                )
        finally:
            if config.uses_local_broker:
                localbroker.stop(config.broker)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "aggregate.json").write_text(json.dumps(report, indent=2))
    if "live" in report:
        report = {**report, "live": {k: v for k, v in report["live"].items() if k != "samples"}}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
