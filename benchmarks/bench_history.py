"""The history index on this machine: SQLite (the choice) beside DuckDB, on the same rows.

    .venv/bin/python benchmarks/bench_history.py [--days 7] [--queries 300] [--no-duckdb]

1. Real final records: the simulation at the default rate (1,000 events per simulated
   second), 08:00-10:00 CST, through the offline engine; the second hour (every window
   full, a busy hour of the daily curve) is the sample. Its records per second are the
   history's write rate at the default rate, on the high side of a day's mean.
2. Writer cost per final record: the live aggregator's history path without the network
   (codec + appending to aiokafka's record batch, as LiveHistorySink does), beside the
   final records per second at the aggregator's top rate.
3. Index rate: HistoryWriter.apply (decode + insert) of the sample: how fast an index is
   rebuilt from the topic, disk side.
4. --days of `live` history: the sample hour repeated hour after hour (same keys, same
   change density), written into the index schema; storage per day.
5. State at T (random Ts) and series of one (name, key) over a day at 60 s: the API's
   answer() (parameters, SQL, carry-forward rules, JSON) with p50/p99, beside the raw SQL
   alone on the same Ts (the ceiling).
6. DuckDB (if installed): the same rows; state as arg_max over the changelog up to T (no
   index seek: a scan), a snapshot design's lower bound (arg_max over the last 10 minutes
   only), series with an ASOF join; storage.

Results go to stdout and bench-results/history.json."""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import orjson  # noqa: E402
from aiokafka.producer.message_accumulator import BatchBuilder  # noqa: E402

from benchmarks.common import machine, save_report  # noqa: E402
from consumers.changelog import Record  # noqa: E402
from consumers.engine import EngineConfig  # noqa: E402
from consumers.replay import replay_lines  # noqa: E402
from producers.simulation import SimConfig, Simulation  # noqa: E402
from pulseboard.eventlog import line_with_ingest_ts  # noqa: E402
from pulseboard.history import codec  # noqa: E402
from pulseboard.history.store import _SERIES_SQL, _STATE_SQL, HistoryReader, HistoryWriter  # noqa: E402
from web.history_api import answer  # noqa: E402

RATE = 1000.0
# 2026-12-01 08:00 CST
START_S = 1_796_083_200 - 8 * 3600 + 8 * 3600
HOUR = 3600


def sample_hour() -> tuple[list[tuple[int, str, str, object]], int, float]:
    sim = Simulation(SimConfig(seed=5, start_ms=START_S * 1000, events_per_sim_second=RATE))
    until = (START_S + 2 * HOUR) * 1000 + 35_000

    def lines():
        while True:
            batch = sim.take(20_000)
            for r in batch:
                if r.ingest_ts > until:
                    return
                yield line_with_ingest_ts(r.value, r.ingest_ts)

    out: list[Record] = []
    started = time.perf_counter()
    report = replay_lines(lines(), EngineConfig(), out.extend)
    seconds = time.perf_counter() - started
    lo, hi = START_S + HOUR, START_S + 2 * HOUR
    hour = [(r.t - lo, r.name, r.key, r.value) for r in out if lo <= r.t < hi]
    return hour, report.lines, seconds


def writer_cost(hour: list) -> dict:
    """µs per final record: data_messages + batch append, per second's records."""
    by_t: dict[int, list] = {}
    for rec in hour:
        by_t.setdefault(rec[0], []).append(rec)
    batches = list(by_t.values())
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for recs in batches:
            # lz4, as the aggregator's producer (producers/publisher.py) compresses.
            batch = BatchBuilder(16 << 20, 3)
            for value in codec.data_messages(recs, None):
                batch.append(timestamp=None, key=b"live", value=value)
            batch._build()
        best = min(best, time.perf_counter() - started)
    return {"us_per_record": round(best / len(hour) * 1e6, 3), "records": len(hour)}


