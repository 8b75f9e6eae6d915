"""`pulseboard replay LOG --to-history SESSION` and `pulseboard history list|drop`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from consumers.anomalies.detector import Callout
from consumers.anomalies.offline import Callouts, detector_config
from consumers.anomalies.records import callout_key, encode_callout
from consumers.engine import EngineConfig
from consumers.replay import replay_lines
from pulseboard.anomalies import Anomaly, parse_anomaly
from pulseboard.commands import backfill
from pulseboard.config import Config, ConfigError
from pulseboard.connect import one_shot, wait_for_cluster
from pulseboard.eventlog import read_lines
from pulseboard.history.codec import Drop, HistoryRecord
from pulseboard.history.indexer import catch_up
from pulseboard.history.sessions import BadSessionName, check_session_name
from pulseboard.history.spool import Spool
from pulseboard.history.store import HistoryReader, IndexInUse, index_path
from pulseboard.history.writer import (
    SessionWriter,
    finish_session,
    history_topic,
    replace_session,
)
from pulseboard.publishing import producer_for

log = logging.getLogger("pulseboard.history")
DEFAULT_WALL = "http://127.0.0.1:8080"


def add_history_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    history = sub.add_parser("history", help="sessions of indicator history (docs/history.md)")
    actions = history.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "list",
        parents=[common],
        help="the sessions, their ranges and record counts (brings the local index up to date)",
    )
    drop = actions.add_parser("drop", parents=[common], help="delete a session everywhere")
    # Not dest "session": that is the cluster options' --session (the topics a command uses).
    drop.add_argument("drop_session", metavar="SESSION")
    fill = actions.add_parser(
        "backfill",
        parents=[common],
        help="fill session live with simulated past days (as `up --backfill`)",
    )
    backfill.add_options(fill, prefix="--")
    fill.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="mean events per simulated second, as `produce --rate` (default 1000)",
    )
    fill.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    fill.set_defaults(speed=1.0)


def add_up_options(up: argparse.ArgumentParser) -> None:
    up.add_argument(
        "--backfill",
        action="store_true",
        help="before starting, fill the live history with simulated past days (computed "
        "from the same simulation at --rate/--speed by the offline engine), so the wall "
        "can compare with yesterday at once",
    )
    backfill.add_options(up)


def add_replay_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to-history",
        metavar="SESSION",
        help="store the log's final records and their anomaly call-outs (as the live "
        "service finds them; --anomaly-period applies) as history session SESSION "
        "(replacing it), to open on the wall with ?session=SESSION",
    )
    parser.add_argument(
        "--wall",
        metavar="URL",
        default=DEFAULT_WALL,
        help=f"with --to-history: the wall's address to print (default {DEFAULT_WALL})",
    )


def _session(name: str) -> str:
    try:
        return check_session_name(name)
    except BadSessionName as exc:
        raise ConfigError(str(exc)) from None


def _iso(t: int, config: Config) -> str:
    """Second ``t`` in the region's local time."""
    return datetime.fromtimestamp(t, ZoneInfo(config.pack.time_zone)).isoformat()


# ------------------------------------------------------------------- replay --to-history


async def _reachable(config: Config) -> None:
    await wait_for_cluster(config, [history_topic(config)], "replay", log)


def as_anomalies(callouts: list[Callout]) -> list[Anomaly]:
    """The detector's call-outs as the history index reads them: through the live service's
    own encoder (key ``name|key``, JSON) and the one parser of anomaly records, so a replayed
    session's call-outs are byte for byte what the service would have published."""
    return [parse_anomaly(callout_key(c), encode_callout(c)) for c in callouts]


async def _store(
    config: Config,
    session: str,
    spool: Spool,
    anomalies: list[Anomaly],
    t_from: int,
    t_to: int,
) -> int:

    producer = producer_for(config, "pulseboard-history-writer")
    await producer.start()
    try:
        writer = SessionWriter(producer, history_topic(config), session)

        async def chunks() -> AsyncIterator[list[HistoryRecord]]:
            for chunk in spool.chunks():
                yield chunk

        generation, written = await replace_session(writer, chunks())
        # Between the records and the end, in the same generation: a replay run again
        # replaces its call-outs with the rest (docs/history.md, "Call-outs").
        await writer.anomalies(anomalies, generation)
        await finish_session(writer, generation, t_from, t_to)
        return written.records
    finally:
        await producer.stop()


