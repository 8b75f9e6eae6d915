"""How well the anomaly detector finds labelled incidents.

    .venv/bin/python benchmarks/bench_anomalies.py --seed 1 --days 10 [--river]

Simulates ``--days`` days (CST calendar days, from an hour before the first midnight) with
incidents at seeded random times: the first ``min_days`` days are quiet (the detector is
learning), then each day is quiet with probability 1/3, else holds one or two incidents of a
random kind on a random target over the visibility threshold (benchmarks/anomaly_days.py),
starting 06:00-20:00 CST and lasting 40-120 minutes. The watched indicators are computed
once per minute (benchmarks/anomaly_days.py states the simulation's conditions) and fed to
the detector, once per method and threshold compared.

Scoring, per incident: detected when a call-out on its indicator and key *opens* between its
start and its end plus the indicator's window (its effect lingers that long); the delay is
open time minus start. Every other opened call-out is *false*, except those that open while
an incident is in progress (or within its window after it) on another key, which are counted
as *side effects* (a closed corridor's trucks take other trips; an export surge fills other
corridors). False call-outs per wall-day = false / days judged (days after learning).

Prints the conditions, a method comparison, the threshold curve, the per-kind table and, as
its last line, ``recall=R false_per_day=F median_delay_s=S`` for the product's configuration.
``--quick`` makes one detector pass and replays its judgements for each threshold
(benchmarks/anomaly_trace.py): the product configuration, which test opened each call-out,
and curves moving both thresholds, the empty-run one alone and the level one alone.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import pickle
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.anomaly_days import (  # noqa: E402
    MIN_CORRIDOR_PER_MIN,
    VISIBLE_SD,
    WATCH_OF_KIND,
    WINDOWS,
    is_visible,
    random_incidents,
    realized_to_noise,
    run_days,
    signal_to_noise,
    visible_targets,
    watched_key,
    watched_records,
)
from benchmarks.anomaly_trace import Opened, record, replay  # noqa: E402
from consumers.anomalies.detector import (  # noqa: E402
    CST_OFFSET_S,
    Callout,
    Detector,
    DetectorConfig,
)
from producers.incidents import Incident  # noqa: E402
from pulseboard.indicators import Record  # noqa: E402

T = TypeVar("T")

MIDNIGHT_CST_MS = 1_796_227_200_000  # 2026-12-03 00:00 CST
DAY_MS = 86_400_000
QUIET_SHARE = 1 / 3
WINDOW_S = {**WINDOWS, "dc_power_mw_5m": 300}


def simulate(
    seed: int,
    days: int,
    learning_days: int,
    workers: int,
    kinds: list[str],
    corridor_per_min: float,
) -> tuple[list[list[list[Record]]], list[Incident]]:
    # Visibility is measured on a quiet probe (another seed): 10:00-13:00, after an hour of
    # warm-up so the hour windows are full.
    probe_start = MIDNIGHT_CST_MS + 9 * 3_600_000
    probe_end = probe_start // 1000 + 4 * 3600
    probe = list(watched_records(seed + 1, probe_start, probe_end, from_s=probe_end - 3 * 3600))
    targets = {k: v for k, v in visible_targets(probe, corridor_per_min).items() if k in kinds}
    rng = random.Random(seed)
    incidents: list[Incident] = []
    for day in range(learning_days, days):
        if rng.random() >= QUIET_SHARE:
            incidents += random_incidents(rng, MIDNIGHT_CST_MS + day * DAY_MS, targets)
    jobs = [(seed * 1_000_003 + day, day, tuple(incidents)) for day in range(days)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        per_day = pool.map(_day, jobs)
    return per_day, incidents


def counterfactuals(seed: int, incidents: list[Incident], workers: int) -> list[list[list[Record]]]:
    """Each incident's day simulated again without it (the same seed and start, the day's
    other incidents kept): what the day would have been."""
    jobs = []
    for inc in incidents:
        day = _day_of(inc)
        others = tuple(i for i in incidents if i is not inc)
        jobs.append((seed * 1_000_003 + day, day, others))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return pool.map(_day, jobs)


def _day_of(inc: Incident) -> int:
    return (inc.start_ms - MIDNIGHT_CST_MS) // DAY_MS


def _day(job: tuple[int, int, tuple[Incident, ...]]) -> list[list[Record]]:
    """One CST day, simulated on its own (as the backfill does: seed per day, from an hour
    before its midnight so the hour windows are full), its first hour dropped."""
    seed, day, incidents = job
    midnight = MIDNIGHT_CST_MS + day * DAY_MS
    mine = tuple(i for i in incidents if i.start_ms < midnight + DAY_MS and i.end_ms > midnight)
    end_s = (midnight + DAY_MS) // 1000 - 1
    return list(watched_records(seed, midnight - 3_600_000, end_s, mine, from_s=midnight // 1000))


def river_callouts(
    minutes: list[list[Record]], learning_days: int, open_after: int, close_after: int
) -> list[Callout]:
    """River's PredictiveAnomalyDetection around a Holt-Winters forecaster with a daily
    season (1,440 minutes), one per (name, key), scored every minute after its warm-up;
    a call-out opens after ``open_after`` scores of 1.0 in a row (the error beyond the
    model's own threshold) and closes after ``close_after`` below 0.5. Only keys with at
    least 1% of their indicator's mean total are followed (as the detector judges)."""
    from river import anomaly, time_series

    followed = _keys_with_a_level(minutes)

    models: dict[tuple[str, str], anomaly.PredictiveAnomalyDetection] = {}
    tracks: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    seen: dict[tuple[str, str], int] = defaultdict(int)
    values: dict[tuple[str, str], float] = {}
    out: list[Callout] = []
    warm = learning_days * 1440
    for recs in minutes:
        if not recs:
            continue
        t = recs[0].t
        for r in recs:
            values[(r.name, r.key)] = float(r.value or 0)
        for nk, v in values.items():
            if nk not in followed:
                continue
            m = models.get(nk)
            if m is None:
                m = models[nk] = anomaly.PredictiveAnomalyDetection(
                    time_series.HoltWinters(alpha=0.3, beta=0.01, gamma=0.3, seasonality=1440),
                    horizon=1,
                    n_std=6.0,
                    warmup_period=warm,
                )
            seen[nk] += 1
            if seen[nk] <= 1440:  # Holt-Winters cannot forecast before a whole season
                m.learn_one(None, v)
                continue
            score = m.score_one(None, v)
            m.learn_one(None, v)
            tr = tracks[nk]  # open, hits, calm
            if not tr[0]:
                tr[1] = tr[1] + 1 if score >= 1.0 else 0
                if tr[1] >= open_after:
                    tr[0], tr[1] = 1, 0
                    out.append({"t": t, "name": nk[0], "key": nk[1], "state": "opened"})
            else:
                tr[2] = tr[2] + 1 if score < 0.5 else 0
                if tr[2] >= close_after:
                    tr[0], tr[2] = 0, 0
                    out.append({"t": t, "name": nk[0], "key": nk[1], "state": "closed"})
    return out


def _keys_with_a_level(minutes: list[list[Record]], share: float = 0.01) -> set[tuple[str, str]]:
    sums: dict[tuple[str, str], float] = defaultdict(float)
    values: dict[tuple[str, str], float] = {}
    for recs in minutes:
        for r in recs:
            values[(r.name, r.key)] = float(r.value or 0)
        for nk, v in values.items():
            sums[nk] += v
    totals: dict[str, float] = defaultdict(float)
    for (name, _), v in sums.items():
        totals[name] += v
    return {nk for nk, v in sums.items() if v >= share * totals[nk[0]]}


@dataclass
class Score:
    recall: float
    false_per_day: float
    median_delay_s: float
    closure_median_delay_s: float
    false: int
    side: int
    by_kind: dict[str, tuple[int, int, list[int]]]  # kind -> (incidents, detected, delays)
    all_recall: float  # over every incident, visible or not
    # Per opened call-out, in order: the index of the incident it found, or "side", "false".
    labels: list[int | str]


def score(
    callouts: list[Callout], incidents: list[Incident], judged_days: int, visible: list[bool]
) -> Score:
    """Recall, delays and the per-kind table count the visible incidents only; every
    incident's call-outs are matched (none of them is false)."""
    opened = [c for c in callouts if c["state"] == "opened"]
    found_any = 0
    by_kind: dict[str, tuple[int, int, list[int]]] = {k: (0, 0, []) for k in WATCH_OF_KIND}
    matched: set[int] = set()
    delays: list[int] = []
    closure_delays: list[int] = []
    hit_of: list[list[int]] = []
    for inc, seen in zip(incidents, visible, strict=True):
        nk = watched_key(inc)
        lag_ms = WINDOW_S[nk[0]] * 1000
        hits = [
            i
            for i, c in enumerate(opened)
            if (c["name"], c["key"]) == nk
            and inc.start_ms <= int(c["t"]) * 1000 <= inc.end_ms + lag_ms
        ]
        n, d, ds = by_kind[inc.kind]
        hit_of.append(hits)
        matched.update(hits)
        found_any += bool(hits)
        if not seen:
            continue
        if hits:
            delay = int(opened[hits[0]]["t"]) - inc.start_ms // 1000
            ds.append(delay)
            delays.append(delay)
            if inc.kind == "corridor_closure":
                closure_delays.append(delay)
            by_kind[inc.kind] = (n + 1, d + 1, ds)
        else:
            by_kind[inc.kind] = (n + 1, d, ds)
    labels: list[int | str] = ["false"] * len(opened)
    for j, hits in enumerate(hit_of):
        for i in hits:
            labels[i] = j
    false = side = 0
    for i, c in enumerate(opened):
        if i in matched:
            continue
        t_ms = int(c["t"]) * 1000
        during = any(
            inc.start_ms <= t_ms <= inc.end_ms + 3_600_000 for inc in incidents
        )  # within an hour (the longest window) after an incident
        if during:
            side += 1
            labels[i] = "side"
        else:
            false += 1
    detected = sum(d for _, d, _ in by_kind.values())
    return Score(
        recall=detected / sum(visible) if any(visible) else math.nan,
        false_per_day=false / judged_days if judged_days else math.nan,
        median_delay_s=statistics.median(delays) if delays else math.nan,
        closure_median_delay_s=statistics.median(closure_delays) if closure_delays else math.nan,
        false=false,
        side=side,
        by_kind=by_kind,
        all_recall=found_any / len(incidents) if incidents else math.nan,
        labels=labels,
    )


def line(label: str, s: Score) -> str:
    return (
        f"{label:<28} recall {s.recall:5.2f}  false/day {s.false_per_day:5.2f}"
        f"  (false {s.false:3d}, side {s.side:3d})  median delay {s.median_delay_s:7.0f} s"
        f"  closure median delay {s.closure_median_delay_s:6.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--days", type=int, default=10)
    p.add_argument("--cache", metavar="FILE", help="keep the simulated days here and reuse them")
    p.add_argument("--workers", type=int, default=2, help="processes simulating days")
    p.add_argument("--river", action="store_true", help="also measure River (slow)")
    p.add_argument(
        "--kinds",
        default=",".join(WATCH_OF_KIND),
        help="the incident kinds drawn, comma-separated (default: all); e.g. corridor_closure"
        " alone measures many closures' delays",
    )
    p.add_argument(
        "--corridor-per-min",
        type=float,
        default=MIN_CORRIDOR_PER_MIN,
        help="close only corridors carrying at least this many shipments a minute at"
        f" 10:00-13:00 (default {MIN_CORRIDOR_PER_MIN:g})",
    )
    p.add_argument("--curve", default="3,4,5,6,7,8,10", help="k_open values of the curve")
    p.add_argument(
        "--quick",
        action="store_true",
        help="one recorded detector pass (benchmarks/anomaly_trace.py), then only the product"
        " configuration, which test opened each call-out, and the curves",
    )
    p.add_argument("--rate-curve", default="3,3.5,4,4.5,5,6", help="--quick: k_rate values")
    p.add_argument("--open-curve", default="4,5,5.5,6,7,8", help="--quick: k_open values")
    p.add_argument(
        "--dense-grid",
        metavar="D,../K,..",
        help="--quick: the empty-run test at k_rate_dense K where the usual arrivals reach D a"
        " judgement (k_rate elsewhere), for each pair",
    )
    p.add_argument("--trace", metavar="FILE", help="--quick: keep the recorded pass here")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=NUMBER",
        help="--quick: a numeric DetectorConfig field to change from the product's (repeatable)",
    )
    args = p.parse_args(argv)
    product = DetectorConfig()
    kinds = args.kinds.split(",")
    if unknown := sorted(set(kinds) - set(WATCH_OF_KIND)):
        p.error(f"--kinds: unknown {', '.join(unknown)}; known: {', '.join(WATCH_OF_KIND)}")
    if args.days <= product.min_days:
        p.error(f"--days must be > {product.min_days} (the learning days)")
    t0 = time.perf_counter()
    cache = Path(args.cache) if args.cache else None
    minutes, incidents = _cached(
        cache,
        lambda: simulate(
            args.seed, args.days, product.min_days, args.workers, kinds, args.corridor_per_min
        ),
    )
    sim_s = time.perf_counter() - t0
    judged_days = args.days - product.min_days
    print(
        f"seed {args.seed}: {args.days} days ({product.min_days} learning, {judged_days} judged),"
        f" {len(incidents)} incidents ({args.kinds}; corridors from {args.corridor_per_min:g} a"
        f" minute), simulated in {sim_s:.0f} s"
    )
    quiet = minutes[: product.min_days]  # the learning days hold no incident
    t = time.perf_counter()
    without = _cached(
        Path(f"{cache}.without") if cache is not None else None,
        lambda: counterfactuals(args.seed, incidents, args.workers),
    )
    nominal = [signal_to_noise(quiet, inc) for inc in incidents]
    snr = [
        realized_to_noise(quiet, minutes[_day_of(inc)], alone, inc)
        for inc, alone in zip(incidents, without, strict=True)
    ]
    visible = [is_visible(x, nom) for x, nom in zip(snr, nominal, strict=True)]
    print(
        f"visible: realized and nominal effect >= {VISIBLE_SD:g} x the indicator's noise"
        f" (anomaly_days.py;"
        f" each incident's day simulated without it in {time.perf_counter() - t:.0f} s)"
    )
    for inc, x, nom, seen in zip(incidents, snr, nominal, visible, strict=True):
        print(
            f"  {inc.kind:<17} {inc.target:<22} {_cst(inc.start_ms // 1000)}"
            f" +{(inc.end_ms - inc.start_ms) // 60000:>3} min  effect/noise {x:6.1f}"
            f" (nominal {nom:5.1f}){'' if seen else '  (not visible)'}"
        )

    if args.quick:
        trace_file = Path(args.trace) if args.trace else None
        quick(minutes, incidents, judged_days, visible, args, trace_file)
        return 0

    def measure(config: DetectorConfig) -> tuple[Score, float]:
        t = time.perf_counter()
        callouts = run_days(Detector(config), minutes)
        return score(callouts, incidents, judged_days, visible), time.perf_counter() - t

    print("\nmethods (same hysteresis: open after 2, close after 3 judgements):")
    chosen, det_s = measure(product)
    print(line(f"median/MAD k={product.k_open:g}", chosen) + f"  [{det_s:.1f} s]")
    for k in (product.k_open, 4.0, 3.0):
        z, zs = measure(replace(product, method="zscore", k_open=k, k_close=min(k / 2, 3.0)))
        print(line(f"mean/stddev k={k:g}", z) + f"  [{zs:.1f} s]")
    if args.river:
        t = time.perf_counter()
        flat = [m for day in minutes for m in day]
        rc = river_callouts(flat, product.min_days, product.open_after, product.close_after)
        rs = score(rc, incidents, judged_days, visible)
        print(line("River PAD + HoltWinters", rs) + f"  [{time.perf_counter() - t:.1f} s]")

    print("\nthreshold curve (median/MAD, k_close = k_open / 2; k_rate scaled with k_open):")
    curve: list[tuple[float, Score]] = []
    for text in args.curve.split(","):
        k = float(text)
        scale = k / product.k_open  # both tests' thresholds move together
        s, _ = measure(
            replace(
                product,
                k_open=k,
                k_close=k / 2,
                k_rate=product.k_rate * scale,
                k_rate_close=product.k_rate_close * scale,
            )
        )
        curve.append((k, s))
        print(line(f"k_open={k:g}", s))

    summary(chosen)
    return 0


