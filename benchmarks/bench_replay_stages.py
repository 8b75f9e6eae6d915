"""Offline replay's per-event CPU cost, stage by stage, in one process.

    .venv/bin/python -m benchmarks.bench_replay_stages [--events 300000] [--repeat 3]

Each stage is measured by running the replay up to that stage on the same generated log
(benchmarks.bench_replay's generator) and subtracting the run before it, in CPU time per
line (best of --repeat), so the figures need no profiler and carry none of its overhead:

* reading lines (``pulseboard.eventlog.read_lines``),
* ``orjson.loads`` of every line (the issue 14 ceiling, for the ratio),
* validation (msgspec decode into the typed events plus the SPEC checks),
* the engine (``feed`` plus sealing seconds, sliding the windows and diffing the changelog),
* encoding the changelog records.

Then a cProfile of the replay without encoding splits its cost by function (own time,
scaled to that run's unprofiled microseconds per line).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmarks.bench_replay import decode_all, generate_log
from consumers.changelog import Record, encode_records
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from consumers.validation import Validator
from pulseboard.eventlog import read_lines


def _cpu_us_per_line(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()
        n = run()
        best = min(best, time.process_time() - start)
    return best * 1e6 / n, n


def _count(lines: Iterable[bytes]) -> int:
    n = 0
    for _ in lines:
        n += 1
    return n


def _validate(log: Path, config: EngineConfig) -> int:
    validate = Validator(config.pack).validate_line
    n = 0
    for line in read_lines(log):
        validate(line)
        n += 1
    return n


def _replay(log: Path, config: EngineConfig, write: Callable[[list[Record]], None]) -> int:
    return replay_lines(read_lines(log), config, write).lines


def _discard(records: list[Record]) -> None:
    pass


def _encode(records: list[Record]) -> None:
    encode_records(records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--top", type=int, default=18, help="functions listed")
    args = ap.parse_args()
    config = EngineConfig()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "bench.jsonl"
        generate_log(log, args.events)
        read, n = _cpu_us_per_line(lambda: _count(read_lines(log)), args.repeat)
        loads, _ = _cpu_us_per_line(lambda: decode_all(log), args.repeat)
        valid, _ = _cpu_us_per_line(lambda: _validate(log, config), args.repeat)
        no_encode, _ = _cpu_us_per_line(lambda: _replay(log, config, _discard), args.repeat)
        full, _ = _cpu_us_per_line(lambda: _replay(log, config, _encode), args.repeat)
        stages = [
            ("reading lines", read),
            ("validation (msgspec decode + checks)", valid - read),
            ("engine (feed, seal, windows, changelog diff)", no_encode - valid),
            ("encoding the changelog", full - no_encode),
        ]
        print(f"{n:,} lines, load average {os.getloadavg()[0]:.2f} (2 cores)")
        print(f"{'stage':<48}{'us/line':>9}{'share':>8}")
        for name, us in stages:
            print(f"{name:<48}{us:>9.2f}{us / full:>8.0%}")
        print(f"{'replay, all stages':<48}{full:>9.2f}")
        print(f"{'orjson.loads + reading (the ceiling)':<48}{loads:>9.2f}")
        print(f"replay / ceiling: {full / loads:.2f}x in CPU")

        prof = cProfile.Profile()
        prof.enable()
        _replay(log, config, _discard)
        prof.disable()
        stats = pstats.Stats(prof)
        rows = [
            (tt, f"{Path(file).stem}.{name}" if file != "~" else name)
            for (file, _line, name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items()  # type: ignore[attr-defined]
        ]
        total = sum(tt for tt, _ in rows)
        print(f"\nreplay under cProfile, own time by function (top {args.top}):")
        print(f"{'function':<48}{'share':>8}{'us/line*':>10}")
        for tt, name in sorted(rows, reverse=True)[: args.top]:
            print(f"{name:<48}{tt / total:>8.1%}{tt / total * no_encode:>10.2f}")
        print("* share of the unprofiled replay-without-encoding time per line")


if __name__ == "__main__":
    main()