def replay_to_history(args: argparse.Namespace, config: Config) -> int:
    from pulseboard.logs import configure_logging

    session = _session(args.to_history)
    if args.out is not None or args.to_kafka:
        raise ConfigError("--to-history goes alone: drop --out / --to-kafka")
    if args.anomalies is not None:
        raise ConfigError(
            "--to-history stores the call-outs in the session itself: drop --anomalies "
            "(or run `replay LOG --anomalies FILE` on its own for a file)"
        )
    detector = detector_config(args)
    if args.every != 1:
        raise ConfigError("--to-history keeps every second; drop --every")
    try:
        engine = EngineConfig(
            lateness_ms=args.lateness_ms, future_ms=args.future_ms, every=1, pack=config.pack
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.reorder_ms < 0:
        raise ConfigError("--reorder-ms must be >= 0")
    if args.log != "-" and not os.path.isfile(args.log):
        raise ConfigError(f"no such file: {args.log}")
    configure_logging(config)
    config = one_shot(config)
    asyncio.run(_reachable(config))  # fails before the replay if Kafka is not there
    spool = Spool()
    callouts = Callouts(detector)
    try:
        try:
            report = replay_lines(
                read_lines(args.log), engine, callouts.tee(spool.write), reorder_ms=args.reorder_ms
            )
        except (OSError, EOFError) as exc:
            print(
                f"replay: cannot read {args.log}: {exc}; session {session} left as it was",
                file=sys.stderr,
            )
            return 1
        print(report.summary(), file=sys.stderr)
        lo, hi = report.stats.lo_ts, report.stats.hi_ts
        if lo is None or hi is None:
            print(
                f"replay: {args.log} has no counted events; session {session} left as it was",
                file=sys.stderr,
            )
            return 1
        t_from, t_to = lo // 1000 + 1, hi // 1000 + 1
        anomalies = as_anomalies(callouts.finish())
        stored = asyncio.run(_store(config, session, spool, anomalies, t_from, t_to))
    finally:
        spool.close()
    wall = args.wall.rstrip("/")
    print(
        f"stored {stored} final records and {len(anomalies)} call-out records "
        f"as history session {session!r}, "
        f"T {t_from}..{t_to} ({_iso(t_from, config)} .. {_iso(t_to, config)})\n"
        f"open it on the wall: {wall}/?session={session}"
    )
    return 0


# ---------------------------------------------------------------------- history list/drop


def history_list(config: Config) -> int:
    from pulseboard.logs import configure_logging

    configure_logging(config)
    config = one_shot(config)
    directory = config.history_index_dir
    try:
        asyncio.run(catch_up(config, directory))
        source = f"index {directory}, up to date with {history_topic(config)}"
    except IndexInUse:
        source = f"index {directory}, kept up to date by the push server that holds it"
    if not index_path(directory).exists():
        print("no history yet")
        return 0
    reader = HistoryReader(directory)
    try:
        sessions = reader.all_sessions()
    finally:
        reader.close()
    print(f"# {source}")
    if not sessions:
        print("no sessions")
    for s, complete in sessions:
        state = "" if complete else "  (being written; not shown yet)"
        span = f"{_iso(s.t_from, config)} .. {_iso(s.t_to, config)}" if s.records else "-"
        print(f"{s.name:24} {s.records:>12} records  {span}{state}")
    return 0


async def _drop(config: Config, session: str) -> None:

    await _reachable(config)
    producer = producer_for(config, "pulseboard-history-writer")
    await producer.start()
    try:
        writer = SessionWriter(producer, history_topic(config), session)
        await writer.control(Drop())
        await writer.close()
    finally:
        await producer.stop()


def history_drop(args: argparse.Namespace, config: Config) -> int:
    from pulseboard.logs import configure_logging

    session = _session(args.drop_session)
    configure_logging(config)
    asyncio.run(_drop(one_shot(config), session))
    print(
        f"dropped history session {session!r}; every push server forgets it as it reads "
        f"{history_topic(config)} (at {datetime.now(UTC).isoformat(timespec='seconds')})"
    )
    return 0


def run(args: argparse.Namespace, config: Config) -> int:
    if args.action == "list":
        return history_list(config)
    if args.action == "backfill":
        from pulseboard.logs import configure_logging

        configure_logging(config)
        return backfill.backfill_from_args(args, config, prefix="")
    return history_drop(args, config)
