"""The `pulseboard` command: one entry point, one subcommand per part of the pipeline."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from aiokafka.errors import KafkaConnectionError

from consumers import record, replay
from consumers.aggregate import command as aggregate
from consumers.anomalies import service as anomalies
from producers import command as produce
from producers.replay_to_kafka import ReplayOptions, replay_to_kafka
from pulseboard import localbroker, spec, supervisor
from pulseboard.cli_support import (
    cluster_options,
    fatal,
    kafka_up,
    load_config,
    print_topics,
    unreachable,
)
from pulseboard.commands import history
from pulseboard.config import Config, ConfigError
from pulseboard.connect import one_shot
from pulseboard.localbroker import BrokerError
from pulseboard.logs import configure_logging
from pulseboard.sessions import session_for_log
from pulseboard.topics import describe_topics, drop_topics
from web import command as serve


def build_parser() -> argparse.ArgumentParser:
    common = cluster_options()
    parser = argparse.ArgumentParser(
        prog="pulseboard",
        description="Real-time monitor of a region's freight and sector economy "
        "(--region guizhou or morocco).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    kafka = sub.add_parser("kafka", help="the local Kafka broker (or topics on a given cluster)")
    kafka_sub = kafka.add_subparsers(dest="action", required=True)
    for action, text in (
        ("up", "start the broker and create the topics"),
        ("down", "stop the local broker"),
        ("status", "report broker, topics and partitions"),
        ("drop", "delete a replay session's topics (--session NAME)"),
    ):
        kafka_sub.add_parser(action, parents=[common], help=text)

    produce.add_arguments(
        sub.add_parser("produce", parents=[common], help="publish synthetic events of the region")
    )
    replay_parser = sub.add_parser(
        "replay",
        parents=[common],
        help="final indicator records from an event log, or the log back into Kafka",
    )
    replay.add_arguments(replay_parser)
    history.add_replay_option(replay_parser)
    history.add_history_parser(sub, common)
    record.add_arguments(
        sub.add_parser("record", parents=[common], help="write the events topics to an event log")
    )
    aggregate.add_arguments(
        sub.add_parser("aggregate", parents=[common], help="the live indicator aggregator")
    )
    anomalies.add_arguments(
        sub.add_parser("anomalies", parents=[common], help="the live anomaly call-out service")
    )
    serve.add_arguments(sub.add_parser("serve", parents=[common], help="push server and wall page"))
    up = sub.add_parser("up", parents=[common], help="run the whole system")
    produce.add_arguments(up)
    history.add_up_options(up)
    up.add_argument(
        "--web-port",
        type=int,
        default=8080,
        help="port of the wall page and websocket (default 8080)",
    )
    up.add_argument(
        "--prometheus",
        action="store_true",
        help="also run Debian's /usr/bin/prometheus scraping the services, with the alert "
        "rules of deploy/prometheus/rules (state in PULSEBOARD_STATE_DIR/prometheus)",
    )
    up.add_argument(
        "--aggregator-metrics-port",
        type=int,
        default=9102,
        help="the aggregator's Prometheus metrics port (default 9102)",
    )
    up.add_argument(
        "--prometheus-port",
        type=int,
        default=9090,
        help="Prometheus port on 127.0.0.1 (default 9090)",
    )
    return parser


def kafka_status(config: Config) -> int:
    if config.uses_local_broker:
        paths = localbroker.BrokerPaths.of(config.broker)
        pid = localbroker.running_pid(paths)
        if pid is None:
            print(f"local broker: not running (state {paths.home})")
            return 3
        print(
            f"local broker: running, pid {pid}, {config.bootstrap_servers}, "
            f"Kafka {localbroker.kafka_version()}, logs {paths.server_log}"
        )
    print_topics(asyncio.run(describe_topics(config)))
    return 0


def replay_into_kafka(args: argparse.Namespace, config: Config) -> int:
    # Wrong arguments fail at once, never after waiting for the cluster.
    if args.speed is not None and args.speed <= 0:
        raise ConfigError(f"--speed must be > 0 (got {args.speed})")
    if args.log != "-" and not os.path.isfile(args.log):
        raise ConfigError(f"no such file: {args.log}")
    names = {"freight": spec.TOPIC_FREIGHT, "sector": spec.TOPIC_SECTOR}
    chosen = [t.strip() for t in args.topics.split(",") if t.strip()]
    if not chosen or any(t not in names for t in chosen):
        raise ConfigError(f"--topics takes freight, sector or both (got {args.topics!r})")
    chosen_topics = (args.session, args.topic_prefix)
    from_env = ("PULSEBOARD_SESSION", "PULSEBOARD_TOPIC_PREFIX")
    if all(x is None for x in chosen_topics) and not any(os.environ.get(v) for v in from_env):
        # Replays are isolated by default: unless told which topics to write, a session of
        # their own, named after the log.
        config = replace(
            config, kafka=replace(config.kafka, session=session_for_log(args.log))
        ).validate()
    configure_logging(config)
    config = one_shot(config)
    opts = ReplayOptions(
        speed=args.speed,
        reorder_ms=args.reorder_ms,
        topics=tuple(names[t] for t in chosen),
        end=not args.no_end,
        force=args.force,
    )
    session = config.kafka.session
    print(
        f"replaying {args.log} into session {session!r} (topics {config.kafka.prefix}*)",
        file=sys.stderr,
    )
    sent, seconds = asyncio.run(replay_to_kafka(config, args.log, opts))
    print(
        f"replayed {sent} records into {config.bootstrap_servers} in {seconds:.2f} s",
        file=sys.stderr,
    )
    if session != "live":
        print(
            f"watch it beside live: pulseboard up --session {session} --web-port 8081 "
            "--aggregator-metrics-port 9112",
            file=sys.stderr,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "history" or getattr(args, "to_history", None):
            if args.command == "replay":
                return history.replay_to_history(args, load_config(args))
            return history.run(args, load_config(args))
        if args.command == "replay" and not args.to_kafka:
            return replay.run(args, load_config(args).pack)
        config = load_config(args)
        if args.command == "replay":
            return replay_into_kafka(args, config)
        if args.command == "kafka":
            if args.action == "up":
                return kafka_up(config)
            if args.action == "down":
                if not config.uses_local_broker:
                    raise ConfigError(
                        "`kafka down` stops the local broker only; drop --bootstrap-servers"
                    )
                stopped = localbroker.stop(config.broker)
                print("local broker stopped" if stopped else "local broker was not running")
                return 0
            if args.action == "drop":
                for name in asyncio.run(drop_topics(config)):
                    print(f"deleted topic {name}")
                return 0
            return kafka_status(config)
        if args.command == "aggregate":
            return aggregate.run(args, config)
        if args.command == "serve":
            return serve.run(args, config)
        if args.command == "anomalies":
            return anomalies.run(args, config)
        if args.command == "record":
            return record.run(args, config)
        if args.command == "produce":
            return produce.run(args, config)
        if args.command == "up":
            return supervisor.run(args, config)
    except (ConfigError, BrokerError) as exc:
        fatal(str(exc))
        return 2
    except KafkaConnectionError as exc:
        where = getattr(args, "bootstrap_servers", None) or "the configured cluster"
        fatal(unreachable(where, exc))
        return 2
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
