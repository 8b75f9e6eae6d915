"""The synthetic event simulation: contract validity, determinism, faults and realism.

The validity checker below is written from SPEC section 3 alone, independently of the
simulation and of any consumer code, so it can catch both sides drifting.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import orjson
import pytest

from producers.simulation import SimConfig, SimRecord, Simulation
from pulseboard import packs, spec

GUIZHOU = packs.load("guizhou")

# 2025-11-24 00:00 CST (UTC+8) = 2025-11-23 16:00 UTC.
MIDNIGHT_CST = 1_763_913_600_000
HOUR = 3_600_000


def at_cst(hour: float) -> int:
    return MIDNIGHT_CST + int(hour * HOUR)


# --------------------------------------------------------------------------- checker

REGIONS = {
    "520100", "520200", "520300", "520400", "520500", "520600", "522300", "522600", "522700",
}  # fmt: skip
# ISO 3166-2:CN province-level codes.
CN_SUBDIVISIONS = {
    "CN-AH", "CN-BJ", "CN-CQ", "CN-FJ", "CN-GD", "CN-GS", "CN-GX", "CN-GZ", "CN-HA", "CN-HB",
    "CN-HE", "CN-HI", "CN-HK", "CN-HL", "CN-HN", "CN-JL", "CN-JS", "CN-JX", "CN-LN", "CN-MO",
    "CN-NM", "CN-NX", "CN-QH", "CN-SC", "CN-SD", "CN-SH", "CN-SN", "CN-SX", "CN-TJ", "CN-TW",
    "CN-XJ", "CN-XZ", "CN-YN", "CN-ZJ",
}  # fmt: skip
CARGO = {
    "electronics", "liquor", "tea", "coal", "building_materials", "agriculture", "medicine",
    "consumer_goods", "machinery",
}  # fmt: skip
SECTORS = {
    "big_data", "electronics", "software", "ecommerce", "manufacturing", "liquor", "tourism",
    "agriculture", "energy_mining", "construction",
}  # fmt: skip
DIGITAL = {"big_data", "electronics", "software", "ecommerce"}
ALPHA2 = re.compile(r"[A-Z]{2}")


class Invalid(Exception):
    pass


def _reject_constant(name: str) -> None:
    raise Invalid(f"non-finite number {name}")


def _is_int(x: object) -> bool:
    return type(x) is int  # bool is not a JSON integer


def _is_number(x: object) -> bool:
    return type(x) in (int, float) and math.isfinite(x)  # type: ignore[arg-type]


def _need(obj: dict[str, Any], field: str, ok: bool) -> None:
    if not ok:
        raise Invalid(f"bad {field}: {obj.get(field)!r}")


def parse_event(raw: bytes) -> dict[str, Any]:
    """The event in ``raw`` if it is valid per SPEC section 3; raises Invalid otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("not UTF-8") from exc
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise Invalid(f"not JSON: {exc}") from exc
    if type(obj) is not dict:
        raise Invalid("not an object")
    for field in ("v", "id", "type", "ts"):
        if field not in obj:
            raise Invalid(f"missing {field}")
    _need(obj, "v", _is_int(obj["v"]) and obj["v"] == 1)
    _need(obj, "id", type(obj["id"]) is str and 1 <= len(obj["id"]) <= 64)
    _need(obj, "type", obj["type"] in spec.EVENT_TYPES)
    _need(obj, "ts", _is_int(obj["ts"]))
    fields = {
        "shipment": (
            "truck_id", "shipment_id", "shipper_id", "origin", "dest", "cargo", "weight_kg",
            "value_cny", "export_country",
        ),
        "position": ("truck_id", "region", "lat", "lon", "speed_kmh", "loaded"),
        "delivery": ("truck_id", "shipment_id", "dest", "on_time", "transit_s"),
        "output": ("sector", "region", "value_cny"),
        "dc_load": ("dc_id", "region", "it_load_mw", "utilization"),
    }[obj["type"]]  # fmt: skip
    for field in fields:
        if field not in obj:
            raise Invalid(f"missing {field}")
    for field in ("truck_id", "shipment_id", "shipper_id", "dc_id"):
        if field in fields:
            _need(obj, field, type(obj[field]) is str)
    for field in ("origin", "region"):
        if field in fields:
            _need(obj, field, obj[field] in REGIONS)
    if "dest" in fields:
        _need(obj, "dest", obj["dest"] in REGIONS or obj["dest"] in CN_SUBDIVISIONS)
    for field in ("value_cny", "speed_kmh", "it_load_mw"):
        if field in fields:
            _need(obj, field, _is_number(obj[field]) and obj[field] >= 0)
    for field in ("lat", "lon"):
        if field in fields:
            _need(obj, field, _is_number(obj[field]))
    for field in ("loaded", "on_time"):
        if field in fields:
            _need(obj, field, type(obj[field]) is bool)
    etype = obj["type"]
    if etype == "shipment":
        _need(obj, "cargo", obj["cargo"] in CARGO)
        _need(obj, "weight_kg", _is_int(obj["weight_kg"]) and obj["weight_kg"] > 0)
        country = obj["export_country"]
        _need(
            obj,
            "export_country",
            country is None or (type(country) is str and ALPHA2.fullmatch(country) is not None),
        )
    elif etype == "delivery":
        _need(obj, "transit_s", _is_int(obj["transit_s"]) and obj["transit_s"] >= 0)
    elif etype == "output":
        _need(obj, "sector", obj["sector"] in SECTORS)
    elif etype == "dc_load":
        u = obj["utilization"]
        _need(obj, "utilization", _is_number(u) and 0 <= u <= 1)
    return obj


