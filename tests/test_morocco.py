"""The morocco pack end to end without a broker (SPEC section 10): its simulated events are
valid for the independent validation model, deterministic and plausible; its logs replay
offline; "today" starts at local midnight on the days Morocco's UTC offset changes; and the
events of one pack are refused by the other's validation."""

from __future__ import annotations

import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import orjson
import pytest
from support import CLI
from validation_model import GUIZHOU, MOROCCO, reason_of

from consumers.changelog import Record
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from consumers.validation import Invalid, Validator
from producers.records import SimRecord
from producers.simulation import SimConfig, Simulation
from pulseboard import packs
from pulseboard.config import config_from_env
from pulseboard.eventlog import line_with_ingest_ts, read_lines
from pulseboard.localday import LocalDays

PACK = packs.load("morocco")
START_MS = 1_764_000_000_000  # 2025-11-24T16:00Z, a Monday afternoon in Casablanca (UTC+1)
HOURS = 2


@cache
def _records() -> tuple[SimRecord, ...]:
    sim = Simulation(SimConfig(seed=5, start_ms=START_MS, events_per_sim_second=200, pack=PACK))
    return tuple(sim.advance(START_MS + HOURS * 3_600_000))


def _events(kind: str) -> list[dict]:
    return [orjson.loads(r.value) for r in _records() if r.kind == kind]


def test_simulated_events_are_valid_morocco_events_and_invalid_guizhou_ones() -> None:
    records = _records()
    assert len(records) > 1_000_000
    assert Counter(r.kind for r in records).keys() == {
        "shipment",
        "position",
        "delivery",
        "output",
        "dc_load",
    }
    validator = Validator(PACK)
    for r in records[::50]:
        assert reason_of(r.value, MOROCCO) is None, r.value
        assert not isinstance(validator.validate(r.value), Invalid), r.value
        # Every event names a Moroccan place, so none is a valid Guizhou event.
        assert reason_of(r.value, GUIZHOU) in ("bad_region", "bad_enum"), r.value
    shipments = _events("shipment")
    assert {s["origin"] for s in shipments} == {f"MA-{i:02d}" for i in range(1, 13)}
    outside = {s["dest"] for s in shipments} - {f"MA-{i:02d}" for i in range(1, 13)}
    assert outside == {"ES-AN", "ES-CN", "MR-08"}
    assert all(s["truck_id"][:4].isupper() for s in shipments)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    def first(seed: int) -> list[bytes]:
        sim = Simulation(SimConfig(seed=seed, start_ms=START_MS, pack=PACK))
        return [r.value for r in sim.take(20_000)]

    assert first(5) == first(5)
    assert first(5) != first(6)


