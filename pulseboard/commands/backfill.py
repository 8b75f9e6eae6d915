"""`pulseboard up --backfill` / `pulseboard history backfill`: session ``live`` filled with
simulated past days, each computed by the real simulation (producers/) at the configured
rate through the offline engine (consumers/engine.py): real final records of a real event
stream, never an invented series. Days are independent, so each is computed in a process
of its own, as many at once as asked (default: one per core, at most one per day).

A day already present in the local index (e.g. the live pipeline ran then) is left alone:
its real history is never overwritten. A day computed again gives the same records (the
simulation is deterministic per day), so re-running is harmless."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from producers.simulation import SimConfig, Simulation
from pulseboard.config import Config, ConfigError
from pulseboard.connect import one_shot
from pulseboard.eventlog import line_with_ingest_ts
from pulseboard.history.codec import Cut, End
from pulseboard.history.days import (
    DEFAULT_DAYS_AGO,
    WARMUP_S,
    Day,
    DayCut,
    backfill_days,
    parse_days_ago,
)
from pulseboard.history.sessions import LIVE
from pulseboard.history.spool import Spool
from pulseboard.history.writer import SessionWriter, history_topic
from pulseboard.localday import LocalDays
from pulseboard.publishing import producer_for
from pulseboard.spec import DEFAULT_LATENESS_MS

log = logging.getLogger("pulseboard.history")
CHUNK = 20_000
PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class DayDone:
    label: str
    events: int
    records: int
    compute_s: float
    store_s: float
    cpu_s: float  # CPU time of the day's process: the figure a busy machine does not change


def _events(
    sim: Simulation, until_ms: int, report: Callable[[float, int], None], day: Day
) -> Iterator[bytes]:
    """The simulation's records as log lines (SPEC section 5) up to ``until_ms``."""
    first = (day.start - WARMUP_S) * 1000
    span = until_ms - first
    n = 0
    while True:
        batch = sim.take(CHUNK)
        for rec in batch:
            if rec.ingest_ts > until_ms:
                return
            yield line_with_ingest_ts(rec.value, rec.ingest_ts)
        n += len(batch)
        report((batch[-1].ingest_ts - first) / span, n)


async def _store(config: Config, day: Day, spool: Spool) -> int:

    producer = producer_for(config, "pulseboard-history-backfill")
    await producer.start()
    try:
        writer = SessionWriter(producer, history_topic(config), LIVE)
        await writer.control(Cut(None, day.start))
        for chunk in spool.chunks():
            await writer.records(chunk, None)
        await writer.control(End(None, day.start, day.end - 1, writer.written.records))
        await writer.control(Cut(None, day.end))
        await writer.close()
        return writer.written.records
    finally:
        await producer.stop()


def compute_day(config: Config, day: Day, rate: float, progress: object | None) -> DayDone:
    """One day, in a process of its own: simulate, aggregate, store in ``live``."""
    import gc

    def report(fraction: float, events: int) -> None:
        if progress is not None:
            progress.put((day.label, min(1.0, fraction), events))  # type: ignore[attr-defined]

    started = time.monotonic()
    sim = Simulation(
        SimConfig(
            seed=day.seed,
            start_ms=(day.start - WARMUP_S) * 1000,
            events_per_sim_second=rate,
            pack=config.pack,
        )
    )
    gc.freeze()  # the fleet is many long-lived objects (as in `produce`)
    cut = DayCut(day)
    spool = Spool()
    try:
        # Events ingested up to the allowed lateness after the day: the day's last values
        # are then final exactly as they would be live.
        until = day.end * 1000 + DEFAULT_LATENESS_MS + 5_000
        result = replay_lines(
            _events(sim, until, report, day),
            EngineConfig(pack=config.pack),
            lambda recs: spool.write_tuples(cut.feed((r.t, r.name, r.key, r.value) for r in recs)),
        )
        spool.write_tuples(cut.finish())
        computed = time.monotonic()
        stored = asyncio.run(_store(config, day, spool))
    finally:
        spool.close()
    report(1.0, result.lines)
    return DayDone(
        day.label,
        result.lines,
        stored,
        computed - started,
        time.monotonic() - computed,
        time.process_time(),
    )