def build_sqlite(directory: Path, hour: list, days: int) -> dict:
    w = HistoryWriter(directory, "bench.indicators.history")
    # The real indexing path on the sample: decode + insert, one message per second.
    by_t: dict[int, list] = {}
    for t, name, key, value in hour:
        by_t.setdefault(t, []).append((t, name, key, value))
    msgs = [codec.encode(codec.Data(None, recs)) for _, recs in sorted(by_t.items())]
    started = time.perf_counter()
    w.apply([("rate-probe", codec.decode(m), 0) for m in msgs], {0: len(msgs)})
    apply_s = time.perf_counter() - started
    conn = w.conn
    conn.execute("DELETE FROM changes")
    conn.execute("DELETE FROM session_series")
    conn.execute("DELETE FROM sessions")
    sid = conn.execute(
        "INSERT INTO sessions(name, gen, complete) VALUES ('live', NULL, 1)"
    ).lastrowid
    nk = {(n, k): i for i, n, k in conn.execute("SELECT nk, name, key FROM series")}
    conn.execute("CREATE TEMP TABLE sample(nk INTEGER, t INTEGER, value)")
    conn.executemany(
        "INSERT INTO temp.sample VALUES (?, ?, ?)", [(nk[(n, k)], t, v) for t, n, k, v in hour]
    )
    base = START_S
    started = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(days * 24):
        conn.execute(
            "INSERT INTO changes SELECT ?, nk, t + ?, value FROM temp.sample ORDER BY t, nk",
            (sid, base + i * HOUR),
        )
    conn.execute("INSERT INTO session_series SELECT DISTINCT ?, nk FROM temp.sample", (sid,))
    rows = len(hour) * days * 24
    conn.execute(
        "UPDATE sessions SET t_from = ?, t_to = ?, records = ? WHERE sid = ?",
        (base, base + days * 86_400 - 1, rows, sid),
    )
    conn.execute("COMMIT")
    build_s = time.perf_counter() - started
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    w.close()
    size = sum(f.stat().st_size for f in directory.iterdir() if f.is_file())
    return {
        "index_apply_records_per_s": round(len(hour) / apply_s),
        "rows": rows,
        "build_s": round(build_s, 1),
        "bytes": size,
        "bytes_per_record": round(size / rows, 1),
        "mb_per_day": round(size / days / 1e6, 1),
    }


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 2)


