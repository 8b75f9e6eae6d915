"""When a corridor closure shows in the shipments: the minutes after a closure starts.

    .venv/bin/python benchmarks/closure_onset.py [--seed 11] [--at 12:00] [CORRIDOR ...]

A closure stops trips from setting off on the corridor, but a truck already at the dock
when it starts is loaded to the end: its waybills are scanned one by one, 2-20 s apart
(producers/fleet.py), and each is a ``shipment`` event on the corridor. So the corridor's
shipments fall over the first minutes instead of stopping at once, and no detector that
reads them can call the closure out before they do. For each corridor (the simulation of
benchmarks/anomaly_days.py, an hour of traffic before the closure; by default the hour's
four busiest corridors) this prints the shipments of each minute from 5 minutes before the
closure to 7 after, and how long after the closure the last one came.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.anomaly_days import sim_config  # noqa: E402
from producers.incidents import Incident  # noqa: E402
from producers.simulation import Simulation  # noqa: E402

DAY_MS = 1_796_227_200_000  # 2026-12-03 00:00 CST
BEFORE_MIN, AFTER_MIN = 5, 7


def busiest(seed: int, closes_ms: int, n: int) -> list[str]:
    """The ``n`` corridors with the most shipments in the hour before ``closes_ms``."""
    sim = Simulation(sim_config(seed, closes_ms - 3_600_000, ()))
    counts: Counter[str] = Counter()
    for rec in sim.advance(closes_ms):
        if rec.kind == "shipment":
            ev = orjson.loads(rec.value)
            counts[f"{ev['origin']}>{ev['dest']}"] += 1
    return [corridor for corridor, _ in counts.most_common(n)]


def onset(seed: int, corridor: str, closes_ms: int) -> tuple[list[int], float | None]:
    """(shipments on ``corridor`` in each minute from BEFORE_MIN before ``closes_ms`` to
    AFTER_MIN after, seconds from the closure to the last shipment on it or None)."""
    start_ms = closes_ms - 3_600_000
    closure = Incident("corridor_closure", corridor, closes_ms, closes_ms + 3_600_000)
    sim = Simulation(sim_config(seed, start_ms, (closure,)))
    per_minute: Counter[int] = Counter()
    last_ms: int | None = None
    for rec in sim.advance(closes_ms + (AFTER_MIN + 1) * 60_000):
        if rec.kind != "shipment":
            continue
        ev = orjson.loads(rec.value)
        if f"{ev['origin']}>{ev['dest']}" != corridor:
            continue
        per_minute[(ev["ts"] - closes_ms) // 60_000] += 1
        if ev["ts"] >= closes_ms:
            last_ms = ev["ts"]
    minutes = [per_minute[m] for m in range(-BEFORE_MIN, AFTER_MIN + 1)]
    return minutes, None if last_ms is None else (last_ms - closes_ms) / 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corridors", nargs="*", help="origin>dest (default: the 4 busiest)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--at", default="12:00", help="CST time of day the closure starts (HH:MM)")
    args = ap.parse_args(argv)
    try:
        hours, minutes = (int(x) for x in args.at.split(":"))
    except ValueError:
        ap.error(f"--at wants HH:MM (got {args.at!r})")
    closes_ms = DAY_MS + (hours * 60 + minutes) * 60_000
    print(f"closure at {args.at} CST, seed {args.seed}: shipments a minute, minutes -5 .. +7")
    for corridor in args.corridors or busiest(args.seed, closes_ms, 4):
        counts, last_s = onset(args.seed, corridor, closes_ms)
        before, after = counts[:BEFORE_MIN], counts[BEFORE_MIN:]
        tail = "none after it" if last_s is None else f"the last {last_s:.0f} s after it"
        print(f"  {corridor:<15} before {before}  from the closure {after}  ({tail})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
