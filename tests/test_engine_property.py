"""The engine against a brute-force model of SPEC sections 4, 6, 7 and 8.

The model recomputes every indicator at every emitted T straight from the list of counted
events, by definition (no buckets, no sliding, no incremental state), then builds the
changelog. It shares no code with the engine: its constants, absent values, quantisation and
equality are written out here from the SPEC and docs/semantics.md ("Exact sums", "Finality,
emission and the changelog"), and it reads the log with Python's json parser and the
independent validation model. The engine must produce exactly the same records: offline with
one partition, with events split over k partitions, driven live with an irregular watermark,
and its provisional values must end at the final ones.
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validation_model import line_reason_of

from consumers.buckets import ADDERS, Bucket, Partial, micro
from consumers.changelog import Changelog, Record, encode_record
from consumers.engine import Engine, EngineConfig
from consumers.replay import replay_lines
from consumers.validation import Invalid, Validator
from pulseboard import packs
from pulseboard.indicators import KINDS, NAMES, Kind

MIDNIGHT_S = 1_764_086_400  # 2025-11-26 00:00 CST
DAY_MS = 86_400_000
REGIONS = ["520100", "520300", "522700"]
DESTS = [*REGIONS, "CN-GD", "CN-YN"]

# SPEC sections 1 and 3 are the guizhou pack (section 10).
validate_line = Validator(packs.load("guizhou")).validate_line

# ------------------------------------------------------------------- the model

CST_MS = 8 * 3_600_000  # China Standard Time, UTC+8 (SPEC section 6)
PROVINCE = "520000"  # SPEC sections 1 and 7
ALL_REGIONS = (
    "520100", "520200", "520300", "520400", "520500", "520600", "522300", "522600", "522700",
)  # fmt: skip
DIGITAL = frozenset({"big_data", "electronics", "software", "ecommerce"})  # SPEC section 3
# SPEC section 8: absent is 0 for counts, 0.0 for sums, null for rates and means.
COUNT, SUM, RATE = 0, 0.0, None
ABSENT_OF: dict[str, Any] = {
    "shipments_1m": COUNT,
    "shipments_today": COUNT,
    "tonnage_1h": SUM,
    "freight_value_1h": SUM,
    "freight_value_today": SUM,
    "export_value_1h": SUM,
    "export_value_by_country_1h": SUM,
    "corridor_shipments_15m": COUNT,
    "active_trucks_5m": COUNT,
    "deliveries_1h": COUNT,
    "on_time_rate_1h": RATE,
    "avg_transit_min_1h": RATE,
    "sector_value_1h": SUM,
    "output_value_1h": SUM,
    "digital_share_1h": RATE,
    "dc_power_mw_5m": SUM,
    "dc_utilization_5m": RATE,
}


def same(a: Any, b: Any) -> bool:
    """SPEC section 8: equal within max(1e-9 |v|, 1e-6) (v the larger magnitude, as
    docs/semantics.md says); counts exactly; null equals only null."""
    if a is None or b is None:
        return a is None and b is None
    if type(a) is int and type(b) is int:
        return a == b
    return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-6)


def _micro(x: float) -> int:
    """docs/semantics.md "Exact sums": each value once, as millionths, round half to even."""
    return round(x * 1_000_000)


def _money(u: int) -> float:
    """A sum of millionths; at most one of them is within 1e-6 of 0, so 0.0."""
    return 0.0 if u <= 1 else u / 1_000_000


def model_values(events: list[dict[str, Any]], T: int) -> dict[tuple[str, str], Any]:
    """Every indicator as of T, by definition, from all counted events (sorted by ts)."""
    end = T * 1000
    stamps = [e["ts"] for e in events]

    def between(lo: int, hi: int) -> list[dict[str, Any]]:
        """The events with lo <= ts < hi."""
        return events[bisect.bisect_left(stamps, lo) : bisect.bisect_left(stamps, hi)]

    def win(w: int) -> list[dict[str, Any]]:
        return between((T - w) * 1000, end)

    # D: the latest CST midnight at or before T * 1000 - 1.
    day_start = ((end - 1 + CST_MS) // DAY_MS) * DAY_MS - CST_MS
    today = between(day_start, end)
    keys = [*ALL_REGIONS, PROVINCE]
    vals: dict[tuple[str, str], Any] = {}

    def of(evs: list[dict[str, Any]], etype: str) -> list[dict[str, Any]]:
        return [e for e in evs if e["type"] == etype]

    def in_region(e: dict[str, Any], field: str, r: str) -> bool:
        return r == PROVINCE or e[field] == r

    ship_1m, ship_1h = of(win(60), "shipment"), of(win(3600), "shipment")
    ship_today = of(today, "shipment")
    deliv, outp = of(win(3600), "delivery"), of(win(3600), "output")
    pos, dcl = of(win(300), "position"), of(win(300), "dc_load")
    for r in keys:
        s1m = [e for e in ship_1m if in_region(e, "origin", r)]
        s1h = [e for e in ship_1h if in_region(e, "origin", r)]
        std = [e for e in ship_today if in_region(e, "origin", r)]
        vals["shipments_1m", r] = len(s1m)
        vals["shipments_today", r] = len(std)
        vals["tonnage_1h", r] = sum(e["weight_kg"] for e in s1h) / 1000
        vals["freight_value_1h", r] = _money(sum(_micro(e["value_cny"]) for e in s1h))
        vals["freight_value_today", r] = _money(sum(_micro(e["value_cny"]) for e in std))
        vals["export_value_1h", r] = _money(
            sum(_micro(e["value_cny"]) for e in s1h if e["export_country"] is not None)
        )
        trucks = {e["truck_id"] for e in pos if in_region(e, "region", r)}
        vals["active_trucks_5m", r] = len(trucks)
        d = [e for e in deliv if in_region(e, "dest", r)]
        vals["deliveries_1h", r] = len(d)
        vals["on_time_rate_1h", r] = sum(e["on_time"] for e in d) / len(d) if d else None
        vals["avg_transit_min_1h", r] = (
            sum(e["transit_s"] for e in d) / (len(d) * 60) if d else None
        )
        o = [e for e in outp if in_region(e, "region", r)]
        total = sum(_micro(e["value_cny"]) for e in o)
        digital = sum(_micro(e["value_cny"]) for e in o if e["sector"] in DIGITAL)
        vals["output_value_1h", r] = _money(total)
        vals["digital_share_1h", r] = digital / total if total > 1 else None
        for sector in {e["sector"] for e in o}:
            vals["sector_value_1h", f"{r}|{sector}"] = _money(
                sum(_micro(e["value_cny"]) for e in o if e["sector"] == sector)
            )
        # Per dc, its latest reading: greatest ts, ties greatest id (then the values, so the
        # answer never depends on arrival order).
        latest: dict[str, tuple[Any, ...]] = {}
        for e in dcl:
            if in_region(e, "region", r):
                k = (e["ts"], e["id"], _micro(e["it_load_mw"]), _micro(e["utilization"]))
                if e["dc_id"] not in latest or k > latest[e["dc_id"]]:
                    latest[e["dc_id"]] = k
        vals["dc_power_mw_5m", r] = _money(sum(k[2] for k in latest.values()))
        vals["dc_utilization_5m", r] = (
            sum(k[3] for k in latest.values()) / (len(latest) * 1_000_000) if latest else None
        )
    for c in {e["export_country"] for e in ship_1h if e["export_country"] is not None}:
        vals["export_value_by_country_1h", c] = _money(
            sum(_micro(e["value_cny"]) for e in ship_1h if e["export_country"] == c)
        )
    for pair in {f"{e['origin']}>{e['dest']}" for e in of(win(900), "shipment")}:
        vals["corridor_shipments_15m", pair] = sum(
            1 for e in of(win(900), "shipment") if f"{e['origin']}>{e['dest']}" == pair
        )
    return vals


def counted_events(lines: Iterable[bytes], lateness: int, future: int) -> list[dict[str, Any]]:
    """SPEC sections 3-5: the valid lines whose ingest_ts - ts is within [-F, L], by ts."""
    events = []
    for raw in lines:
        if line_reason_of(raw) is None:
            e = json.loads(raw)
            if -future <= e["ingest_ts"] - e["ts"] <= lateness:
                events.append(e)
    return sorted(events, key=lambda e: e["ts"])


def model_records(
    lines: Iterable[bytes], lateness: int, future: int, every: int
) -> list[tuple[int, str, str, Any]]:
    """SPEC section 8's changelog as (t, name, key, value)."""
    events = counted_events(lines, lateness, future)
    if not events:
        return []
    first = min(e["ts"] for e in events) // 1000 + 1
    last = max(e["ts"] for e in events) // 1000 + 1
    ts = [t for t in range(first, last + 1) if t % every == 0]
    if not ts or ts[-1] != last:
        ts.append(last)
    published: dict[tuple[str, str], Any] = {}
    out = []
    for t in ts:
        vals = model_values(events, t)
        for name, key in sorted(set(vals) | set(published)):
            absent = ABSENT_OF[name]
            new = vals.get((name, key), absent)
            old = published.get((name, key), absent)
            if not same(old, new):
                out.append((t, name, key, new))
                published[name, key] = new
    return out


