"""Labelled incidents: parsing (producers/incidents.py), their effect inside the simulation,
and `pulseboard produce --incident ... --incidents-out`."""

from __future__ import annotations

import orjson
import pytest
from support import run_cli

from producers.incidents import Incident, IncidentError, Schedule, copies, parse_incident
from producers.simulation import SimConfig, Simulation
from pulseboard import packs

# The defaults the guizhou pack file names (the examples of issue 15).
GUIZHOU_DEFAULTS = packs.load("guizhou").incident_targets
START = 1_796_227_200_000  # 2026-12-03T00:00:00+08:00
H = 3_600_000


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("corridor_closure@+2h/45m", ("corridor_closure", "520300>520100", START + 2 * H, 45)),
        ("dc_outage@+1d2h30m/1h:dc-guian-03", ("dc_outage", "dc-guian-03", START + 26.5 * H, 60)),
        (
            "export_surge@2026-12-03T14:00:00+08:00/2h:DE",
            ("export_surge", "DE", START + 14 * H, 120),
        ),
        ("festival_peak@+0s/1d", ("festival_peak", "520300|liquor", START, 1440)),
        ("sector_slump@+10m/90s:520200|energy_mining", ("sector_slump", "520200|energy_mining",
                                                         START + 600_000, 1.5)),
    ],
)  # fmt: skip
def test_specs_parse_to_kind_target_and_times(spec, expected):
    kind, target, start, minutes = expected
    inc = parse_incident(spec, START, GUIZHOU_DEFAULTS)
    assert inc == Incident(kind, target, int(start), int(start + minutes * 60_000))


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("corridor_closure+2h/45m", "missing '@'"),
        ("landslide@+2h/45m", "unknown kind 'landslide'"),
        ("corridor_closure@+2h", "missing '/DURATION'"),
        ("corridor_closure@+2h/0m", "longer than 0"),
        ("corridor_closure@+2h/45 minutes", "not a duration"),
        ("corridor_closure@2026-12-03T14:00:00/1h", "no UTC offset"),
        ("corridor_closure@tomorrow/1h", r"neither \+DURATION"),
        ("corridor_closure@+1h/1h:Zunyi-Guiyang", "origin>dest"),
        ("export_surge@+1h/1h:Vietnam", "ISO 3166-1"),
    ],
)
def test_bad_specs_say_what_to_fix(spec, says):
    with pytest.raises(IncidentError, match=says):
        parse_incident(spec, START, GUIZHOU_DEFAULTS)


def test_a_region_without_a_default_target_asks_for_one():
    with pytest.raises(IncidentError, match="no default dc_outage target; add :TARGET"):
        parse_incident("dc_outage@+1h/1h", START, {})


def test_held_time_at_a_closure_by_hand():
    s = Schedule((Incident("corridor_closure", "A>B", 1000, 5000),))
    assert s.held_ms("A", "B", 0, 3000) == 4000  # closed under it at 1000, open at 5000
    assert s.held_ms("A", "B", 2000, 3000) == 3000  # set off while closed: waits 2000..5000
    assert s.held_ms("A", "B", 0, 900) == 0  # arrived before the closure
    assert s.held_ms("A", "B", 6000, 7000) == 0  # set off after it
    assert s.held_ms("B", "A", 0, 3000) == 0  # the other direction is open
    assert s.closed("A", "B", 1000) and not s.closed("A", "B", 5000)


def test_copies_by_hand():
    assert [copies(3.0, u) for u in (0.0, 0.99)] == [3, 3]
    assert [copies(0.2, u) for u in (0.1, 0.3)] == [1, 0]
    assert [copies(2.5, u) for u in (0.4, 0.6)] == [3, 2]


def events(incidents: tuple[Incident, ...], minutes: int) -> list[dict]:
    sim = Simulation(
        SimConfig(seed=3, start_ms=START + 10 * H, events_per_sim_second=60, incidents=incidents)
    )
    return [orjson.loads(r.value) for r in sim.advance(START + 10 * H + minutes * 60_000)]


def test_a_closure_stops_shipments_on_its_corridor_and_only_there():
    closure = Incident("corridor_closure", "520300>520100", START + 10 * H + 10 * 60_000,
                       START + 10 * H + 40 * 60_000)  # fmt: skip
    base = events((), 50)
    closed = events((closure,), 50)

    def on(evs: list[dict], o: str, d: str, lo: int, hi: int) -> int:
        return sum(
            1
            for e in evs
            if e["type"] == "shipment"
            and e["origin"] == o
            and e["dest"] == d
            and lo <= e["ts"] < hi
        )

    # Trucks that set off before the closure finish loading (a few minutes of waybill
    # scans): from 5 minutes in, nothing leaves on the corridor.
    during = (closure.start_ms + 300_000, closure.end_ms)
    assert on(base, "520300", "520100", *during) > 20  # a busy corridor...
    assert on(closed, "520300", "520100", *during) == 0  # ...with nothing leaving on it
    assert on(closed, "520300", "520100", closure.end_ms, closure.end_ms + 600_000) > 0
    # The trucks took other trips: Zunyi ships about as much as before.
    zunyi = [sum(1 for e in evs if e["type"] == "shipment" and e["origin"] == "520300"
                 and during[0] <= e["ts"] < during[1]) for evs in (base, closed)]  # fmt: skip
    assert zunyi[1] > 0.8 * zunyi[0]


