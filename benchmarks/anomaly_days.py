"""Simulated days for the anomaly benchmark and tests: the watched indicators only, fast.

Running a day through the exact engine costs minutes even at reduced rates, and the
detector reads only a few indicators once per minute. ``watched_records`` computes those
(SPEC section 7 definitions: corridor_shipments_15m, shipments_1m, dc_power_mw_5m,
export_value_by_country_1h, sector_value_1h) as of every minute from the simulation's records,
in exact integers (cents, hundredths of a MW), as changelog records at the minutes. The
simulation runs without faults, so every event is counted (none is late).

Conditions: 80 events per simulated second with trucks reporting every 3,600 s (the fleet
and its shipments are those of the default rate: 9.8 shipments/s; positions, which the
watched indicators never read, are cut), outputs 25% of records (20/s, a quarter of the
default rate's 80/s: sector sums are noisier than at the default rate) and data centres
reporting every 5 s (as at the default rate).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from consumers.anomalies.detector import CST_OFFSET_S, Callout, Detector
from producers.incidents import DC_OUTAGE_LOAD, EXPORT_FACTOR, OUTPUT_FACTOR, Incident
from producers.sectors import output_shares
from producers.simulation import SimConfig, Simulation
from pulseboard import packs
from pulseboard.indicators import Record

RATE = 80.0
PING_S = 3600
OUTPUT_SHARE = 0.25
DC_REPORT_S = 5.0
WINDOWS = {
    "corridor_shipments_15m": 900,
    "shipments_1m": 60,
    "export_value_by_country_1h": 3600,
    "sector_value_1h": 3600,
}
DC_WINDOW_S = 300
# The benchmark's area: the default pack.
PACK = packs.load(packs.DEFAULT_PACK)
PROVINCE = PACK.province.code
REGION_CODES = PACK.region_codes
DATA_CENTRES = PACK.sim.data_centres
DC_REGION = {dc.dc_id: dc.region for dc in DATA_CENTRES}
LATENESS_S = 31  # a minute's values are complete once ingest time passed it by this much


def sim_config(seed: int, start_ms: int, incidents: tuple[Incident, ...]) -> SimConfig:
    return SimConfig(
        seed=seed,
        start_ms=start_ms,
        events_per_sim_second=RATE,
        ping_interval_s=PING_S,
        output_share=OUTPUT_SHARE,
        dc_report_s=DC_REPORT_S,
        incidents=incidents,
    )


def _amounts(ev: dict) -> Iterator[tuple[str, str, int]]:
    """(name, key, integer amount) this event adds to the summed windows."""
    kind = ev["type"]
    if kind == "shipment":
        origin = ev["origin"]
        yield "corridor_shipments_15m", f"{origin}>{ev['dest']}", 1
        if origin in REGION_CODES:
            yield "shipments_1m", origin, 1
            yield "shipments_1m", PROVINCE, 1
        if ev["export_country"] is not None:
            yield "export_value_by_country_1h", ev["export_country"], round(ev["value_cny"] * 100)
    elif kind == "output":
        yield "sector_value_1h", f"{ev['region']}|{ev['sector']}", round(ev["value_cny"] * 100)


@dataclass(slots=True)
class _Window:
    width: int
    totals: dict[str, int]
    pending: deque[tuple[int, str, int]]  # (second, key, amount) inside the window


def watched_records(
    seed: int,
    start_ms: int,
    end_s: int,
    incidents: tuple[Incident, ...] = (),
    from_s: int = 0,
) -> Iterator[list[Record]]:
    """Changelog records of the watched indicators at every minute T from ``from_s`` up to
    ``end_s``, one list per minute: every value at the first, then those that changed."""
    sim = Simulation(sim_config(seed, start_ms, incidents))
    buckets: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    dc_latest: dict[str, tuple[int, str, int]] = {}  # dc -> (ts, id, hundredths of MW)
    windows = {n: _Window(w, defaultdict(int), deque()) for n, w in WINDOWS.items()}
    published: dict[tuple[str, str], int | float] = {}
    first_t = (start_ms // 1000 // 60 + 1) * 60
    next_second = start_ms // 1000
    dc_readings: list[tuple[int, str, str, int]] = []
    for t in range(first_t, end_s + 1, 60):
        for rec in sim.advance((t + LATENESS_S) * 1000):
            if rec.kind in ("shipment", "output"):
                ev = orjson.loads(rec.value)
                s = ev["ts"] // 1000
                buckets[s].extend(_amounts(ev))
            elif rec.kind == "dc_load":
                ev = orjson.loads(rec.value)
                dc_readings.append((ev["ts"], ev["id"], ev["dc_id"], round(ev["it_load_mw"] * 100)))
        # Slide the summed windows to [t - W, t).
        for s in range(next_second, t):
            for name, key, amount in buckets.pop(s, ()):
                w = windows[name]
                w.totals[key] += amount
                w.pending.append((s, key, amount))
        next_second = t
        for w in windows.values():
            while w.pending and w.pending[0][0] < t - w.width:
                _, key, amount = w.pending.popleft()
                w.totals[key] -= amount
        # Data centres: each one's latest reading with ts in [t - 300 s, t).
        keep = []
        for ts, rid, dc, load in dc_readings:
            if ts < t * 1000:
                old = dc_latest.get(dc)
                if old is None or (ts, rid) > old[:2]:
                    dc_latest[dc] = (ts, rid, load)
            else:
                keep.append((ts, rid, dc, load))
        dc_readings = keep
        power: dict[str, int] = defaultdict(int)
        for dc, (ts, _, load) in dc_latest.items():
            if ts >= (t - DC_WINDOW_S) * 1000:
                power[DC_REGION[dc]] += load
                power[PROVINCE] += load
        values: dict[tuple[str, str], int | float] = {}
        for name, w in windows.items():
            cents = name in ("export_value_by_country_1h", "sector_value_1h")
            for key, total in w.totals.items():
                values[(name, key)] = total / 100 if cents else total
        for key, total in power.items():
            values[("dc_power_mw_5m", key)] = total / 100
        if t < from_s:
            continue
        out = []
        for nk in sorted(set(values) | set(published)):
            v = values.get(nk, 0)
            if v != published.get(nk, 0):
                out.append(Record(t, nk[0], nk[1], v))
                published[nk] = v
        yield out


# ----------------------------------------------------------------- incidents and truth

# Targets big enough to be seen (the visibility threshold, see docs/anomalies.md): at the
# day's mean rate, a corridor carrying >= 1 shipment a minute, a data centre holding >= 20%
# of its region's capacity, an export partner or a (region, sector) with >= 2% of the
# export or output value.
MIN_CORRIDOR_PER_MIN = 1.0
MIN_DC_SHARE = 0.20
MIN_VALUE_SHARE = 0.02

WATCH_OF_KIND = {
    "corridor_closure": "corridor_shipments_15m",
    "dc_outage": "dc_power_mw_5m",
    "export_surge": "export_value_by_country_1h",
    "export_slump": "export_value_by_country_1h",
    "sector_slump": "sector_value_1h",
    "festival_peak": "sector_value_1h",
}


def run_days(det: Detector, days: list[list[list[Record]]]) -> list[Callout]:
    """``days`` (each a list of minutes' records) through ``det`` one after the other, with a
    cut at each day's first minute (as the history of backfilled days has): that minute
    carries all its values."""
    out: list[Callout] = []
    for minutes in days:
        out += det.cut(minutes[0][0].t)
        for recs in minutes:
            out += det.feed(recs)
    return out + det.flush()


def watched_key(inc: Incident) -> tuple[str, str]:
    name = WATCH_OF_KIND[inc.kind]
    key = DC_REGION[inc.target] if inc.kind == "dc_outage" else inc.target
    return name, key


def visible_targets(
    learning: list[list[Record]], corridor_per_min: float = MIN_CORRIDOR_PER_MIN
) -> dict[str, list[str]]:
    """Targets over the visibility threshold, measured on quiet simulated minutes (corridors
    carrying at least ``corridor_per_min`` shipments a minute)."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    minutes = 0
    carried: dict[tuple[str, str], float] = {}
    for recs in learning:
        for r in recs:
            carried[(r.name, r.key)] = float(r.value or 0)
        minutes += 1
        for nk, v in carried.items():
            totals[nk] += v
    mean = {nk: v / max(1, minutes) for nk, v in totals.items()}
    corridors = sorted(
        k
        for (n, k), v in mean.items()
        if n == "corridor_shipments_15m" and v / 15 >= corridor_per_min
    )
    export_total = sum(v for (n, _), v in mean.items() if n == "export_value_by_country_1h")
    countries = sorted(
        k
        for (n, k), v in mean.items()
        if n == "export_value_by_country_1h" and v >= MIN_VALUE_SHARE * export_total
    )
    shares = output_shares(PACK.sim)
    pairs = sorted(f"{r}|{s}" for (r, s), share in shares if share >= MIN_VALUE_SHARE)
    capacity: dict[str, float] = defaultdict(float)
    for dc in DATA_CENTRES:
        capacity[dc.region] += dc.capacity_mw
    dcs = sorted(
        dc.dc_id for dc in DATA_CENTRES if dc.capacity_mw >= MIN_DC_SHARE * capacity[dc.region]
    )
    return {
        "corridor_closure": corridors,
        "dc_outage": dcs,
        "export_surge": countries,
        "export_slump": countries,
        "sector_slump": pairs,
        "festival_peak": [PACK.incident_targets["festival_peak"]],
    }


def random_incidents(
    rng: random.Random, day_start_ms: int, targets: dict[str, list[str]]
) -> list[Incident]:
    """One or two incidents in the day, starting 06:00-20:00 local, 40-120 minutes long."""
    out = []
    for _ in range(1 + int(rng.random() < 0.4)):
        kind = rng.choice(sorted(targets))
        target = rng.choice(targets[kind])
        start = day_start_ms + rng.randrange(6 * 60, 20 * 60) * 60_000
        length = rng.randrange(40, 121) * 60_000
        out.append(Incident(kind, target, start, start + length))
    return out


# ----------------------------------------------------------------- visibility

# An incident is *visible* when its realized effect on its watched indicator and key (what the
# simulation delivered: the day with it less the same day simulated without it, over the
# stretch where its whole effect is in the window; ``realized_effect``) is at least VISIBLE_SD
# times that indicator's own noise: five standard deviations, because a change
# smaller than that cannot be told from noise at <= 1 false call-out a day by any detector that
# reads the level (a few hundred keys judged 1,440 times a day put even a normal 5-sd excursion
# at about one every ten days). The noise is measured on the quiet
# learning days at the incident's own hours (``own_hours``: from half an hour before it starts
# to half an hour after it ends, CST minutes of the day: traffic at 07:00 or 19:00 is not
# noon's): the larger of two: how the same
# minute differs from day to day (the mean standard deviation across the days), and how the
# value moves within a day: for a windowed sum of W minutes sqrt(W/2 x mean square minute step)
# (the sum changes each minute by what arrived minus what left, independent when items arrive
# independently), for a data centre's power, a level, the standard deviation of its minutes.
# The nominal effect (the usual level at those hours times how far the incident is meant to
# move it, times the share of the window it lasts; ``signal_to_noise``) must reach it too:
# the simulation delivers less where the consignments it multiplies are few, and no incident
# delivers more than it is meant to (a slump to 30% takes at most 70% of the usual level, a
# closure at most the corridor's traffic) but by noise: from its start the day with it and
# the day without draw differently, and for an incident about as long as its window the
# stretch of full effect is a minute or two, too short to average that down (an export slump
# to Hong Kong at 06:36, 57 minutes: 6.2 noises realized, 1.7 meant).
VISIBLE_SD = 5.0
OWN_HOURS_MARGIN_MIN = 30


def is_visible(realized_sd: float, nominal_sd: float) -> bool:
    """Is an incident large enough to be seen: both its realized and its nominal effect at
    least VISIBLE_SD noises (see above)."""
    return min(realized_sd, nominal_sd) >= VISIBLE_SD


def _shift(inc: Incident) -> float:
    """How far the incident is meant to move its indicator, as a signed share of the usual
    level (its nominal effect: what the simulation is asked to do, not what it delivered)."""
    if inc.kind == "corridor_closure":
        return -1.0
    if inc.kind == "dc_outage":
        capacity = sum(dc.capacity_mw for dc in DATA_CENTRES if dc.region == DC_REGION[inc.target])
        share = next(dc.capacity_mw for dc in DATA_CENTRES if dc.dc_id == inc.target) / capacity
        return -share * (1 - DC_OUTAGE_LOAD)
    return {**EXPORT_FACTOR, **OUTPUT_FACTOR}[inc.kind] - 1


def own_hours(inc: Incident) -> range:
    """The minutes of the day (CST, 0-1439) whose noise the incident is measured against:
    from OWN_HOURS_MARGIN_MIN before its start to as long after its end, within its day."""
    midnight_s = (inc.start_ms // 1000 + CST_OFFSET_S) // 86_400 * 86_400 - CST_OFFSET_S
    first = (inc.start_ms // 1000 - midnight_s) // 60 - OWN_HOURS_MARGIN_MIN
    last = (inc.end_ms // 1000 - midnight_s) // 60 + OWN_HOURS_MARGIN_MIN
    return range(max(0, first), min(1440, last))


def noise_level(
    quiet_days: list[list[list[Record]]], nk: tuple[str, str], hours: range
) -> tuple[float, float]:
    """(usual level, noise) of ``nk`` over the minutes of the day ``hours`` on ``quiet_days``
    (see VISIBLE_SD)."""
    width = WINDOWS.get(nk[0], 0) // 60
    levels: list[float] = []
    steps: list[float] = []
    by_minute: dict[int, list[float]] = defaultdict(list)
    for minutes in quiet_days:
        carried = 0.0
        previous: float | None = None
        for i, recs in enumerate(minutes):
            for r in recs:
                if (r.name, r.key) == nk:
                    carried = float(r.value or 0)
            if i in hours:
                levels.append(carried)
                by_minute[i].append(carried)
                if previous is not None:
                    steps.append(carried - previous)
                previous = carried
    level = sum(levels) / len(levels)
    if width:
        noise = math.sqrt(width / 2 * sum(s * s for s in steps) / len(steps))
    else:
        noise = statistics.stdev(levels)
    across = [statistics.stdev(xs) for xs in by_minute.values() if len(xs) > 1]
    return level, max(noise, sum(across) / len(across) if across else 0.0)


def signal_to_noise(quiet_days: list[list[list[Record]]], inc: Incident) -> float:
    """The incident's nominal full effect over its indicator's noise (see VISIBLE_SD)."""
    nk = watched_key(inc)
    width = WINDOWS.get(nk[0], 0) // 60
    level, noise = noise_level(quiet_days, nk, own_hours(inc))
    lasts = (inc.end_ms - inc.start_ms) / 60_000
    reached = min(1.0, lasts / width) if width else 1.0
    return abs(_shift(inc)) * reached * level / max(noise, 1e-9)


# ----------------------------------------------------------------- realized effect


def full_effect_minutes(inc: Incident) -> range:
    """The minutes T (epoch s) at which the incident's whole effect is in its indicator: the
    value at T reads the window [T - W, T), so from W after the start (or the end, when the
    incident is shorter than W) to the end. Incidents start and end on whole minutes."""
    name = watched_key(inc)[0]
    width_s = WINDOWS.get(name, DC_WINDOW_S)
    start_s, end_s = inc.start_ms // 1000, inc.end_ms // 1000
    first = start_s + min(width_s, end_s - start_s)
    return range(first, max(first, end_s) + 1, 60)


def realized_effect(
    with_day: list[list[Record]], without_day: list[list[Record]], inc: Incident
) -> float:
    """What the incident did to its indicator and key: the mean, over ``full_effect_minutes``,
    of (the day with it - the same day simulated without it), in the incident's direction
    (a surge that delivered nothing, or less than nothing, is <= 0). Both days are lists of
    minutes' changelog records from the same first minute, whose records carry every value.

    The counterfactual shares the simulation's seed and start, so the two days are one until
    the incident starts; from then on the incident's own random draws (a closure's trucks
    taking other trips, a surge's extra orders) shift the rest of the day's draws, and the
    difference also holds the indicator's noise: the mean over the stretch of full effect
    averages it down."""
    nk = watched_key(inc)
    wanted = set(full_effect_minutes(inc))
    diffs: list[float] = []
    carried = [0.0, 0.0]
    t0 = with_day[0][0].t
    for i, pair in enumerate(zip(with_day, without_day, strict=True)):
        for side, recs in enumerate(pair):
            for r in recs:
                if (r.name, r.key) == nk:
                    carried[side] = float(r.value or 0)
        if t0 + 60 * i in wanted:
            diffs.append(carried[0] - carried[1])
    if not diffs:
        return 0.0
    return math.copysign(1.0, _shift(inc)) * sum(diffs) / len(diffs)


def realized_to_noise(
    quiet_days: list[list[list[Record]]],
    with_day: list[list[Record]],
    without_day: list[list[Record]],
    inc: Incident,
) -> float:
    """The incident's realized effect over its indicator's noise (see VISIBLE_SD)."""
    _, noise = noise_level(quiet_days, watched_key(inc), own_hours(inc))
    return realized_effect(with_day, without_day, inc) / max(noise, 1e-9)