def is_valid(raw: bytes) -> bool:
    try:
        parse_event(raw)
    except Invalid:
        return False
    return True


# --------------------------------------------------------------------------- samples


@cache
def run(config: SimConfig, n: int) -> tuple[SimRecord, ...]:
    return tuple(Simulation(config).take(n))


@cache
def run_until(config: SimConfig, until_ms: int) -> tuple[SimRecord, ...]:
    return tuple(Simulation(config).advance(until_ms))


def events(records: tuple[SimRecord, ...], kind: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if r.kind == kind and r.fault == ""]


VALIDITY_RUNS = (
    SimConfig(seed=0, start_ms=at_cst(3), events_per_sim_second=100.0),  # night
    SimConfig(seed=1, start_ms=at_cst(10.5), events_per_sim_second=100.0),  # busy morning
    SimConfig(seed=2, start_ms=at_cst(16) + 123, events_per_sim_second=50.0),  # odd start ms
    # Fleet capped: trucks report every few seconds.
    SimConfig(seed=3, start_ms=at_cst(21), events_per_sim_second=2_000.0, max_trucks=5_000),
)
VALIDITY_SAMPLE = 50_000
FAULTY = SimConfig(
    seed=11,
    start_ms=at_cst(14),
    events_per_sim_second=30.0,
    invalid_fraction=0.05,
    late_fraction=0.03,
    future_fraction=0.02,
)
FAULTY_UNTIL = at_cst(14) + 1_500_000  # late records need up to 10 minutes to show up
# A long, thin run for the things that take simulated hours: trips, deliveries, an hour of
# output, the daily rhythm.
LONG = SimConfig(seed=5, start_ms=at_cst(3), events_per_sim_second=5.0)
LONG_UNTIL = at_cst(11)


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("config", VALIDITY_RUNS, ids=["night", "morning", "odd-start", "capped"])
def test_every_record_is_a_valid_event_with_its_key_and_topic(config: SimConfig) -> None:
    records = run(config, VALIDITY_SAMPLE)
    assert len(records) == VALIDITY_SAMPLE
    for r in records:
        assert r.fault == "" and r.kind in spec.EVENT_TYPES
        event = parse_event(r.value)
        assert event["type"] == r.kind
        assert r.topic == spec.topic_for_type(r.kind)
        assert r.key == spec.event_key(event).encode()
        # Bytes are exactly what orjson writes for the event (no spaces, shortest floats).
        assert orjson.dumps(event) == r.value
        assert r.ingest_ts - 30_000 <= event["ts"] <= r.ingest_ts