def test_exports_by_partner_and_output_by_region_look_like_morocco() -> None:
    exports: Counter[str] = Counter()
    for s in _events("shipment"):
        if s["export_country"] is not None:
            exports[s["export_country"]] += s["value_cny"]
    total = sum(exports.values())
    share = {c: v / total for c, v in exports.items()}
    # Morocco's customs figures (2023): France and Spain are the first customers, about a
    # fifth each; India and Brazil buy phosphates and fertilizers; Europe takes most.
    assert {c for c, _ in exports.most_common(2)} == {"FR", "ES"}
    assert 0.12 <= share["FR"] <= 0.35 and 0.12 <= share["ES"] <= 0.35
    assert share["IN"] >= 0.01 and share["BR"] >= 0.01
    europe = sum(share.get(c, 0) for c in ("ES", "FR", "IT", "DE", "GB", "PT", "NL", "BE"))
    assert 0.5 <= europe <= 0.9
    assert set(share) <= set(PACK.export_partners)

    output: Counter[str] = Counter()
    for o in _events("output"):
        output[o["region"]] += o["value_cny"]
    by_region = output.most_common()
    # Casablanca-Settat makes about a third of GDP (HCP regional accounts), twice the next.
    assert by_region[0][0] == "MA-06"
    assert by_region[0][1] >= 1.5 * by_region[1][1]
    # A day's value added is ~4e9 MAD: two afternoon hours are well above 2/24 of it.
    assert 2 / 24 * 4e9 < sum(output.values()) < 6 / 24 * 4e9

    sector_regions: Counter[tuple[str, str]] = Counter()
    for o in _events("output"):
        sector_regions[(o["sector"], o["region"])] += o["value_cny"]

    def top(sector: str) -> str:
        return max((r.code for r in PACK.regions), key=lambda code: sector_regions[(sector, code)])

    assert top("tourism") == "MA-07"  # Marrakech
    assert top("automotive") == "MA-01"  # Tanger Med
    assert top("aerospace") == "MA-06"  # Casablanca
    assert top("phosphates") == "MA-05"  # Khouribga
    assert top("fishing") == "MA-12"  # Dakhla

    cargo_origin: Counter[tuple[str, str]] = Counter()
    for s in _events("shipment"):
        cargo_origin[(s["cargo"], s["origin"])] += s["weight_kg"]
    phosphate = {o for (c, o), kg in cargo_origin.items() if c == "phosphates" and kg > 0}
    assert {"MA-05", "MA-07"} <= phosphate  # Khouribga; Ben Guerir and Youssoufia


def _log(tmp: Path) -> Path:
    path = tmp / "morocco.jsonl"
    with open(path, "wb") as fh:
        for r in _records()[:200_000]:
            fh.write(line_with_ingest_ts(r.value, r.ingest_ts) + b"\n")
    return path


