"""Producer throughput against the local broker on this machine.

    .venv/bin/python benchmarks/bench_produce.py [--seconds 60] [--rate 50000]

Starts the project's local broker in a throwaway state folder (unless PULSEBOARD_BOOTSTRAP
points elsewhere), then runs `pulseboard produce` twice as a separate process, as a user
would: once unpaced (the ceiling) and once paced at --rate for --seconds (must keep up).
Results go to stdout and bench-results/produce.json."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import save_report  # noqa: E402
from pulseboard import localbroker  # noqa: E402
from pulseboard.config import config_from_env  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402


def busy_start(day_ms: int) -> str:
    """A start time where the daily rhythm runs at its mean (factor ~1), so a paced run at
    --rate publishes about --rate events per second."""
    from producers.rhythm import freight_curve

    curve = freight_curve()
    for minute in range(6 * 60, 24 * 60):
        t = day_ms + minute * 60_000
        if 1.0 <= curve.at(t) <= 1.05 and curve.at(t + 120_000) >= curve.at(t):
            return datetime.fromtimestamp(t / 1000, tz=CST).isoformat()
    raise SystemExit("no start time at the mean rate found")


CST = timezone(timedelta(hours=8))
RATE_LINE = re.compile(r"published (\d+) of (\d+) records .* in ([\d.]+) s")


def produce(env: dict[str, str], *argv: str) -> dict[str, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pulseboard.cli", "produce", "--metrics-port", "0", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
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
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50_000.0)
    parser.add_argument("--burst-count", type=int, default=1_000_000)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": "19392"}
        config = config_from_env(env)
        if config.uses_local_broker:
            localbroker.start(config.broker)
        asyncio.run(ensure_topics(config))
        try:
            burst = produce(
                env, "--unpaced", "--count", str(opts.burst_count), "--rate", str(opts.rate)
            )
            start = busy_start(1_795_104_000_000)  # 2026-11-20 00:00 CST
            paced = produce(
                env, "--rate", str(opts.rate), "--duration", str(opts.seconds), "--start", start
            )
        finally:
            if config.uses_local_broker:
                localbroker.stop(config.broker)
    paced["target_events_per_s"] = opts.rate
    paced["start"] = start
    paced["kept_up"] = paced["events_per_s"] >= 0.98 * opts.rate
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "conditions": "broker on the same machine (1 GiB heap), lz4, acks=all, idempotent, "
        "6 freight + 3 sector partitions",
        "unpaced": burst,
        "paced": paced,
    }
    save_report("produce", report)


if __name__ == "__main__":
    main()