def summary(chosen: Score) -> None:
    print("\nper kind (product configuration):")
    print(f"{'kind':<18} {'incidents':>9} {'detected':>8} {'median delay s':>15}")
    for kind, (n, d, ds) in chosen.by_kind.items():
        med = f"{statistics.median(ds):.0f}" if ds else "-"
        print(f"{kind:<18} {n:>9} {d:>8} {med:>15}")
    print(f"recall over every incident, visible or not: {chosen.all_recall:.3f}")
    print(
        f"recall={chosen.recall:.3f} false_per_day={chosen.false_per_day:.2f}"
        f" median_delay_s={chosen.closure_median_delay_s:.0f}"
    )


def quick(
    minutes: list[list[list[Record]]],
    incidents: list[Incident],
    judged_days: int,
    visible: list[bool],
    args: argparse.Namespace,
    trace_file: Path | None,
) -> None:
    """The product configuration (with ``--set`` changes) and the curves from one recorded
    pass."""
    product = replace(DetectorConfig(), **_settings(args.set))
    t = time.perf_counter()
    trace = _cached(trace_file, lambda: record(minutes, product))
    changed = " ".join(args.set) or "none"
    print(
        f"\nrecorded pass: {len(trace.t)} judgements in {time.perf_counter() - t:.0f} s"
        f" (changed from the product: {changed})"
    )

    def _closure_delays(s: Score, opened: list[Opened]) -> str:
        first: dict[int, int] = {}
        for o, label in zip(opened, s.labels, strict=True):
            if isinstance(label, int) and label not in first:
                first[label] = int(o.callout["t"]) - incidents[label].start_ms // 1000
        closures = [i for i, inc in enumerate(incidents) if inc.kind == "corridor_closure"]
        return ", ".join(f"{first[i]} s" if i in first else "missed" for i in closures)

    def measure(config: DetectorConfig) -> tuple[Score, list[Opened]]:
        callouts, opened = replay(trace, config)
        return score(callouts, incidents, judged_days, visible), opened

    chosen, opened = measure(product)
    print(line(f"product k_open={product.k_open:g} k_rate={product.k_rate:g}", chosen))
    print(f"every closure's delay (visible or not): {_closure_delays(chosen, opened)}")
    print("\nopened call-outs (product configuration): which test opened each")
    for o, label in zip(opened, chosen.labels, strict=True):
        c = o.callout
        tests = "+".join(n for n, on in (("level", o.by_level), ("empty", o.by_empty)) if on)
        what = label if isinstance(label, str) else f"incident {label} ({incidents[label].kind})"
        steps = WINDOWS.get(str(c["name"]), 60) // 60
        print(
            f"  {_cst(int(c['t']))}  {c['name']:<27} {c['key']:<22} score {c['score']:7.2f}"
            f"  usual/min {float(c['expected']) / steps:9.1f}  {tests:<11} {what}"
        )

    def curve(title: str, label: str, configs: list[tuple[float, DetectorConfig]]) -> None:
        print(f"\n{title}")
        for k, config in configs:
            print(line(f"{label}={k:g}", measure(config)[0]))

    ks = [float(x) for x in args.curve.split(",")]
    curve(
        "both thresholds together (k_close = k_open / 2, k_rate = 4 k_open / 6):",
        "k_open",
        [(k, _scaled(product, k_open=k, k_rate=product.k_rate * k / product.k_open)) for k in ks],
    )
    curve(
        f"empty-run threshold alone (k_open={product.k_open:g}, k_rate_close = k_rate / 2):",
        "k_rate",
        [(k, _scaled(product, k_rate=k)) for k in map(float, args.rate_curve.split(","))],
    )
    curve(
        f"level threshold alone (k_rate={product.k_rate:g}, k_close = k_open / 2; rises of"
        " a corridor keep their own 9):",
        "k_open",
        [(k, _scaled(product, k_open=k)) for k in map(float, args.open_curve.split(","))],
    )
    if args.dense_grid:
        dense, _, ks_dense = args.dense_grid.partition("/")
        print(
            f"\nthe empty-run test at k_rate_dense where the usual arrivals reach D a judgement"
            f" (k_rate={product.k_rate:g} elsewhere, k_open={product.k_open:g}); false call-outs"
            " by the test that opened them, and empty runs between 22:00 and 07:00:"
        )
        for d in map(float, dense.split(",")):
            for k in map(float, ks_dense.split(",")):
                config = replace(
                    product,
                    k_rate_dense=k,
                    dense_per_step=d,
                    k_rate_close=min(k, product.k_rate) / 2,
                )
                s, opened = measure(config)
                print(
                    line(f"D={d:g} k_rate_dense={k:g}", s)
                    + "  "
                    + _false_by_test(s, opened)
                    + f"; every closure's delay (visible or not): {_closure_delays(s, opened)}"
                )
    summary(chosen)


