"""Producer throughput against the local broker on this machine, beside its ceilings.

    .venv/bin/python benchmarks/bench_produce.py [--seconds 60] [--rate 50000]
        [--burst-count 1000000] [--ceiling-count 2000000] [--no-paced]

Starts the project's local broker in a throwaway state folder (unless PULSEBOARD_BOOTSTRAP
points elsewhere), then in the same run:

1. the ceilings: Kafka's Java ProducerPerformance and a bare aiokafka ``send()`` loop, both
   with pulseboard's producer settings and values from its simulation, into a topic with
   the freight topic's partitions;
2. `pulseboard produce --unpaced --count N` as a separate process, as a user would
   (simulation included), printed beside both ceilings with the ratios;
3. `pulseboard produce` paced at --rate for --seconds (must keep up).

Results go to stdout and bench-results/produce.json."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
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
    PRODUCER_PROPS,
    aiokafka_send_loop,
    beside,
    children_cpu_s,
    java_producer_perf,
    machine,
    ratio,
    save_report,
    simulated_values,
)
from pulseboard import localbroker  # noqa: E402
from pulseboard.config import config_from_env  # noqa: E402
from pulseboard.spec import TOPIC_FREIGHT  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402


def busy_start(day_ms: int) -> str:
    """A start time where the daily rhythm runs at its mean (factor ~1), so a paced run at
    --rate publishes about --rate events per second."""
    from producers.rhythm import freight_curve
    from pulseboard import packs

    curve = freight_curve(packs.load(packs.DEFAULT_PACK).time_zone)
    for minute in range(6 * 60, 24 * 60):
        t = day_ms + minute * 60_000
        if 1.0 <= curve.at(t) <= 1.05 and curve.at(t + 120_000) >= curve.at(t):
            return datetime.fromtimestamp(t / 1000, tz=CST).isoformat()
    raise SystemExit("no start time at the mean rate found")


CST = timezone(timedelta(hours=8))
RATE_LINE = re.compile(r"published (\d+) of (\d+) records .* in ([\d.]+) s")


def produce(env: dict[str, str], *argv: str, tree: Path | None = None) -> dict[str, float]:
    """`pulseboard produce` as its own process; ``tree``: run that source tree's code instead
    (e.g. an exported older commit, with this environment's packages)."""
    started, cpu = time.monotonic(), children_cpu_s()
    result = subprocess.run(
        [sys.executable, "-m", "pulseboard.cli", "produce", "--metrics-port", "0", *argv],
        env={**os.environ, **env, **({"PYTHONPATH": str(tree)} if tree else {})},
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = time.monotonic() - started, children_cpu_s() - cpu
    match = RATE_LINE.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"produce failed ({result.returncode}):\n{result.stderr}")
    acked, sent, seconds = int(match[1]), int(match[2]), float(match[3])
    return {
        "acked": acked,
        "sent": sent,
        "seconds": seconds,
        "events_per_s": acked / seconds,
        "process_wall_s": wall,
        # the whole process: start, simulation, connection and flush included
        "cpu_us_per_event": round(cpu / acked * 1e6, 2) if acked else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50_000.0)
    parser.add_argument("--burst-count", type=int, default=1_000_000)
    parser.add_argument("--ceiling-count", type=int, default=2_000_000)
    parser.add_argument("--no-paced", action="store_true", help="skip the paced run")
    parser.add_argument(
        "--compare-tree",
        type=Path,
        help="a source tree (e.g. `git archive COMMIT | tar -x -C DIR`) whose produce runs "
        "unpaced alternately with this one's, --repeat times each",
    )
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()

    report: dict = {
        "machine": machine(os.getloadavg()),
        "conditions": "broker on the same machine (1 GiB heap), lz4, acks=all, idempotent, "
        "6 freight + 3 sector partitions; ceilings into a 6-partition topic with the same "
        f"producer settings {PRODUCER_PROPS}, values from the simulation",
    }
    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": "19392"}
        config = config_from_env(env)
        if config.uses_local_broker:
            localbroker.start(config.broker)
        asyncio.run(ensure_topics(config))
        ceiling = replace(config, kafka=replace(config.kafka, topic_prefix="ceiling."))
        asyncio.run(ensure_topics(ceiling))
        java_cfg = replace(config, kafka=replace(config.kafka, topic_prefix="java."))
        asyncio.run(ensure_topics(java_cfg))
        try:
            values = simulated_values(50_000)
            payloads = Path(state) / "payloads.txt"
            payloads.write_bytes(b"\n".join(values) + b"\n")
            java = java_producer_perf(
                config.broker,
                config.bootstrap_servers,
                java_cfg.kafka.topic(TOPIC_FREIGHT),
                payloads,
                opts.ceiling_count,
            )
            print(f"Java ProducerPerformance: {java}", flush=True)
            bare = asyncio.run(
                aiokafka_send_loop(
                    config, ceiling.kafka.topic(TOPIC_FREIGHT), values, opts.ceiling_count // 4
                )
            )
            print(f"aiokafka send loop: {bare}", flush=True)
            burst = produce(
                env, "--unpaced", "--count", str(opts.burst_count), "--rate", str(opts.rate)
            )
            report["unpaced"] = burst
            report["ceilings"] = {"java_producer_perf": java, "aiokafka_send_loop": bare}
            report["ratios"] = {
                "to_java": ratio(burst["events_per_s"], java["events_per_s"]),
                "to_aiokafka_send_loop": ratio(burst["events_per_s"], bare["events_per_s"]),
            }
            if opts.compare_tree:
                argv = ("--unpaced", "--count", str(opts.burst_count), "--rate", str(opts.rate))
                runs: dict[str, list] = {"this": [], "compared": []}
                for _ in range(opts.repeat):
                    runs["compared"].append(produce(env, *argv, tree=opts.compare_tree))
                    runs["this"].append(produce(env, *argv))
                    print(runs["compared"][-1], runs["this"][-1], flush=True)
                report["alternating"] = {"compared_tree": str(opts.compare_tree), **runs}
            if not opts.no_paced:
                start = busy_start(1_795_104_000_000)  # 2026-11-20 00:00 CST
                paced = produce(
                    env, "--rate", str(opts.rate), "--duration", str(opts.seconds), "--start", start
                )
                paced["target_events_per_s"] = opts.rate
                paced["start"] = start
                paced["kept_up"] = paced["events_per_s"] >= 0.98 * opts.rate
                report["paced"] = paced
        finally:
            if config.uses_local_broker:
                localbroker.stop(config.broker)
    save_report("produce", report)
    print(
        beside(
            "produce --unpaced",
            burst,
            {"Java ProducerPerformance": java, "aiokafka send loop": bare},
        )
    )


if __name__ == "__main__":
    main()
