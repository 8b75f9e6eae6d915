"""Hand-checked replays: tests/golden/NAME.jsonl -> NAME.expected.jsonl.

The expected changelogs were written by reasoning from SPEC sections 4, 6, 7 and 8, not by
running the code; the derivation of each is in the comments below.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import time
from pathlib import Path

import pytest

from consumers import replay
from pulseboard import packs

GUIZHOU = packs.load("guizhou")  # SPEC sections 1 and 3 (section 10)
GOLDEN = Path(__file__).parent / "golden"

CASES = {
    # Positions only (active_trucks_5m). p1 and p2 arrive out of event-time order; p3 has
    # lateness exactly L (counted), p4 L+1 (late); p5 lateness exactly -F (counted), p6 -F-1
    # (future); two invalid lines. Counted: B@second 0, A@1 (520100), C@2 (520300), E@8
    # (520100): Ts b+1 .. b+9, changes at b+1, b+2, b+3 and b+9.
    "lateness": [],
    # s1 at 23:59:30 CST, s2 at 00:00:10 CST. "today" holds s1 up to T = midnight and is
    # empty at T = midnight + 1 (D jumps to the new day); the 1-minute window keeps s1.
    "midnight": [],
    # DC1 has two readings with the same ts: id r-b > r-a wins (they arrive r-b first, so
    # this is not arrival order). r-0 is newer by ts and wins despite the smaller id.
    # Readings leave the 5-minute window at second + 301; utilization goes back to null.
    "dc_ties": [],
    # Deliveries: CN-GD counts for the province only; rates are null with no deliveries,
    # and go back to null when the last ones leave the 1-hour window.
    "rates": [],
    # --every 10: Ts 10, 20 and the last one (26). An output of 0 value (522700 software)
    # changes nothing: its sums stay 0 (absent) and its digital share stays null (absent).
    "every10": ["--every", "10"],
    # One second of shipments: corridors, exports per origin and per country, province rows.
    "freight": [],
}


def _run(log: Path, out: Path, extra: list[str]) -> replay.ReplayReport:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    args = parser.parse_args([str(log), "--out", str(out), *extra])
    assert replay.run(args, GUIZHOU) == 0
    return args


@pytest.mark.parametrize("name", list(CASES))
def test_golden(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    _run(GOLDEN / f"{name}.jsonl", out, CASES[name])
    expected = (GOLDEN / f"{name}.expected.jsonl").read_text()
    assert out.read_text() == expected


@pytest.mark.parametrize("name", list(CASES))
def test_replay_is_byte_deterministic_and_reads_gzip(name: str, tmp_path: Path) -> None:
    plain = GOLDEN / f"{name}.jsonl"
    gz = tmp_path / f"{name}.jsonl.gz"
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    outs = []
    for i, log in enumerate((plain, plain, gz)):
        out = tmp_path / f"out{i}.jsonl"
        _run(log, out, CASES[name])
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_summary_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(GOLDEN / "lateness.jsonl", tmp_path / "o.jsonl", [])
    err = capsys.readouterr().err
    lines = {row.split()[0]: row.split()[1] for row in err.splitlines() if not row.startswith(" ")}
    assert lines["lines"] == "8"
    assert lines["counted"] == "4"
    assert lines["invalid"] == "2"
    assert lines["late"] == "1"
    assert lines["future"] == "1"
    assert "emitted secs   9" in err
    assert "line 2: not_json" in err
    assert "line 6: bad_region" in err


def test_stdout_output(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    _run(GOLDEN / "freight.jsonl", Path("-"), [])
    assert capsysbinary.readouterr().out == (GOLDEN / "freight.expected.jsonl").read_bytes()


def test_missing_log_is_an_error_not_a_crash(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert replay.run(args, GUIZHOU) == 2
    assert not (tmp_path / "o").exists()


def test_empty_log(tmp_path: Path) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_bytes(b"\n\nnot json\n")
    out = tmp_path / "o.jsonl"
    _run(log, out, [])
    assert out.read_bytes() == b""


def _shipment(ts: int, ingest: int, sid: str) -> bytes:
    return (
        f'{{"v":1,"id":"{sid}","type":"shipment","ts":{ts},"truck_id":"A","shipment_id":"{sid}",'
        f'"shipper_id":"P","origin":"520100","dest":"520300","cargo":"tea","weight_kg":1000,'
        f'"value_cny":10,"export_country":null,"ingest_ts":{ingest}}}'
    ).encode()


def test_idle_gap_costs_nothing(tmp_path: Path) -> None:
    """Two shipments a year apart: the windows jump over the gap instead of stepping through
    31 million seconds, and each change happens exactly once (entry at t+1, the 1-minute,
    15-minute and 1-hour windows emptying at t+61, t+901 and t+3601, "today" at the next
    CST midnight + 1)."""
    t0 = 1_764_003_600  # 01:00 CST
    t1 = t0 + 365 * 86_400
    log = tmp_path / "gap.jsonl"
    log.write_bytes(
        _shipment(t0 * 1000, t0 * 1000 + 10, "a") + b"\n" + _shipment(t1 * 1000, t1 * 1000, "b")
    )
    out = tmp_path / "o.jsonl"
    start = time.perf_counter()
    _run(log, out, [])
    assert time.perf_counter() - start < 2.0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    by_t: dict[int, set[str]] = {}
    for r in recs:
        by_t.setdefault(r["t"], set()).add(r["name"])
    midnight = t0 - 3600 + 86_400  # the next CST midnight
    assert sorted(by_t) == [t0 + 1, t0 + 61, t0 + 901, t0 + 3601, midnight + 1, t1 + 1]
    assert by_t[t0 + 61] == {"shipments_1m"}
    assert by_t[t0 + 901] == {"corridor_shipments_15m"}
    assert by_t[t0 + 3601] == {"tonnage_1h", "freight_value_1h"}
    assert by_t[midnight + 1] == {"shipments_today", "freight_value_today"}
    assert len(recs) == 11 + 2 + 1 + 4 + 4 + 11


def test_truncated_gzip_is_reported_and_leaves_no_output(tmp_path: Path) -> None:
    gz = tmp_path / "cut.jsonl.gz"
    data = gzip.compress((GOLDEN / "rates.jsonl").read_bytes() * 50)
    gz.write_bytes(data[: len(data) // 2])
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    out = tmp_path / "o.jsonl"
    assert replay.run(parser.parse_args([str(gz), "--out", str(out)]), GUIZHOU) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [gz]


def test_unwritable_output_is_an_error(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    args = parser.parse_args([str(GOLDEN / "rates.jsonl"), "--out", str(tmp_path / "no/o")])
    assert replay.run(args, GUIZHOU) == 2


def test_out_is_required(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    assert replay.run(parser.parse_args([str(GOLDEN / "rates.jsonl")]), GUIZHOU) == 2
