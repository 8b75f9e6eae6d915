"""``pulseboard replay LOG --out FILE``: offline final indicator records from an event log.

Reads a log (SPEC section 5; plain or .gz, ``-`` = stdin) without Kafka, runs the same
``Engine`` the live pipeline uses, and writes the final-record changelog (SPEC section 8) to
FILE (``-`` = stdout). A summary goes to stderr. Invalid lines are counted and reported,
never fatal. The same log always gives byte-identical output.

Offline, ingest time progress is the greatest ``ingest_ts`` seen so far minus a reorder
allowance (``--reorder-ms``): a log merged from several partitions is only roughly in
ingest order. Output is a pure function of the counted events as long as no line arrives
more than the allowance behind the greatest ingest_ts before it; lines that do are refused
as ``after_final`` and reported (raise ``--reorder-ms`` if that ever happens).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from consumers.anomalies.offline import AnomalyFile, detector_config
from consumers.anomalies.offline import add_argument as add_anomalies_argument
from consumers.changelog import Record, encode_records
from consumers.engine import Engine, EngineConfig, EngineStats
from consumers.events import LineEvent
from consumers.validation import Invalid, Validator
from pulseboard.eventlog import DEFAULT_REORDER_MS, read_lines
from pulseboard.packs import RegionPack
from pulseboard.spec import DEFAULT_FUTURE_MS, DEFAULT_LATENESS_MS

MAX_REPORTED_INVALID: Final = 10

# Called with each line and its validation result, before the engine sees it.
LineHook = Callable[[bytes, "LineEvent | Invalid"], None]


@dataclass(slots=True)
class ReplayReport:
    lines: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    first_invalid: list[tuple[int, str, str]] = field(default_factory=list)
    stats: EngineStats = field(default_factory=EngineStats)
    every: int = 1
    elapsed_s: float = 0.0

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())

    @property
    def emitted_seconds(self) -> int:
        """How many Ts the changelog covers: floor(lo/1000)+1 .. floor(hi/1000)+1, every
        one or the multiples of ``every`` plus the last."""
        lo, hi = self.stats.lo_ts, self.stats.hi_ts
        if lo is None or hi is None:
            return 0
        first, last = lo // 1000 + 1, hi // 1000 + 1
        n = self.every
        return last // n - (first - 1) // n + (1 if last % n else 0)

    def summary(self) -> str:
        st = self.stats
        rate = self.lines / self.elapsed_s if self.elapsed_s > 0 else 0.0
        out = [
            f"lines          {self.lines}",
            f"counted        {st.counted}",
            f"invalid        {self.invalid_total}",
            f"late           {st.late}",
            f"future         {st.future}",
        ]
        if st.after_final:
            out.append(f"after_final    {st.after_final}  (behind the reorder allowance)")
        out += [
            f"emitted secs   {self.emitted_seconds}",
            f"records        {st.records}",
            f"elapsed        {self.elapsed_s:.3f} s",
            f"events/s       {rate:,.0f}",
        ]
        for reason, n in sorted(self.invalid.items()):
            out.append(f"  invalid {reason}: {n}")
        for line_no, reason, detail in self.first_invalid:
            out.append(f"  line {line_no}: {reason}: {detail}")
        return "\n".join(out)


def replay_lines(
    lines: Iterable[bytes],
    config: EngineConfig,
    write: Callable[[list[Record]], None],
    *,
    reorder_ms: int = DEFAULT_REORDER_MS,
    on_line: LineHook | None = None,
    partition_of: Callable[[LineEvent], int] | None = None,
) -> ReplayReport:
    """Run log lines through validation and the engine, passing final records to ``write``
    in order. The whole of replay except file handling; tests call it directly.
    ``partition_of`` spreads events over several partials (tests of mergeability)."""
    engine = Engine(config)
    report = ReplayReport(stats=engine.stats, every=config.every)
    invalid = report.invalid
    feed = engine.feed
    validate = Validator(config.pack).validate_line
    max_ingest = -1
    gate = engine.next_watermark_ms
    start = time.perf_counter()
    n = 0
    for n, raw in enumerate(lines, 1):
        ev = validate(raw)
        if on_line is not None:
            on_line(raw, ev)
        if type(ev) is Invalid:
            invalid[ev.reason] += 1
            if len(report.first_invalid) < MAX_REPORTED_INVALID:
                report.first_invalid.append((n, ev.reason, ev.detail))
            continue
        ingest = ev.ingest_ts  # type: ignore[union-attr]
        feed(ev, ingest, 0 if partition_of is None else partition_of(ev))  # type: ignore[arg-type]
        if ingest > max_ingest:
            max_ingest = ingest
            watermark = ingest - reorder_ms
            if watermark >= gate:
                recs = engine.advance_watermark(watermark)
                if recs:
                    write(recs)
                gate = engine.next_watermark_ms
    recs = engine.flush()
    if recs:
        write(recs)
    report.lines = n
    report.elapsed_s = time.perf_counter() - start
    return report


class _RecordFile:
    """Final records to a file (written to a temporary name, renamed on success) or stdout."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._tmp: Path | None = None
        if path == "-":
            self._fh: BinaryIO = sys.stdout.buffer
        else:
            target = Path(path)
            self._tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
            self._fh = open(self._tmp, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below

    def write(self, records: list[Record]) -> None:
        self._fh.write(encode_records(records))

    def close(self) -> None:
        self._fh.flush()
        if self._tmp is not None:
            self._fh.close()
            os.replace(self._tmp, self._path)

    def abort(self) -> None:
        if self._tmp is not None:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)


