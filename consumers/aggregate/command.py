"""`pulseboard aggregate`: the live aggregator (both stages; see docs/aggregator.md)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal

from aiokafka.errors import KafkaConnectionError, KafkaError

from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.options import AggregateOptions
from consumers.aggregate.runner import run_aggregator
from consumers.aggregate.sealer import MARKERS, PROGRESS_MODES
from consumers.aggregate.sink import PublishError
from pulseboard import spec
from pulseboard.config import Config, ConfigError
from pulseboard.connect import wait_for_cluster
from pulseboard.gc_pauses import freeze_start_up, watch_gc_pauses
from pulseboard.logs import configure_logging, log_start, log_stop
from pulseboard.metrics_server import serve_metrics

log = logging.getLogger("pulseboard.aggregate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9102,
        help="Prometheus metrics port on 127.0.0.1 (0 disables; default 9102)",
    )
    parser.add_argument(
        "--lateness-ms",
        type=int,
        default=None,
        metavar="X",
        help="allowed lateness L (default PULSEBOARD_LATENESS_MS or 30000)",
    )
    parser.add_argument(
        "--future-ms",
        type=int,
        default=None,
        metavar="Y",
        help="allowed clock skew F (default PULSEBOARD_FUTURE_MS or 5000)",
    )
    parser.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default=MARKERS,
        help="how a partition's progress is known: 'markers' (default; exact) from the "
        "progress markers pulseboard's producers and replayer write into every partition, "
        "'idle' from record timestamps and the wall-clock idle rule, for producers that "
        "write no markers (its limits: docs/aggregator.md)",
    )
    parser.add_argument(
        "--producer-timeout-ms",
        type=int,
        default=30_000,
        help="with --progress markers: a producer silent this long on a watched, caught-up "
        "partition is given up (crashed without leaving) so that the others' progress "
        "counts alone (default 30000)",
    )
    parser.add_argument(
        "--idle-ms",
        type=int,
        default=2000,
        help="with --progress idle: a caught-up partition without records for this long "
        "advances its watermark by wall-clock time (default 2000)",
    )
    parser.add_argument(
        "--idle-speed",
        type=float,
        default=1.0,
        help="with --progress idle: watermark ms per wall-clock ms for idle partitions: "
        "the producer's --speed when it publishes simulated time (default 1)",
    )
    parser.add_argument(
        "--role",
        choices=("all", "sealer", "finalizer"),
        default="all",
        help="run both stages (default) or only one",
    )
    parser.add_argument(
        "--seal-interval-ms",
        type=int,
        default=200,
        help="how often each partition's sealed seconds are sent (default 200)",
    )
    parser.add_argument(
        "--provisional-interval-ms",
        type=int,
        default=100,
        help="how often provisional values are sent (default 100; match serve --coalesce-hz)",
    )
    parser.add_argument(
        "--commit-interval-ms",
        type=int,
        default=1000,
        help="how often offsets are committed (default 1000)",
    )
    parser.add_argument(
        "--checkpoint-interval-ms",
        type=int,
        default=10_000,
        help="how often the finalizer writes a checkpoint (default 10000)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )


def options(args: argparse.Namespace, config: Config) -> AggregateOptions:
    lateness = config.lateness_ms if args.lateness_ms is None else args.lateness_ms
    future = config.future_ms if args.future_ms is None else args.future_ms
    for flag, value, low in (
        ("--lateness-ms", lateness, 0),
        ("--future-ms", future, 0),
        ("--idle-ms", args.idle_ms, 0),
        ("--producer-timeout-ms", args.producer_timeout_ms, 1),
        ("--seal-interval-ms", args.seal_interval_ms, 10),
        ("--provisional-interval-ms", args.provisional_interval_ms, 10),
        ("--commit-interval-ms", args.commit_interval_ms, 10),
        ("--checkpoint-interval-ms", args.checkpoint_interval_ms, 100),
    ):
        if value < low:
            raise ConfigError(f"{flag} must be >= {low} (got {value})")
    if not args.idle_speed > 0:
        raise ConfigError(f"--idle-speed must be > 0 (got {args.idle_speed})")
    if args.provisional_interval_ms > 500:
        log.warning(
            "--provisional-interval-ms %d: provisional values will be sent less than "
            "twice a second",
            args.provisional_interval_ms,
        )
    return AggregateOptions(
        lateness_ms=lateness,
        future_ms=future,
        idle_ms=args.idle_ms,
        idle_speed=args.idle_speed,
        progress=args.progress,
        producer_timeout_ms=args.producer_timeout_ms,
        seal_interval_ms=args.seal_interval_ms,
        provisional_interval_ms=args.provisional_interval_ms,
        commit_interval_ms=args.commit_interval_ms,
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        sealer=args.role in ("all", "sealer"),
        finalizer=args.role in ("all", "finalizer"),
    )


async def _main(config: Config, opts: AggregateOptions, metrics: AggregatorMetrics) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        k = config.kafka
        topics = [k.topic(t) for t in (*k.partitions(), spec.TOPIC_INDICATORS)]
        if await wait_for_cluster(config, sorted(set(topics)), "aggregate", log, stop) is not None:
            await run_aggregator(config, opts, metrics, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _stop_early(signum: int, _frame: object) -> None:
    # SIGTERM / SIGINT before the loop runs (it installs its own handlers): nothing to save.
    raise SystemExit(0)


def run(args: argparse.Namespace, config: Config) -> int:
    signal.signal(signal.SIGTERM, _stop_early)
    configure_logging(config, args.log_level)
    opts = options(args, config)
    log_start(
        log,
        "aggregate",
        config,
        role=args.role,
        options=dataclasses.asdict(opts),
        metrics_port=args.metrics_port,
    )
    metrics = AggregatorMetrics.create(province_key=config.pack.province.code)
    server = serve_metrics(metrics.registry, args.metrics_port, config.metrics_host)
    # Everything alive now (modules, configuration) lives as long as the process: frozen
    # once, full collections stop traversing it. The windows are built after this, so they
    # stay collectable (and their own state is kept untracked by the collector).
    freeze_start_up()
    try:
        with watch_gc_pauses(metrics.gc_pause):
            asyncio.run(_main(config, opts, metrics))
    except PublishError as exc:
        log.error("aggregate: stopping: %s", exc, extra={"event": "error"})
        return 1
    except KafkaConnectionError:
        raise  # gave up waiting (--connect-timeout): the CLI says what to check, exit code 2
    except KafkaError as exc:
        log.error("aggregate: stopping on a Kafka error: %r", exc, extra={"event": "error"})
        return 1
    finally:
        if server is not None:
            server.shutdown()
    log_stop(log, "aggregate")
    return 0