def _covered(config: Config, days: list[Day]) -> set[str]:
    """The days ``live`` already has records for, per the local index brought up to date
    (or as kept by the push server holding it)."""
    from pulseboard.history.indexer import catch_up
    from pulseboard.history.store import HistoryReader, IndexInUse, index_path

    directory = config.history_index_dir
    with contextlib.suppress(IndexInUse):  # a push server holds it and keeps it current
        asyncio.run(catch_up(config, directory))
    if not index_path(directory).exists():
        return set()
    reader = HistoryReader(directory)
    try:
        sid = reader.sid_of(LIVE)
        if sid is None:
            return set()
        return {d.label for d in days if reader.has_records(sid, d.start, d.end - 1)}
    finally:
        reader.close()


def run_backfill(
    config: Config,
    days_ago: tuple[int, ...],
    rate: float,
    seed: int,
    workers: int,
    now: int | None = None,
) -> list[DayDone]:
    if rate <= 0:
        raise ConfigError(f"backfill rate must be > 0 events per simulated second (got {rate})")
    if workers < 1:
        raise ConfigError(f"--backfill-workers must be >= 1 (got {workers})")
    config = one_shot(config)
    days = backfill_days(
        int(time.time()) if now is None else now, days_ago, seed, LocalDays(config.pack.time_zone)
    )
    covered = _covered(config, days)
    for label in sorted(covered):
        print(f"backfill: {label} is already in live history; left as it is", flush=True)
    todo = [d for d in days if d.label not in covered]
    if not todo:
        return []
    workers = min(workers, len(todo))
    print(
        f"backfill: computing {', '.join(d.label for d in todo)} at {rate:g} events per "
        f"simulated second in {workers} process{'es' if workers > 1 else ''}",
        flush=True,
    )
    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    done: list[DayDone] = []
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        progress = manager.Queue()
        futures: list[Future[DayDone]] = [
            pool.submit(compute_day, config, day, rate, progress) for day in todo
        ]
        shown: dict[str, tuple[float, int]] = {d.label: (0.0, 0) for d in todo}
        last_print = time.monotonic()
        while not all(f.done() for f in futures):
            try:
                label, fraction, events = progress.get(timeout=0.5)
                shown[label] = (fraction, events)
            except queue.Empty:
                pass
            if time.monotonic() - last_print >= PROGRESS_EVERY_S:
                last_print = time.monotonic()
                parts = [f"{lbl} {f:4.0%} ({n:,} events)" for lbl, (f, n) in shown.items()]
                print(
                    f"backfill: {time.monotonic() - started:5.0f} s  " + "  ".join(parts),
                    flush=True,
                )
        for f in futures:
            day_done = f.result()  # raises the worker's error, if any
            done.append(day_done)
            print(
                f"backfill: {day_done.label} done: {day_done.events:,} events -> "
                f"{day_done.records:,} final records (computed in {day_done.compute_s:.0f} s, "
                f"stored in {day_done.store_s:.0f} s, {day_done.cpu_s:.0f} CPU s)",
                flush=True,
            )
    elapsed = time.monotonic() - started
    print(
        f"backfill: {len(done)} day{'s' if len(done) > 1 else ''} in {elapsed:.0f} s "
        f"({elapsed / len(done):.0f} s per day with {workers} process"
        f"{'es' if workers > 1 else ''})",
        flush=True,
    )
    return done


def add_options(parser: argparse.ArgumentParser, *, prefix: str = "--backfill-") -> None:
    parser.add_argument(
        f"{prefix}days",
        default=",".join(map(str, DEFAULT_DAYS_AGO)),
        metavar="N,M",
        help="days before today (the region's local days) to compute (default 1,7: "
        "yesterday and the same weekday a week ago)",
    )
    parser.add_argument(
        f"{prefix}workers",
        type=int,
        default=max(1, min(2, os.cpu_count() or 1)),
        metavar="N",
        help="days computed at once, one process each (default: the cores, at most 2)",
    )


def backfill_from_args(args: argparse.Namespace, config: Config, *, prefix: str) -> int:
    try:
        days_ago = parse_days_ago(getattr(args, f"{prefix}days"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    run_backfill(
        config,
        days_ago,
        args.rate / args.speed,
        args.seed,
        getattr(args, f"{prefix}workers"),
    )
    return 0