def rss_mb() -> float:
    """This process's resident memory now (Linux), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def query_sqlite(directory: Path, days: int, n: int, keys: list[tuple[str, str]]) -> dict:
    rss_before = rss_mb()
    r = HistoryReader(directory)
    rng = random.Random(1)
    lo, hi = START_S, START_S + days * 86_400 - 1
    ts = [rng.randint(lo, hi) for _ in range(n)]
    api, raw = [], []
    sid = r.session("live")[0]  # type: ignore[index]
    for t in ts:
        started = time.perf_counter()
        body = orjson.dumps(answer(r, "state", f"session=live&t={t}"))
        api.append(time.perf_counter() - started)
        started = time.perf_counter()
        r.conn.execute(_STATE_SQL, {"sid": sid, "t": t}).fetchall()
        raw.append(time.perf_counter() - started)
    values = len(orjson.loads(body)["values"])
    s_api, s_raw = [], []
    for _ in range(max(20, n // 5)):
        name, key = rng.choice(keys)
        day = rng.randrange(days)
        t1 = lo + day * 86_400
        t2 = t1 + 86_400 - 60
        q = f"session=live&name={name}&key={key}&from={t1}&to={t2}&step=60"
        started = time.perf_counter()
        orjson.dumps(answer(r, "series", q))
        s_api.append(time.perf_counter() - started)
        nk = r.series_id(sid, name, key)
        started = time.perf_counter()
        r.conn.execute(
            _SERIES_SQL, {"sid": sid, "nk": nk, "t_from": t1, "t_to": t2, "step": 60}
        ).fetchall()
        s_raw.append(time.perf_counter() - started)
    rss_after = rss_mb()
    r.close()
    return {
        # What answering costs in memory, whatever the history's length (compare --days).
        "reader_rss_growth_mb": round(rss_after - rss_before, 1),
        "state_values_per_answer": values,
        "state_ms": {"p50": pct(api, 50), "p99": pct(api, 99), "max": pct(api, 100)},
        "state_raw_sql_ms": {"p50": pct(raw, 50), "p99": pct(raw, 99)},
        "series_day_60s_ms": {"p50": pct(s_api, 50), "p99": pct(s_api, 99)},
        "series_raw_sql_ms": {"p50": pct(s_raw, 50), "p99": pct(s_raw, 99)},
    }


def duckdb_figures(tmp: Path, hour: list, days: int, n: int) -> dict:
    import duckdb

    nk: dict[tuple[str, str], int] = {}
    path = tmp / "sample.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        for t, name, key, value in hour:
            i = nk.setdefault((name, key), len(nk))
            out.writerow((i, t, "" if value is None else value))
    db = tmp / "history.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE changes(sid INTEGER, nk INTEGER, t INTEGER, value DOUBLE)")
    started = time.perf_counter()
    con.execute(
        f"INSERT INTO changes SELECT 1, s.nk, s.t + {START_S} + h.i * {HOUR}, s.value "
        f"FROM read_csv('{path}', header=false, columns={{'nk':'INTEGER','t':'INTEGER',"
        f"'value':'DOUBLE'}}) s, range({days * 24}) h(i) ORDER BY h.i, s.t"
    )
    con.execute("CHECKPOINT")
    build_s = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM changes").fetchone()[0]
    size = db.stat().st_size
    rng = random.Random(1)
    lo, hi = START_S, START_S + days * 86_400 - 1
    scan, recent, series = [], [], []
    for _ in range(max(10, n // 10)):
        t = rng.randint(lo, hi)
        started = time.perf_counter()
        con.execute(
            "SELECT nk, arg_max(value, t) FROM changes WHERE sid = 1 AND t <= ? GROUP BY nk",
            [t],
        ).fetchall()
        scan.append(time.perf_counter() - started)
        started = time.perf_counter()
        con.execute(
            "SELECT nk, arg_max(value, t) FROM changes WHERE sid = 1 AND t > ? AND t <= ? "
            "GROUP BY nk",
            [t - 600, t],
        ).fetchall()
        recent.append(time.perf_counter() - started)
        key = rng.randrange(len(nk))
        t1 = lo + rng.randrange(days) * 86_400
        started = time.perf_counter()
        con.execute(
            "SELECT g.t, c.value FROM range(?, ?, 60) g(t) ASOF LEFT JOIN "
            "(SELECT t, value FROM changes WHERE sid = 1 AND nk = ?) c ON g.t >= c.t",
            [t1, t1 + 86_400, key],
        ).fetchall()
        series.append(time.perf_counter() - started)
    con.close()
    return {
        "version": duckdb.__version__,
        "rows": rows,
        "build_s": round(build_s, 1),
        "bytes": size,
        "bytes_per_record": round(size / rows, 2),
        "mb_per_day": round(size / days / 1e6, 1),
        "state_scan_ms": {"p50": pct(scan, 50), "p99": pct(scan, 99)},
        "state_last_10min_only_ms": {"p50": pct(recent, 50), "p99": pct(recent, 99)},
        "series_day_60s_asof_ms": {"p50": pct(series, 50), "p99": pct(series, 99)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument(
        "--sample-cache", type=Path, help="keep the computed sample hour in this file"
    )
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    load = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-", dir=args.dir))
    try:
        cache = args.sample_cache
        if cache is not None and cache.exists():
            hour, events, replay_s = msgspec.msgpack.decode(cache.read_bytes())
            hour = [tuple(r) for r in hour]
        else:
            hour, events, replay_s = sample_hour()
            if cache is not None:
                cache.write_bytes(msgspec.msgpack.encode((hour, events, replay_s)))
        print(f"sample: {len(hour)} final records in the busy hour ({events} events)", flush=True)
        report: dict = {
            "machine": machine(load),
            "sample": {
                "events": events,
                "engine_s": round(replay_s, 1),
                "final_records_per_s": round(len(hour) / HOUR, 1),
                "keys": len({(n, k) for _, n, k, _ in hour}),
            },
            "writer": writer_cost(hour),
        }
        keys = sorted({(n, k) for _, n, k, _ in hour})
        report["sqlite"] = build_sqlite(tmp / "sqlite", hour, args.days)
        print(f"sqlite built: {report['sqlite']}", flush=True)
        report["sqlite"] |= query_sqlite(tmp / "sqlite", args.days, args.queries, keys)
        print(f"sqlite queries: {report['sqlite']}", flush=True)
        shutil.rmtree(tmp / "sqlite")
        if not args.no_duckdb:
            try:
                report["duckdb"] = duckdb_figures(tmp, hour, args.days, args.queries)
            except ImportError:
                report["duckdb"] = "not installed (pip install duckdb to compare)"
        save_report("history", report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