def test_a_run_with_an_incident_outside_it_is_byte_identical_to_one_without():
    later = Incident("dc_outage", "dc-guian-01", START + 50 * H, START + 51 * H)
    assert events((later,), 5) == events((), 5)


def test_a_dc_outage_drops_its_load_and_others_in_its_region_pick_some_up():
    outage = Incident("dc_outage", "dc-guian-01", START + 10 * H, START + 11 * H)
    base, out = events((), 10), events((outage,), 10)

    def load(evs: list[dict], dc: str) -> float:
        xs = [e["it_load_mw"] for e in evs if e["type"] == "dc_load" and e["dc_id"] == dc]
        return sum(xs) / len(xs)

    assert load(out, "dc-guian-01") < 0.1 * load(base, "dc-guian-01")
    assert load(out, "dc-guian-02") > 1.05 * load(base, "dc-guian-02")  # same region (Guiyang)
    assert load(out, "dc-guian-05") == pytest.approx(load(base, "dc-guian-05"), rel=0.03)  # Anshun


def test_produce_writes_the_ground_truth_and_refuses_unknown_targets(tmp_path):
    truth = tmp_path / "truth.jsonl"
    res = run_cli(
        {"PULSEBOARD_STATE_DIR": str(tmp_path)},
        "produce", "--rate", "50", "--start", "2026-12-03T00:00:00+08:00", "--count", "2000",
        "--to-file", str(tmp_path / "log.jsonl"),
        "--incident", "corridor_closure@+1h/30m",
        "--incident", "export_slump@2026-12-03T09:00:00+08:00/2h:US",
        "--incidents-out", str(truth),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert [orjson.loads(line) for line in truth.read_bytes().splitlines()] == [
        {"kind": "corridor_closure", "target": "520300>520100", "start": START + H,
         "end": START + H + 30 * 60_000},
        {"kind": "export_slump", "target": "US", "start": START + 9 * H, "end": START + 11 * H},
    ]  # fmt: skip
    env = {"PULSEBOARD_STATE_DIR": str(tmp_path)}
    bad = run_cli(env, "produce", "--count", "10", "--to-file", str(tmp_path / "x.jsonl"),
                  "--incident", "dc_outage@+1h/1h:dc-nowhere-01")  # fmt: skip
    assert bad.returncode == 2
    assert "no such target" in bad.stderr and "dc-guian-01" in bad.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_trucks_on_a_closed_corridor_wait_and_deliver_late():
    # A corridor trip takes about 2.5 h from the first waybill scan to the delivery, so at
    # 2.5 h in, the trucks loaded since the start are on the road: an hour's closure then
    # falls on them. The run goes on 3.5 h after it, long enough for all to arrive.
    t0 = START + 10 * H
    closure = Incident("corridor_closure", "520300>520100", t0 + 150 * 60_000, t0 + 210 * 60_000)

    def run(incidents: tuple[Incident, ...]) -> tuple[dict[str, dict], dict[str, dict]]:
        sim = Simulation(
            SimConfig(seed=3, start_ms=t0, events_per_sim_second=15, incidents=incidents)
        )
        shipped: dict[str, dict] = {}
        delivered: dict[str, dict] = {}
        for r in sim.advance(closure.end_ms + 210 * 60_000):
            e = orjson.loads(r.value)
            if e["type"] == "shipment" and (e["origin"], e["dest"]) == ("520300", "520100"):
                shipped[e["shipment_id"]] = e
            elif e["type"] == "delivery":
                delivered[e["shipment_id"]] = e
        return shipped, delivered

    base_shipped, base = run(())
    shipped, closed = run((closure,))
    # On the corridor when it closed: loaded before, not delivered by then (in either run:
    # up to the closure both runs are the same simulation).
    on_it = [
        s
        for s, e in shipped.items()
        if e["ts"] < closure.start_ms and base[s]["ts"] >= closure.start_ms
    ]
    assert all(base_shipped[s] == shipped[s] for s in on_it)
    # Without the closure, many of them arrive while the road would have been closed...
    early = [s for s in on_it if base[s]["ts"] < closure.end_ms]
    assert len(early) >= 10
    # ...with it, every one waits: none is delivered before the road opens, all arrive.
    assert all(s in closed for s in on_it)
    assert all(closed[s]["ts"] >= closure.end_ms for s in on_it)
    # So their transit is longer by at least the time each still had to wait, and more of
    # them are late.
    for s in early:
        waited_s = (closure.end_ms - base[s]["ts"]) // 1000
        assert closed[s]["transit_s"] >= base[s]["transit_s"] + waited_s
    late = [sum(not d[s]["on_time"] for s in on_it) for d in (base, closed)]
    assert late[1] > late[0]