def _false_by_test(s: Score, opened: list[Opened]) -> str:
    level = empty = night = 0
    for o, label in zip(opened, s.labels, strict=True):
        if label != "false":
            continue
        if o.by_empty:
            empty += 1
            hour = (int(o.callout["t"]) + CST_OFFSET_S) // 3600 % 24
            night += hour >= 22 or hour < 7
        else:
            level += 1
    return f"false by level {level}, by empty run {empty} ({night} at night)"


def _cached(path: Path | None, compute: Callable[[], T]) -> T:
    """What ``compute`` gives, kept in ``path`` (pickled) and read from there when it exists."""
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]
    value = compute()
    if path is not None:
        path.write_bytes(pickle.dumps(value))
    return value


def _settings(pairs: list[str]) -> dict[str, float]:
    defaults = DetectorConfig()
    out: dict[str, float] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        default = getattr(defaults, name, None)
        if not isinstance(default, int | float) or not text:
            raise SystemExit(
                f"--set {pair!r}: write FIELD=NUMBER for a numeric DetectorConfig field"
            )
        out[name] = type(default)(text)
    return out


def _scaled(
    product: DetectorConfig, *, k_open: float | None = None, k_rate: float | None = None
) -> DetectorConfig:
    k = product.k_open if k_open is None else k_open
    r = product.k_rate if k_rate is None else k_rate
    return replace(product, k_open=k, k_close=k / 2, k_rate=r, k_rate_close=r / 2)


def _cst(t: int) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(t + CST_OFFSET_S))


if __name__ == "__main__":
    sys.exit(main())