def as_tuples(records: Iterable[Record]) -> list[tuple[int, str, str, Any]]:
    return [(r.t, r.name, r.key, r.value) for r in records]


# ------------------------------------------------------------------ generation


@st.composite
def events_log(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """Small random logs near a CST midnight; returns (lines in ingest order, reorder)."""
    span_s = draw(st.sampled_from([3, 40, 400, 1000, 4000]))
    base_ms = (MIDNIGHT_S - draw(st.integers(0, span_s))) * 1000
    n = draw(st.integers(1, 25 if span_s > 1000 else 40))
    trucks = ["T1", "T2", "T3"]
    lines: list[tuple[int, bytes]] = []
    for i in range(n):
        ts = base_ms + draw(st.integers(0, span_s * 1000))
        lateness = draw(
            st.one_of(
                st.sampled_from([-5001, -5000, 0, 30000, 30001]),
                st.integers(-6000, 31000),
                st.integers(0, 1500),
            )
        )
        ev: dict[str, Any] = {"v": 1, "id": draw(st.sampled_from(["a", "b", f"e{i}"])), "ts": ts}
        kind = draw(st.sampled_from(["shipment", "position", "delivery", "output", "dc_load"]))
        money = st.sampled_from([0, 0.000001, 0.0000015, 1, 2.5, 1234.567891, 1e6])
        if kind == "shipment":
            ev |= {
                "type": "shipment",
                "truck_id": draw(st.sampled_from(trucks)),
                "shipment_id": "S",
                "shipper_id": "P",
                "origin": draw(st.sampled_from(REGIONS)),
                "dest": draw(st.sampled_from(DESTS)),
                "cargo": "tea",
                "weight_kg": draw(st.integers(1, 40_000)),
                "value_cny": draw(money),
                "export_country": draw(st.sampled_from([None, "VN", "TH"])),
            }
        elif kind == "position":
            ev |= {
                "type": "position",
                "truck_id": draw(st.sampled_from(trucks)),
                "region": draw(st.sampled_from(REGIONS)),
                "lat": 26.5,
                "lon": 106.7,
                "speed_kmh": 10,
                "loaded": True,
            }
        elif kind == "delivery":
            ev |= {
                "type": "delivery",
                "truck_id": "T1",
                "shipment_id": "S",
                "dest": draw(st.sampled_from(DESTS)),
                "on_time": draw(st.booleans()),
                "transit_s": draw(st.integers(0, 10_000)),
            }
        elif kind == "output":
            ev |= {
                "type": "output",
                "sector": draw(st.sampled_from(["big_data", "software", "liquor", "tourism"])),
                "region": draw(st.sampled_from(REGIONS)),
                "value_cny": draw(money),
            }
        else:
            ev |= {
                "type": "dc_load",
                "dc_id": draw(st.sampled_from(["DC1", "DC2"])),
                "region": draw(st.sampled_from(REGIONS)),
                "it_load_mw": draw(st.sampled_from([0, 1.5, 10, 33.333333])),
                "utilization": draw(st.sampled_from([0, 0.25, 0.5, 1])),
            }
        ev["ingest_ts"] = ts + lateness
        lines.append((ts + lateness, json.dumps(ev).encode()))
    if draw(st.booleans()):
        lines.append((base_ms, b'{"v": 1, "type": "broken"'))
    lines.sort(key=lambda x: x[0])
    # Partitions merged into one log are only roughly in ingest order.
    reorder = 10_000
    jitter = draw(st.lists(st.integers(0, reorder // 2), min_size=len(lines), max_size=len(lines)))
    order = sorted(range(len(lines)), key=lambda i: lines[i][0] + jitter[i])
    return [lines[i][1] for i in order], reorder


def _is_absent(name: str, v: Any) -> bool:
    absent = ABSENT_OF[name]
    return v is None if absent is None else (v is not None and v == absent)


def run_offline(lines: list[bytes], config: EngineConfig, reorder: int, k: int = 1) -> list[Record]:
    out: list[Record] = []
    rng = random.Random(k)
    part = (lambda ev: rng.randrange(k)) if k > 1 else None
    report = replay_lines(lines, config, out.extend, reorder_ms=reorder, partition_of=part)
    assert report.stats.after_final == 0
    return out


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events_log(), st.sampled_from([1, 1, 7, 60]))
def test_engine_matches_model(log: tuple[list[bytes], int], every: int) -> None:
    lines, reorder = log
    config = EngineConfig(every=every)
    expected = model_records(lines, config.lateness_ms, config.future_ms, every)
    got = as_tuples(run_offline(lines, config, reorder))
    assert got == expected
    # Counts are JSON integers, sums and rates floats (SPEC section 8).
    assert [type(r[3]) for r in got] == [type(r[3]) for r in expected]
    assert as_tuples(run_offline(lines, config, reorder, k=3)) == expected


@SETTINGS
@given(events_log(), st.integers(0, 2**32), st.sampled_from([1, 5]))
def test_live_driving_gives_the_same_records(
    log: tuple[list[bytes], int], seed: int, every: int
) -> None:
    """Feed partition by partition with a watermark that only ever trails every
    partition's ingest time, ask for provisional values on the way, drop and re-feed a
    partition: the final records are those of the offline replay, and the provisional
    values end equal to the final ones."""
    lines, reorder = log
    config = EngineConfig(every=every)
    expected = run_offline(lines, config, reorder)
    rng = random.Random(seed)
    valid = [(ev, raw) for raw in lines if not isinstance(ev := validate_line(raw), Invalid)]
    valid.sort(key=lambda pair: pair[0].ingest_ts)  # type: ignore[union-attr]
    k = 3
    parts = [[e for i, (e, _) in enumerate(valid) if i % k == p] for p in range(k)]
    raw_of = [[raw for i, (_, raw) in enumerate(valid) if i % k == p] for p in range(k)]
    pos = [0] * k
    screen: dict[tuple[str, str], Any] = {}
    last_as_of = 0
    engine = Engine(config)
    got: list[Record] = []
    dropped = False
    while any(pos[p] < len(parts[p]) for p in range(k)):
        p = rng.choice([q for q in range(k) if pos[q] < len(parts[q])])
        for _ in range(rng.randint(1, 4)):
            if pos[p] < len(parts[p]):
                ev = parts[p][pos[p]]
                engine.feed(ev, ev.ingest_ts, p)  # type: ignore[union-attr]
                pos[p] += 1
        # Watermark: the least ingest_ts any partition can still deliver.
        pending = [parts[q][pos[q]].ingest_ts for q in range(k) if pos[q] < len(parts[q])]
        if pending:
            got += engine.advance_watermark(min(pending) - rng.randint(0, 3000))
        if rng.random() < 0.3:
            fed_ts = [e.ts for q in range(k) for e in parts[q][: pos[q]]]
            as_of = max(max(fed_ts) // 1000 + rng.randint(-3, 5), last_as_of)
            # The screen never goes back behind the final values: once the final windows
            # stand at T, a provisional request for an earlier second is served as of T.
            as_of = max(as_of, engine.final_through or as_of)
            for rec in engine.provisional(as_of):
                screen[rec.name, rec.key] = rec.value
            last_as_of = as_of
            if not dropped:
                # Provisional = the definition applied to every counted event fed so far.
                fed = [json.loads(raw) for q in range(k) for raw in raw_of[q][: pos[q]]]
                fed = [e for e in fed if -5000 <= e["ingest_ts"] - e["ts"] <= 30000]
                want = model_values(sorted(fed, key=lambda e: e["ts"]), as_of) if fed else {}
                for key in set(want) | set(screen):
                    absent = ABSENT_OF[key[0]]
                    assert same(screen.get(key, absent), want.get(key, absent)), key
        if not dropped and rng.random() < 0.1:
            # Revoke p and take it back: re-feed from resume_ingest_ms().
            dropped = True
            engine.drop_partition(p)
            resume = engine.resume_ingest_ms()
            first = next(
                (i for i, e in enumerate(parts[p]) if e.ingest_ts >= resume), len(parts[p])
            )
            pos[p] = min(pos[p], first)
    got += engine.flush()
    assert got == expected
    if engine.stats.hi_ts is None:
        return
    # After the end, provisional values are the final ones (as of the same T).
    end = max(engine.stats.hi_ts // 1000 + 1, last_as_of)
    for rec in engine.provisional(end):
        screen[rec.name, rec.key] = rec.value
    assert {(r.name, r.key): r.value for r in engine.provisional_snapshot()} == {
        key: v for key, v in screen.items() if not _is_absent(key[0], v)
    }
    want = model_values(counted_events(lines, 30000, 5000), end)
    for key in set(want) | set(screen):
        absent = ABSENT_OF[key[0]]
        assert same(screen.get(key, absent), want.get(key, absent)), key
    if end == engine.stats.hi_ts // 1000 + 1:
        final: dict[tuple[str, str], Any] = {}
        for r in expected:
            final[r.name, r.key] = r.value
        for key in set(final) | set(screen):
            absent = ABSENT_OF[key[0]]
            assert same(screen.get(key, absent), final.get(key, absent)), key


@settings(max_examples=40, deadline=None)
@given(events_log(), st.integers(1, 5), st.integers(0, 2**32))
def test_partials_merge_like_one(log: tuple[list[bytes], int], k: int, seed: int) -> None:
    """Merging k partials equals one partial fed everything, for any split and order."""
    lines, _ = log
    rng = random.Random(seed)
    events = [ev for raw in lines if not isinstance(ev := validate_line(raw), Invalid)]
    whole, split = Partial(), [Partial() for _ in range(k)]

    def add(p: Partial, ev: Any) -> None:
        b = p.buckets.setdefault(ev.ts // 1000, Bucket())
        ADDERS[type(ev)](b, ev)

    for ev in events:
        add(whole, ev)
    shuffled = events[:]
    rng.shuffle(shuffled)
    for ev in shuffled:
        add(split[rng.randrange(k)], ev)
    merged = split[0].merged_with(split[1:])
    assert {s: b.canonical() for s, b in merged.buckets.items()} == {
        s: b.canonical() for s, b in whole.buckets.items()
    }


def test_every_name_is_covered_by_the_model() -> None:
    assert set(NAMES) == set(KINDS) == set(ABSENT_OF)
    assert all(isinstance(k, Kind) for k in KINDS.values())


def test_records_encode_deterministically() -> None:
    rec = Record(1764000060, "shipments_1m", "520100", 17)
    assert (
        encode_record(rec) == b'{"t":1764000060,"name":"shipments_1m","key":"520100","value":17}\n'
    )
    assert encode_record(Record(1, "on_time_rate_1h", "520000", None)).endswith(b'"value":null}\n')
    assert Changelog().published.keys() == set(NAMES)


def _position(ts: int, truck: str = "T1") -> Any:
    raw = json.dumps(
        {
            "v": 1,
            "id": f"p{ts}",
            "type": "position",
            "ts": ts,
            "truck_id": truck,
            "region": "520100",
            "lat": 26.5,
            "lon": 106.7,
            "speed_kmh": 1,
            "loaded": True,
        }
    ).encode()
    ev = validate_line(raw[:-1] + f',"ingest_ts":{ts}}}'.encode())
    assert not isinstance(ev, Invalid)
    return ev


def test_events_behind_the_watermark_are_refused_not_miscounted() -> None:
    engine = Engine()
    base = MIDNIGHT_S * 1000
    assert engine.feed(_position(base), base) == "counted"
    recs = engine.advance_watermark(base + 40_000)  # seals seconds < base/1000 + 10
    assert [r.value for r in recs] == [1, 1]
    assert engine.resume_ingest_ms() == base + 10_000 - 5_000
    # Counted by SPEC section 4, but its second is already final: refused and counted.
    assert engine.feed(_position(base + 2_000, "T2"), base + 20_000) == "after_final"
    assert engine.stats.after_final == 1
    assert engine.feed(_position(base + 12_000, "T2"), base + 20_000) == "counted"
    assert [r.value for r in engine.flush()] == [2, 2]


def test_classification_boundaries() -> None:
    engine = Engine(EngineConfig(lateness_ms=100, future_ms=10))
    ev = _position(MIDNIGHT_S * 1000)
    assert engine.feed(ev, ev.ts + 100) == "counted"
    assert engine.feed(ev, ev.ts + 101) == "late"
    assert engine.feed(ev, ev.ts - 10) == "counted"
    assert engine.feed(ev, ev.ts - 11) == "future"
    assert (engine.stats.counted, engine.stats.late, engine.stats.future) == (2, 1, 1)


def test_config_rejects_nonsense() -> None:
    for kwargs in ({"every": 0}, {"lateness_ms": -1}, {"future_ms": -1}):
        try:
            EngineConfig(**kwargs)
        except ValueError:
            continue
        raise AssertionError(kwargs)


def test_huge_values_do_not_crash() -> None:
    """Two shipments of the largest finite value: exact sum, emitted as the largest double."""
    lines = []
    for i, ts in enumerate((MIDNIGHT_S * 1000 + 10, MIDNIGHT_S * 1000 + 20)):
        ev = {
            "v": 1,
            "id": f"h{i}",
            "type": "shipment",
            "ts": ts,
            "truck_id": "T",
            "shipment_id": "S",
            "shipper_id": "P",
            "origin": "520100",
            "dest": "CN-GD",
            "cargo": "tea",
            "weight_kg": 2**62,
            "value_cny": 1.7976931348623157e308,
            "export_country": "VN",
            "ingest_ts": ts,
        }
        lines.append(json.dumps(ev).encode())
    recs = run_offline(lines, EngineConfig(), 0)
    values = {(r.name, r.key): r.value for r in recs}
    assert values["freight_value_1h", "520100"] == 1.7976931348623157e308
    assert values["tonnage_1h", "520000"] == 2**63 / 1000
    assert micro(1e300) == int(1e300) * 1_000_000
    assert micro(0.0000015) == 2  # round half to even on the scaled value