def test_a_morocco_log_replays_offline_with_the_region_flag(tmp_path: Path) -> None:
    log = _log(tmp_path)
    out = tmp_path / "finals.jsonl"
    done = subprocess.run(
        [*CLI, "replay", str(log), "--out", str(out), "--region", "morocco", "--every", "60"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    # The province row counts every shipment of the area (SPEC section 7), keyed MA; carried
    # forward to the last T it equals a count made here from the log itself.
    last_t = records[-1]["t"]
    values: dict[tuple[str, str], object] = {}
    for r in records:
        values[(r["name"], r["key"])] = r["value"]
    lines = [orjson.loads(line) for line in read_lines(log)]
    counted = [
        e
        for e in lines
        if e["type"] == "shipment"
        and -5_000 <= e["ingest_ts"] - e["ts"] <= 30_000
        and (last_t - 60) * 1000 <= e["ts"] < last_t * 1000
    ]
    assert values[("shipments_1m", "MA")] == len(counted)
    keys = {k for _, k in values}
    assert "MA-06" in keys and not any(k.startswith("52") for k in keys)

    # The same log read as Guizhou's: every event is refused, nothing is counted.
    gz = tmp_path / "as-guizhou.jsonl"
    done = subprocess.run(
        [*CLI, "replay", str(log), "--out", str(gz), "--region", "guizhou"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert gz.read_bytes() == b""
    assert "bad_region" in done.stderr


def test_each_pack_has_its_own_default_topic_prefix() -> None:
    env = {"PULSEBOARD_KAFKA_PORT": "19092"}
    guizhou = config_from_env(env)
    morocco = config_from_env({**env, "PULSEBOARD_REGION": "morocco"})
    flag = config_from_env(env, region="morocco")
    assert morocco.pack is PACK and flag.pack is PACK
    assert guizhou.kafka.topic("freight.events") == "freight.events"
    assert morocco.kafka.topic("freight.events") == "morocco.freight.events"
    # An explicit prefix still wins.
    assert (
        config_from_env({**env, "PULSEBOARD_TOPIC_PREFIX": "x."}, region="morocco").kafka.topic(
            "indicators"
        )
        == "x.indicators"
    )


# ------------------------------------------- "today" when Morocco's UTC offset changes

# From the tz database (zdump -v Africa/Casablanca, 2026):
#   Sun Feb 15 01:59:59 2026 UT = 02:59:59 +01;  Sun Feb 15 02:00:00 2026 UT = 02:00:00 +00
#   Sun Mar 22 01:59:59 2026 UT = 01:59:59 +00;  Sun Mar 22 02:00:00 2026 UT = 03:00:00 +01
# So local Feb 15 runs from Feb 14 23:00Z (midnight at +01) to Feb 16 00:00Z (25 hours), and
# local Mar 22 from Mar 22 00:00Z to Mar 22 23:00Z (23 hours). Epoch seconds (date -u +%s):
FEB_15 = 1_771_110_000  # 2026-02-14T23:00:00Z
FEB_16 = 1_771_200_000  # 2026-02-16T00:00:00Z
MAR_22 = 1_774_137_600  # 2026-03-22T00:00:00Z
MAR_23 = 1_774_220_400  # 2026-03-22T23:00:00Z


def test_local_days_follow_the_offset_changes() -> None:
    days = LocalDays("Africa/Casablanca")
    feb15 = days.day(FEB_15)
    assert days.start(feb15) == FEB_15 and days.start(feb15 + 1) == FEB_16
    assert days.day(FEB_15 - 1) == feb15 - 1 and days.day(FEB_16 - 1) == feb15
    assert days.label(feb15) == "2026-02-15"
    mar22 = days.day(MAR_22)
    assert days.start(mar22) == MAR_22 and days.start(mar22 + 1) == MAR_23
    assert days.day(MAR_23 - 1) == mar22 and days.day(MAR_23) == mar22 + 1
    assert days.label(mar22 + 1) == "2026-03-23"


def _shipment(n: int, ts_s: int) -> bytes:
    event = {
        "v": 1,
        "id": f"s{n}",
        "type": "shipment",
        "ts": ts_s * 1000,
        "truck_id": "CAS-00001",
        "shipment_id": f"sh{n}",
        "shipper_id": "shp",
        "origin": "MA-06",
        "dest": "MA-04",
        "cargo": "textiles",
        "weight_kg": 1000,
        "value_cny": 100.0,
        "export_country": None,
        "ingest_ts": ts_s * 1000,
    }
    return orjson.dumps(event)


def _today(lines: list[bytes]) -> dict[int, object]:
    """shipments_today of the province at every T, carried forward from the changelog."""
    out: list[Record] = []
    replay_lines(lines, EngineConfig(pack=PACK), out.extend)
    changes = {r.t: r.value for r in out if (r.name, r.key) == ("shipments_today", "MA")}
    values, value = {}, 0
    for t in range(min(changes), max(r.t for r in out) + 1):
        value = changes.get(t, value)
        values[t] = value
    return values


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # Feb 15 (25 hours): 22:30Z and 23:30Z are both Feb 15 local, 00:10Z Feb 16 is not.
        # At a fixed UTC+1, "today" would have restarted at 23:00Z.
        (
            (FEB_16 - 5400, FEB_16 - 1800, FEB_16 + 600),
            {FEB_16 - 3599: 1, FEB_16 - 1799: 2, FEB_16: 2, FEB_16 + 1: 0, FEB_16 + 601: 1},
        ),
        # Mar 22 (23 hours): 22:30Z is Mar 22 local, 23:30Z is already 00:30 on Mar 23.
        (
            (MAR_23 - 1800, MAR_23 + 1800),
            {MAR_23: 1, MAR_23 + 1: 0, MAR_23 + 1800: 0, MAR_23 + 1801: 1},
        ),
    ],
)
def test_today_restarts_at_local_midnight_on_a_day_the_offset_changes(
    events: tuple[int, ...], expected: dict[int, int]
) -> None:
    values = _today([_shipment(i, ts) for i, ts in enumerate(events)])
    assert {t: values[t] for t in expected} == expected
