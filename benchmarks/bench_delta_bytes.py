"""Bytes a wall receives: the push server's deltas for an indicator stream, in process.

    .venv/bin/python benchmarks/bench_delta_bytes.py [--seconds 120] [--compare-tree DIR]

The fake aggregator's stream (web/fake_feed.py: every indicator of the wall, values on
bounded random walks of up to ±3% a step, 4 steps a second) goes through the push server's
``Hub`` as the server feeds it, one delta per step; reported: bytes per delta, values per
delta and bytes per wall per second (what every connected wall receives). With
--compare-tree the same stream also goes through that source tree's ``Hub`` (e.g. an
exported older commit) in a child process, for a before/after in one run.

Results go to stdout and bench-results/delta_bytes.json."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(seconds: float, hz: float) -> dict:
    """In this process, with whichever ``web`` package is first on sys.path."""
    from web.fake_feed import FakeIndicators, encode, indicator_key
    from web.indicators import parse_record
    from web.metadata import ClientTiming, build_meta
    from web.protocol import Hub, Timing

    timing = Timing(coalesce_hz=hz)
    hub = Hub(build_meta(ClientTiming(hz, 5.0, 10.0)), timing)
    feed = FakeIndicators(seed=1, final_every=4)
    t0 = 1_795_140_000

    def feed_records(records: list[dict]) -> None:
        for r in records:
            hub.ingest(parse_record(indicator_key(r["name"], r["key"]), encode(r)), 0.0, 0)

    feed_records(feed.all_records(t0))
    hub.mark_ready()
    steps = int(seconds * hz)
    total = values = records = 0
    for i in range(1, steps + 1):
        step = feed.step(t0 + i)
        records += len(step)
        feed_records(step)
        delta = hub.flush(now=i / hz, wall_ms=1_795_140_000_000 + i * 250)
        if delta is not None:
            # what a client receives: '{"seq":N' + the shared tail
            total += len(delta.tail) + len(b'{"seq":%d' % (i + 1))
            values += delta.changes
    return {
        "steps": steps,
        "records_per_step": round(records / steps, 1),
        "values_per_delta": round(values / steps, 1),
        "bytes_per_delta": round(total / steps),
        "bytes_per_wall_per_s": round(total / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--hz", type=float, default=4.0, help="deltas a second")
    parser.add_argument("--compare-tree", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        print(json.dumps(measure(opts.seconds, opts.hz)))
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import machine, save_report

    report: dict = {
        "machine": machine(os.getloadavg()),
        "conditions": f"web/fake_feed.py seed 1, {opts.hz:g} steps and deltas a second, "
        f"{opts.seconds:g} s, in process",
        "this": measure(opts.seconds, opts.hz),
    }
    if opts.compare_tree:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--seconds", str(opts.seconds), "--hz",
             str(opts.hz)],
            env={**os.environ, "PYTHONPATH": str(opts.compare_tree)},
            cwd=opts.compare_tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
        report["compared"] = {"tree": str(opts.compare_tree), **json.loads(out)}
    save_report("delta_bytes", report)


if __name__ == "__main__":
    main()
