"""The detector on simulated traffic: a corridor closure is called out on its corridor within
ten minutes; the same traffic without it gives no call-out at all.

The watched indicators come from the simulation through benchmarks/anomaly_days.py (the
benchmark's conditions). To stay short, the "day" of the daily rhythm is 15 minutes: after
an hour that fills the windows, three quiet periods teach the usual level and the fourth is
judged, with the next. The traffic changes little from 11:00 to 12:15, so that is a fair
usual level. The closure starts two minutes into the fourth period and lasts to the end.

The corridor is the G75 north of Guiyang (about 29 shipments a minute). Its records begin at
noon, so none of its minutes has been empty yet and what arrived in each is known only up to
the slack (consumers/anomalies/arrivals.py): the empty-run test judges the slack, loose here,
and calls the closure out as the 15-minute count drains, under ten minutes. Where the records
have seen a quiet night the arrivals are exact and a closure is called out within five
minutes (tests/test_anomaly_arrivals.py by hand; benchmarks/bench_anomalies.py over days)."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.anomaly_days import watched_records
from consumers.anomalies.detector import Detector, DetectorConfig
from producers.incidents import Incident

START_MS = 1_796_266_800_000  # 2026-12-03 11:00 CST, an hour before the first period
FIRST_S = START_MS // 1000 + 3600
CONFIG = replace(DetectorConfig(), period_s=900, offset_s=0, lump_block=15)
CLOSURE = Incident(
    "corridor_closure",
    "520300>520100",
    (FIRST_S + 3 * 900 + 120) * 1000,  # two minutes into the judged period
    (FIRST_S + 5 * 900) * 1000,
)


def callouts(incidents: tuple[Incident, ...]) -> list[dict]:
    det = Detector(CONFIG)
    out: list[dict] = []
    for recs in watched_records(11, START_MS, FIRST_S + 5 * 900 - 1, incidents, from_s=FIRST_S):
        out += det.feed(recs)
    return out + det.flush()


def test_a_closure_is_called_out_on_its_corridor_within_minutes_and_a_quiet_run_gives_none():
    closed = [c for c in callouts((CLOSURE,)) if c["state"] == "opened"]
    assert closed, "the closure was not called out"
    first = closed[0]
    assert (first["name"], first["key"]) == ("corridor_shipments_15m", "520300>520100")
    delay_s = first["t"] - CLOSURE.start_ms // 1000
    assert 0 < delay_s <= 600
    assert first["value"] < first["expected"] and first["score"] < 0
    assert callouts(()) == []
