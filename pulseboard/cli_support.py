"""What the `pulseboard` command shares with the other entry points (`python -m
consumers.aggregate`, `python -m web.fake_feed`) and with `pulseboard up`'s supervisor:
the cluster flags, reading them into a Config, bringing Kafka up, and the last words of a
command that fails. Nothing here imports the CLI, so the CLI stays a leaf that nothing
imports."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pulseboard import localbroker
from pulseboard.config import Config, config_from_env
from pulseboard.connect import ONE_SHOT_TIMEOUT_S
from pulseboard.logs import JsonFormatter
from pulseboard.topics import ensure_topics


def cluster_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("cluster")
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT[,...]",
        help="use this Kafka cluster instead of the local broker "
        "(env PULSEBOARD_BOOTSTRAP; SASL/TLS via PULSEBOARD_SECURITY_PROTOCOL, "
        "PULSEBOARD_SASL_*, PULSEBOARD_SSL_*)",
    )
    group.add_argument(
        "--topic-prefix",
        help="prefix of every topic name (env PULSEBOARD_TOPIC_PREFIX; default the region "
        "pack's own, so two regions on one cluster never mix)",
    )
    group.add_argument(
        "--region",
        metavar="PACK",
        help="the area whose events these are: guizhou or morocco (env PULSEBOARD_REGION; "
        "default guizhou); see docs/regions.md",
    )
    group.add_argument(
        "--session",
        metavar="NAME",
        help="run on a replay session's own topics (prefix 'session-NAME.') instead of the "
        "live ones, e.g. to watch a replayed log beside live on the same broker "
        "(env PULSEBOARD_SESSION; default live)",
    )
    group.add_argument(
        "--kafka-port",
        type=int,
        help="port of the local broker on 127.0.0.1 (env PULSEBOARD_KAFKA_PORT; default 19092)",
    )
    group.add_argument(
        "--connect-timeout",
        type=float,
        metavar="SECONDS",
        help="services (produce, aggregate, serve, record --follow, the fake feed) retry "
        "an unreachable cluster for ever, one-shot tools (record, replay --to-kafka) for "
        f"{ONE_SHOT_TIMEOUT_S:g} s; give up after this long instead (inf: never), exit "
        "code 2 (env PULSEBOARD_CONNECT_TIMEOUT)",
    )
    logs = common.add_argument_group("logging")
    logs.add_argument(
        "--log-format",
        help="text (default) or json: one JSON object per line (env PULSEBOARD_LOG_FORMAT)",
    )
    return common


def load_config(args: argparse.Namespace) -> Config:
    return config_from_env(
        bootstrap_servers=getattr(args, "bootstrap_servers", None),
        topic_prefix=getattr(args, "topic_prefix", None),
        session=getattr(args, "session", None),
        port=getattr(args, "kafka_port", None),
        log_format=getattr(args, "log_format", None),
        connect_timeout_s=getattr(args, "connect_timeout", None),
        region=getattr(args, "region", None),
    )


def cluster_argv(config: Config) -> list[str]:
    """Flags that make a child process talk to the same cluster with the same topics.

    Security settings travel in the environment (inherited), never on a command line
    where `ps` would show a password."""
    argv = ["--topic-prefix", config.kafka.topic_prefix, "--session", config.kafka.session]
    argv += ["--region", config.region]
    if config.uses_local_broker:
        argv += ["--kafka-port", str(config.broker.port)]
    else:
        argv += ["--bootstrap-servers", config.bootstrap_servers]
    return argv


def kafka_up(config: Config) -> int:
    if config.uses_local_broker:
        localbroker.start(config.broker)
    created, topics = asyncio.run(ensure_topics(config))
    for name in created:
        print(f"created topic {name}")
    print_topics(topics)
    print(f"Kafka ready at {config.bootstrap_servers}")
    return 0


def print_topics(topics: Sequence[object]) -> None:
    for t in topics:
        note = "" if t.partitions == t.wanted else f" (config asks for {t.wanted})"  # type: ignore[attr-defined]
        print(f"topic {t.name}: {t.partitions} partitions{note}")  # type: ignore[attr-defined]


def unreachable(where: str, exc: BaseException) -> str:
    """What a command that gave up on an unreachable cluster says last."""
    return (
        f"cannot reach Kafka at {where} ({exc}). Check --bootstrap-servers "
        "/ PULSEBOARD_BOOTSTRAP, or start the local broker with `pulseboard kafka up`."
    )


def fatal(message: str) -> None:
    """The last word of a failing command: a JSON line when the service already logs JSON
    (a log shipper must not meet one plain line), else the usual 'pulseboard: error:'."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        logging.getLogger("pulseboard").error(message, extra={"event": "fatal"})
    else:
        print(f"pulseboard: error: {message}", file=sys.stderr)
