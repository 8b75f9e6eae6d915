"""Backfill time per simulated day, on one core and on two.

    .venv/bin/python benchmarks/bench_backfill.py [--rate 1000] [--skip-two]

Starts the project's local broker in a throwaway state folder, then runs
`pulseboard history backfill` (what `pulseboard up --backfill` runs) twice into topics of
their own: one day with one process, then two days with two processes. Each day is the
simulation at --rate events per simulated second (default: the default rate) through the
offline engine, then stored in the history topic. Printed beside it: the same engine's
events/s, so the time per day reads as events per day / events per second.

Results go to stdout and bench-results/backfill.json."""

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine, save_report  # noqa: E402
from pulseboard import localbroker  # noqa: E402
from pulseboard.config import config_from_env  # noqa: E402
from pulseboard.topics import ensure_topics  # noqa: E402


def run(env: dict[str, str], prefix: str, days: str, workers: int, rate: float) -> dict:
    argv = [sys.executable, "-m", "pulseboard.cli", "history", "backfill", "--topic-prefix"]
    argv += [prefix, "--days", days, "--workers", str(workers), "--rate", str(rate)]
    started = time.monotonic()
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.monotonic() - started
    print(done.stdout, done.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"backfill failed: {done.stderr}")
    per_day = [
        {"day": m[0], "events": int(m[1].replace(",", "")), "records": int(m[2].replace(",", "")),
         "compute_s": int(m[3]), "store_s": int(m[4]), "cpu_s": int(m[5])}
        for m in re.findall(
            r"backfill: (\S+) done: ([\d,]+) events -> ([\d,]+) final records "
            r"\(computed in (\d+) s, stored in (\d+) s, (\d+) CPU s\)",
            done.stdout,
        )
    ]  # fmt: skip
    n = len(per_day)
    return {
        "workers": workers,
        "days": n,
        "wall_s": round(wall, 1),
        "s_per_day": round(wall / n, 1),
        "per_day": per_day,
        "events_per_s": round(sum(d["events"] for d in per_day) / wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--skip-two", action="store_true")
    parser.add_argument("--port", type=int, default=19592, help="local broker port")
    opts = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {"PULSEBOARD_STATE_DIR": state, "PULSEBOARD_KAFKA_PORT": str(opts.port)}
        config = config_from_env(env)
        localbroker.start(config.broker)
        try:
            report: dict = {
                "machine": machine(load),
                "rate": opts.rate,
                "conditions": "broker on the same machine; days of 86,400 s plus 1 h warm-up",
            }
            for prefix in ("one.", "two."):
                cfg = replace(config, kafka=replace(config.kafka, topic_prefix=prefix))
                asyncio.run(ensure_topics(cfg))
            report["one_process"] = run(env, "one.", "1", 1, opts.rate)
            if not opts.skip_two:
                report["two_processes"] = run(env, "two.", "2,3", 2, opts.rate)
        finally:
            localbroker.stop(config.broker)
    save_report("backfill", report)


if __name__ == "__main__":
    main()
