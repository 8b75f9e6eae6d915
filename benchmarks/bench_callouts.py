"""What call-outs cost: the history index's "active at T" and the push protocol's bytes.

    .venv/bin/python benchmarks/bench_callouts.py [--keys 200] [--days 7] [--every 60]

A week (``--days``) of the live session's call-outs in a temporary index: ``--keys``
(name, key)s, each opened, updated every ``--every`` seconds for an hour and closed, one
call-out after another around the clock (a busy detector: far more than the issue's goal of
at most one false call-out per wall-day). Reported: index rows, the time to apply them,
"active at T" for 300 random Ts (the API's SQL and rules, p50/p99/max), and the size of the
``callouts`` part of a snapshot or delta with 3 and with 20 active. Results go to stdout and
bench-results/callouts.json."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, save_report
from pulseboard.anomalies import Anomaly
from pulseboard.history.codec import Data
from pulseboard.history.store import HistoryReader, HistoryWriter
from web.callouts import CalloutBoard

T0 = 1_795_000_000
HOUR = 3600


def records(keys: int, days: int, every: int, rng: random.Random) -> list[Anomaly]:
    out: list[Anomaly] = []
    end = T0 + days * 86_400
    for k in range(keys):
        name, key = "corridor_shipments_15m", f"R{k}>R0"
        t = T0 + rng.randrange(0, 86_400)
        while t + HOUR < end:
            score = rng.uniform(3, 9) * rng.choice((-1, 1))
            out.append(Anomaly(t, name, key, 3, 17, 12, 22, score, "opened"))
            for u in range(t + every, t + HOUR, every):
                out.append(Anomaly(u, name, key, 3, 17, 12, 22, score, "ongoing"))
            out.append(Anomaly(t + HOUR, name, key, 16, 17, 12, 22, 0.5, "closed"))
            t += HOUR + rng.randrange(86_400 // 2, 86_400 * 2)  # quiet for a while
    out.sort(key=lambda a: a.t)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--every", type=int, default=60)
    args = parser.parse_args()
    load = os.getloadavg()
    rng = random.Random(15)
    recs = records(args.keys, args.days, args.every, rng)
    with tempfile.TemporaryDirectory() as tmp:
        w = HistoryWriter(Path(tmp), "h")
        started = time.perf_counter()
        live = [("live", Data(None, [(T0, "shipments_1m", "P", 1)]), 0)]
        w.apply(live, {0: 1})
        for i in range(0, len(recs), 8000):
            w.apply([], {0: 1}, recs[i : i + 8000], {0: i + 8000})
        apply_s = time.perf_counter() - started
        r = HistoryReader(Path(tmp))
        found = r.session("live")
        assert found is not None
        sid = found[0]
        ms, active = [], []
        for _ in range(300):
            t = T0 + rng.randrange(0, args.days * 86_400)
            began = time.perf_counter()
            answer = r.callouts(sid, t)
            ms.append((time.perf_counter() - began) * 1000)
            active.append(len(answer))
        size = (Path(tmp) / "history.sqlite3").stat().st_size
        r.close()
        w.close()
    board = CalloutBoard()
    sizes = {}
    for n in (3, 20):
        board = CalloutBoard()
        for k in range(n):
            board.apply(Anomaly(T0, "corridor_shipments_15m", f"R{k}>R0",
                                3, 17, 11.9, 22.1, -4.567, "opened"))  # fmt: skip
        sizes[f"callouts_bytes_{n}_active"] = len(orjson.dumps(board.wire()))
    ms.sort()
    report = {
        "machine": machine(load),
        "keys": args.keys,
        "days": args.days,
        "records": len(recs),
        "apply_s": round(apply_s, 2),
        "records_per_s": round(len(recs) / apply_s),
        "index_bytes": size,
        "active_at_t_ms": {
            "p50": round(statistics.median(ms), 2),
            "p99": round(ms[int(len(ms) * 0.99) - 1], 2),
            "max": round(ms[-1], 2),
        },
        "active_at_t_mean_count": round(statistics.mean(active), 1),
        **sizes,
    }
    save_report("callouts", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
