"""A full garbage collection over the aggregator's window state.

    .venv/bin/python benchmarks/bench_gc.py [--seconds 3600] [--rate 10000] [--tree PATH]

Feeds ``--seconds`` of the simulation at ``--rate`` events/s (its busiest hours run at about
the mean rate) through the engine (the same ``Windows`` the finalizer keeps), asks for
provisional values so the live copy of the windows exists too, drops the simulation, then
times full ``gc.collect()`` three times. The ceiling beside it: the same collection in this
process before any state was built. ``--tree`` measures another checkout's code (e.g. main's)
the same way. Prints the pauses and the tracked-object counts."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path


def full_collection_ms(repeat: int = 3) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        gc.collect()
        out.append(round((time.perf_counter() - t) * 1000, 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=int, default=3600, help="seconds of events (default 3600)")
    ap.add_argument("--rate", type=float, default=10_000, help="mean events/s (default 10000)")
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    args = ap.parse_args()
    sys.path.insert(0, str(args.tree))
    from consumers.engine import Engine
    from consumers.validation import Invalid, Validator
    from producers.simulation import SimConfig, Simulation
    from pulseboard import packs

    empty_ms = full_collection_ms()
    empty_tracked = len(gc.get_objects())
    start = 1_780_000_000_000 - 1_780_000_000_000 % 86_400_000 + 2 * 3_600_000  # 10:00 CST
    sim = Simulation(SimConfig(start_ms=start, events_per_sim_second=args.rate))
    validate = Validator(packs.load(packs.DEFAULT_PACK)).validate
    engine = Engine()
    events = 0
    t0 = time.perf_counter()
    for k in range(1, args.seconds + 1):
        recs = sim.advance(start + k * 1000)
        for r in recs:
            ev = validate(r.value)
            if type(ev) is not Invalid:
                engine.feed(ev, r.ingest_ts, r.topic)  # type: ignore[arg-type]
        events += len(recs)
        engine.advance_watermark(start + k * 1000)
        if k % 10 == 0:
            engine.provisional(k + start // 1000)
    build_s = time.perf_counter() - t0
    del sim, recs
    full_ms = full_collection_ms()
    tracked = len(gc.get_objects())
    print(f"tree {args.tree}, load average {os.getloadavg()}")
    rate = f"{args.rate:,.0f}"
    print(f"{events:,} events over {args.seconds} s at ~{rate}/s, built in {build_s:.1f} s")
    print(f"full gc.collect(), no window state (ceiling): {empty_ms} ms, {empty_tracked:,} tracked")
    print(f"full gc.collect(), with the window state:      {full_ms} ms, {tracked:,} tracked")


if __name__ == "__main__":
    main()