def _discard(records: list[Record]) -> None:
    """Where final records go when only the call-outs are asked for."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", metavar="LOG", help="event log (.jsonl or .jsonl.gz; - = stdin)")
    # Not required=True at the parser level, so a `--to-kafka` mode can do without it.
    parser.add_argument("--out", metavar="FILE", help="final records output (- = stdout)")
    add_anomalies_argument(parser)
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="N",
        help="emit only the Ts divisible by N, plus the last one (default 1)",
    )
    parser.add_argument(
        "--lateness-ms",
        type=int,
        default=DEFAULT_LATENESS_MS,
        metavar="X",
        help=f"allowed lateness L (default {DEFAULT_LATENESS_MS})",
    )
    parser.add_argument(
        "--future-ms",
        type=int,
        default=DEFAULT_FUTURE_MS,
        metavar="Y",
        help=f"allowed clock skew into the future F (default {DEFAULT_FUTURE_MS})",
    )
    parser.add_argument(
        "--reorder-ms",
        type=int,
        default=DEFAULT_REORDER_MS,
        metavar="R",
        help="how far behind the greatest ingest_ts seen a line may still arrive "
        f"(default {DEFAULT_REORDER_MS})",
    )
    parser.add_argument(
        "--to-kafka",
        action="store_true",
        help="publish the log into Kafka instead (ingest_ts becomes the record timestamp); "
        "a one-shot tool: it waits at most 30 s for an unreachable cluster, then exits 2 "
        "(--connect-timeout changes that; inf waits for ever)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        metavar="X",
        help="with --to-kafka: X times real time (default: as fast as possible)",
    )
    parser.add_argument(
        "--topics",
        default="freight,sector",
        metavar="freight,sector",
        help="with --to-kafka: publish only these topics' events (and speak for only their "
        "partitions), e.g. one part of a log now and the other later (default both)",
    )
    parser.add_argument(
        "--no-end",
        action="store_true",
        help="with --to-kafka: more of this input follows (the next part of the log, "
        "replayed later with --force): leave the session open instead of ending it",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --to-kafka: publish even into topics a live aggregator consumes, or into "
        "a session that already holds records (without it such a replay is refused)",
    )


def run(args: argparse.Namespace, pack: RegionPack) -> int:
    anomalies_path = getattr(args, "anomalies", None)
    if args.out is None and anomalies_path is None:
        print("replay: --out FILE is required (or --anomalies, or --to-kafka)", file=sys.stderr)
        return 2
    try:
        config = EngineConfig(
            lateness_ms=args.lateness_ms, future_ms=args.future_ms, every=args.every, pack=pack
        )
    except ValueError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    if args.reorder_ms < 0:
        print("replay: --reorder-ms must be >= 0", file=sys.stderr)
        return 2
    if args.log != "-" and not os.path.exists(args.log):
        print(f"replay: no such file: {args.log}", file=sys.stderr)
        return 2
    try:
        anomaly_config = detector_config(args) if anomalies_path else None
    except ValueError as exc:  # a ConfigError: a bad --anomaly-period
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    try:
        out = _RecordFile(args.out) if args.out is not None else None
        anomalies = AnomalyFile(anomalies_path, anomaly_config) if anomalies_path else None
    except OSError as exc:
        print(f"replay: cannot write: {exc}", file=sys.stderr)
        return 2
    write = out.write if out is not None else _discard
    if anomalies is not None:
        write = anomalies.tee(write)
    on_line: LineHook | None = None  # --to-kafka: the Kafka event sink goes here
    try:
        report = replay_lines(
            read_lines(args.log), config, write, reorder_ms=args.reorder_ms, on_line=on_line
        )
    except (OSError, EOFError) as exc:  # unreadable or truncated log (e.g. a cut .gz)
        if out is not None:
            out.abort()
        if anomalies is not None:
            anomalies.abort()
        print(f"replay: cannot read {args.log}: {exc}; no output written", file=sys.stderr)
        return 1
    except BaseException:
        if out is not None:
            out.abort()
        if anomalies is not None:
            anomalies.abort()
        raise
    if out is not None:
        out.close()
    if anomalies is not None:
        anomalies.close()
        print(f"anomalies      {anomalies.callouts} call-out records", file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulseboard replay", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