def test_ids_are_unique_and_ingest_time_never_goes_back() -> None:
    records = run(VALIDITY_RUNS[1], VALIDITY_SAMPLE)
    ids = [orjson.loads(r.value)["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert all(a.ingest_ts <= b.ingest_ts for a, b in itertools.pairwise(records))
    # Event time is slightly out of order across records, as from real devices.
    ts = [orjson.loads(r.value)["ts"] for r in records[:5000]]
    assert any(a > b for a, b in itertools.pairwise(ts))


def test_all_event_kinds_appear_with_positions_dominating() -> None:
    records = run(VALIDITY_RUNS[1], VALIDITY_SAMPLE)
    kinds = Counter(r.kind for r in records)
    assert set(kinds) == set(spec.EVENT_TYPES)
    assert 0.7 <= kinds["position"] / len(records) <= 0.9


# --------------------------------------------------------------------------- faults


def test_fault_fractions_and_lateness() -> None:
    records = run_until(FAULTY, FAULTY_UNTIL)
    # Once late records from the start have had time to arrive, shares are steady.
    steady = [r for r in records if r.ingest_ts >= FAULTY.start_ms + 600_000]
    n = len(steady)
    assert n > 30_000
    faults = Counter(r.fault for r in steady)
    assert abs(sum(r.kind == "invalid" for r in steady) / n - 0.05) < 0.006
    assert abs(faults["late"] / n - 0.03) < 0.005
    assert abs(faults["future"] / n - 0.02) < 0.004
    for r in records:
        if r.kind == "invalid":
            continue
        event = parse_event(r.value)
        lateness = r.ingest_ts - event["ts"]
        if r.fault == "late":
            assert 30_000 < lateness <= 600_000
        elif r.fault == "future":
            assert 5_000 < -lateness <= 120_000
        else:
            assert r.fault == ""
            assert -spec.DEFAULT_FUTURE_MS <= lateness <= spec.DEFAULT_LATENESS_MS


def test_invalid_records_are_invalid_for_many_reasons() -> None:
    records = run_until(FAULTY, FAULTY_UNTIL)
    invalid = [r for r in records if r.kind == "invalid"]
    for r in invalid:
        assert not is_valid(r.value), (r.fault, r.value)
        assert r.topic in (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)
        assert isinstance(r.key, bytes) and r.key
    reasons = Counter(r.fault for r in invalid)
    assert len(reasons) >= 15, reasons
    for reason in ("bad_json", "truncated_json", "not_object", "missing_field", "wrong_type"):
        assert reasons[reason] > 0, reason


def test_tally_counts_what_was_handed_out() -> None:
    sim = Simulation(FAULTY)
    records = sim.take(7_000) + sim.advance(sim.generated_until_ms + 2_500)
    tally = sim.tally
    assert tally.records == len(records)
    assert dict(tally.by_kind) == {
        k: sum(r.kind == k for r in records) for k in (*spec.EVENT_TYPES, "invalid")
    }
    assert dict(tally.by_fault) == dict(sorted(Counter(r.fault for r in records).items()))
    assert tally.counted == sum(r.fault == "" for r in records)
    assert tally.invalid + tally.late + tally.future + tally.counted == tally.records


# --------------------------------------------------------------------------- determinism


def test_same_config_same_bytes_other_seed_other_bytes() -> None:
    config = SimConfig(
        seed=42,
        start_ms=at_cst(9),
        events_per_sim_second=20.0,
        invalid_fraction=0.02,
        late_fraction=0.01,
        future_fraction=0.01,
    )
    a = Simulation(config).take(20_000)
    b = Simulation(config).take(20_000)
    assert a == b
    other = Simulation(SimConfig(seed=43, start_ms=at_cst(9), events_per_sim_second=20.0))
    other_records = other.take(20_000)
    assert [r.value for r in other_records] != [r.value for r in a]


def test_take_and_advance_slice_one_sequence() -> None:
    config = SimConfig(
        seed=7, start_ms=at_cst(12) + 500, events_per_sim_second=20.0, late_fraction=0.01
    )
    whole = Simulation(config).take(30_000)

    pieces = Simulation(config)
    sliced = pieces.take(1) + pieces.take(0) + pieces.take(12_345) + pieces.take(17_654)
    assert sliced == whole

    stepped = Simulation(config)
    out: list[SimRecord] = []
    until = config.start_ms - 1
    assert stepped.advance(until) == []
    while len(out) < 30_000:
        until += 777
        batch = stepped.advance(until)
        assert all(r.ingest_ts <= until for r in batch)
        out += batch
    assert out[:30_000] == whole
    # advance returned everything up to ``until``: the next record is later.
    assert stepped.take(1)[0].ingest_ts > until

    mixed = Simulation(config)
    first = mixed.take(5_000)
    rest = mixed.advance(whole[20_000].ingest_ts)
    assert first + rest == [r for r in whole if r.ingest_ts <= whole[20_000].ingest_ts]


def test_advance_to_the_past_returns_nothing() -> None:
    sim = Simulation(SimConfig(start_ms=at_cst(8), events_per_sim_second=10.0))
    sim.take(100)
    assert sim.advance(at_cst(7)) == []
    with pytest.raises(ValueError, match="n must be"):
        sim.take(-1)


# --------------------------------------------------------------------------- realism


def test_night_is_quieter_than_day() -> None:
    records = run_until(LONG, LONG_UNTIL)
    night = sum(at_cst(3) <= r.ingest_ts < at_cst(5) for r in records)
    day = sum(at_cst(9) <= r.ingest_ts < at_cst(11) for r in records)
    assert day > 3 * night


def test_mean_rate_over_a_day_is_the_requested_rate() -> None:
    config = SimConfig(seed=9, start_ms=at_cst(0), events_per_sim_second=2.0)
    records = Simulation(config).advance(at_cst(24) - 1)
    assert abs(len(records) / 86_400 / 2.0 - 1) < 0.04


def test_digital_share_of_output_value_over_an_hour() -> None:
    config = SimConfig(seed=4, start_ms=at_cst(13), events_per_sim_second=20.0)
    outputs = events(run_until(config, at_cst(14)), "output")
    total = sum(e["value_cny"] for e in outputs)
    digital = sum(e["value_cny"] for e in outputs if e["sector"] in DIGITAL)
    assert 0.34 <= digital / total <= 0.40
    # Provincial value added per hour is in the right ballpark (GDP ~6 billion CNY a day).
    assert 1e8 < total < 1e9
    by_region = defaultdict(float)
    for e in outputs:
        by_region[(e["region"], e["sector"])] += e["value_cny"]
    assert max(GUIZHOU.regions, key=lambda r: by_region[(r.code, "big_data")]).code == "520100"
    assert max(GUIZHOU.regions, key=lambda r: by_region[(r.code, "liquor")]).code == "520300"
    assert max(GUIZHOU.regions, key=lambda r: by_region[(r.code, "tourism")]).code == "522600"


def test_freight_geography() -> None:
    shipments = events(run_until(LONG, LONG_UNTIL), "shipment") + events(
        run(VALIDITY_RUNS[1], VALIDITY_SAMPLE), "shipment"
    )
    assert len(shipments) > 3_000
    origins = Counter(s["origin"] for s in shipments)
    dests = Counter(s["dest"] for s in shipments)
    assert origins.most_common(1)[0][0] == "520100"
    assert dests.most_common(1)[0][0] == "520100"
    hub = sum("520100" in (s["origin"], s["dest"]) for s in shipments)
    assert hub / len(shipments) > 0.4
    liquor = Counter(s["origin"] for s in shipments if s["cargo"] == "liquor")
    assert liquor["520300"] / sum(liquor.values()) > 0.5
    coal = Counter(s["origin"] for s in shipments if s["cargo"] == "coal")
    assert (coal["520200"] + coal["520500"]) / sum(coal.values()) > 0.5
    tea = Counter(s["origin"] for s in shipments if s["cargo"] == "tea")
    assert tea["522600"] + tea["520600"] + tea["522700"] + tea["520300"] > 0.6 * tea.total()

    exports = [s for s in shipments if s["export_country"] is not None]
    assert 0.03 < len(exports) / len(shipments) < 0.25
    assert {s["dest"] for s in exports} <= {"CN-GX", "CN-GD", "CN-CQ"}
    assert {s["dest"] for s in exports} == {"CN-GX", "CN-GD", "CN-CQ"}
    by_cargo = {c: Counter() for c in ("electronics", "liquor")}
    for s in exports:
        if s["cargo"] in by_cargo:
            by_cargo[s["cargo"]][s["export_country"]] += 1
    assert set(by_cargo["electronics"]) <= {
        "VN",
        "DE",
        "US",
        "JP",
        "KR",
        "NL",
        "MY",
        "SG",
        "IN",
        "MX",
    }
    assert set(by_cargo["liquor"]) <= {"SG", "MY", "US", "HK", "AU", "JP", "KR", "TH", "FR"}


def test_cargo_weights_and_values_fit_the_cargo() -> None:
    shipments = events(run(VALIDITY_RUNS[1], VALIDITY_SAMPLE), "shipment")
    per_kg: dict[str, list[float]] = defaultdict(list)
    for s in shipments:
        per_kg[s["cargo"]].append(s["value_cny"] / s["weight_kg"])
        assert s["weight_kg"] <= 35_000
        assert round(s["value_cny"], 2) == s["value_cny"]
    median = {c: sorted(v)[len(v) // 2] for c, v in per_kg.items()}
    assert median["coal"] < 2 < median["agriculture"] < median["electronics"]
    assert median["liquor"] > 100 and median["electronics"] > 100
    coal = [s["weight_kg"] for s in shipments if s["cargo"] == "coal"]
    assert min(coal) > 20_000


def test_trucks_deliver_what_they_shipped() -> None:
    records = run_until(LONG, LONG_UNTIL)
    shipped = {s["shipment_id"]: s for s in events(records, "shipment")}
    delivered = [d for d in events(records, "delivery") if d["shipment_id"] in shipped]
    assert len(delivered) > 200
    on_time = 0
    for d in delivered:
        s = shipped[d["shipment_id"]]
        assert d["truck_id"] == s["truck_id"] and d["dest"] == s["dest"]
        elapsed_s = (d["ts"] - s["ts"]) / 1000
        assert d["ts"] > s["ts"] and 0 <= elapsed_s - d["transit_s"] < 1
        on_time += d["on_time"]
    assert 0.7 < on_time / len(delivered) < 0.98
    # Local runs take an hour or two; trips between prefectures take longer. (A few take
    # much longer: trucks dispatched late stop for a break overnight.)
    hours = defaultdict(list)
    for d in delivered:
        local = shipped[d["shipment_id"]]["origin"] == d["dest"]
        hours[local].append(d["transit_s"] / 3600)
    local_hours, intercity_hours = sorted(hours[True]), sorted(hours[False])
    assert 0.5 < local_hours[len(local_hours) // 2] < 2
    assert local_hours[int(0.9 * len(local_hours))] < 3
    assert intercity_hours[len(intercity_hours) // 2] > local_hours[len(local_hours) // 2] + 0.5


def test_positions_follow_the_road() -> None:
    records = run_until(LONG, LONG_UNTIL)
    by_truck: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in events(records, "position"):
        assert 20.5 < p["lat"] < 31.5 and 102 < p["lon"] < 114  # Guizhou and neighbours
        assert 0 <= p["speed_kmh"] <= 100
        by_truck[p["truck_id"]].append(p)
    moving = [ps for ps in by_truck.values() if len(ps) >= 2]
    assert len(moving) > 100
    for ps in moving:
        ps.sort(key=lambda p: p["ts"])
        for a, b in itertools.pairwise(ps):
            hours = (b["ts"] - a["ts"]) / HOUR
            km = math.dist((a["lat"], a["lon"]), (b["lat"], b["lon"])) * 111
            if a["loaded"] == b["loaded"]:
                assert km <= 100 * hours + 2, (a, b)


def test_data_centres_report_steadily() -> None:
    loads = events(run(VALIDITY_RUNS[1], VALIDITY_SAMPLE), "dc_load")
    ids = Counter(e["dc_id"] for e in loads)
    assert 10 <= len(ids) <= 20
    assert all(i.startswith("dc-") for i in ids)
    guian = sum(n for i, n in ids.items() if "guian" in i)
    assert guian / sum(ids.values()) > 0.4
    regions = {e["dc_id"]: e["region"] for e in loads}
    assert {"520100", "520400"} <= set(regions.values())
    assert all(0 < e["utilization"] <= 1 and e["it_load_mw"] > 0 for e in loads)


def test_data_centre_load_peaks_in_the_evening() -> None:
    def mean_util(hour: float) -> float:
        config = SimConfig(seed=1, start_ms=at_cst(hour), events_per_sim_second=20.0)
        loads = events(run_until(config, at_cst(hour) + 600_000), "dc_load")
        return sum(e["utilization"] for e in loads) / len(loads)

    assert mean_util(21) > mean_util(4) * 1.15


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events_per_sim_second": -5.0}, "events_per_sim_second must be > 0"),
        ({"events_per_sim_second": 0}, "events_per_sim_second must be > 0"),
        ({"events_per_sim_second": math.nan}, "events_per_sim_second must be finite"),
        ({"invalid_fraction": 1.5}, r"invalid_fraction must be in \[0, 1\]"),
        ({"late_fraction": -0.1}, r"late_fraction must be in \[0, 1\]"),
        ({"future_fraction": math.inf}, "future_fraction must be finite"),
        ({"invalid_fraction": 0.6, "late_fraction": 0.5}, "must be <= 1"),
        ({"seed": -1}, "seed must be in"),
        ({"seed": True}, "seed must be an int"),
        ({"start_ms": 1.5}, "start_ms must be an int"),
        ({"ping_interval_s": 0}, "ping_interval_s must be in"),
        ({"output_share": 0.95}, "output_share must be in"),
        ({"max_trucks": 10}, "max_trucks must be in"),
        ({"dc_report_s": 0.5}, "dc_report_s must be >= 1"),
    ],
)
def test_bad_config_says_what_to_fix(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimConfig(**{"start_ms": MIDNIGHT_CST, **changes})


def test_start_ms_is_required() -> None:
    with pytest.raises(TypeError):
        SimConfig()  # type: ignore[call-arg]
