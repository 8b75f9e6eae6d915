"""`pulseboard produce`: run the simulation and publish it to Kafka, or write it to a log."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import time

from producers.incident_targets import known_targets
from producers.incidents import IncidentError, check_targets, parse_incident, truth_lines
from producers.metrics import ProducerMetrics
from producers.publisher import BatchPublisher
from producers.simulation import SimConfig, Simulation
from pulseboard import spec
from pulseboard.config import Config, ConfigError
from pulseboard.connect import wait_for_cluster
from pulseboard.eventlog import LogWriter
from pulseboard.logs import configure_logging, log_start
from pulseboard.metrics_server import serve_metrics
from pulseboard.moments import parse_start
from pulseboard.packs import RegionPack
from pulseboard.progress import END, LEAVE
from pulseboard.publishing import producer_for

TICK_S = 0.02
# How often progress markers go into every partition (pulseboard.progress): the final values
# trail the newest data by about this much more than the allowed lateness.
MARK_S = 0.2
# How long a record may wait in a partly filled batch (Kafka's linger, at the batch level).
LINGER_S = 0.05
CHUNK = 5_000

log = logging.getLogger("pulseboard.produce")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="mean events per second of real time (default 1000)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second, e.g. 144 = a day in ten minutes",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--start", help="simulated clock start, ISO 8601 with offset (default now)")
    parser.add_argument("--duration", type=float, help="stop after this many real seconds")
    parser.add_argument("--count", type=int, help="stop after this many records")
    parser.add_argument(
        "--unpaced",
        action="store_true",
        help="publish as fast as possible instead of in simulated real time",
    )
    parser.add_argument("--invalid-fraction", type=float, default=0.0)
    parser.add_argument("--late-fraction", type=float, default=0.0)
    parser.add_argument("--future-fraction", type=float, default=0.0)
    parser.add_argument(
        "--to-file",
        metavar="LOG",
        help="write a SPEC section 5 event log (.gz compresses) instead of publishing",
    )
    parser.add_argument(
        "--incident",
        action="append",
        default=[],
        metavar="KIND@START/DURATION[:TARGET]",
        help="inject a labelled incident (repeatable), e.g. dc_outage@+2h/45m (no TARGET: "
        "the region pack's default); START is +DURATION after --start or ISO 8601 with "
        "offset (see docs/anomalies.md)",
    )
    parser.add_argument(
        "--incidents-out",
        metavar="FILE",
        help="write the incidents' ground truth (kind, target, start, end) as JSON Lines",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9101,
        help="Prometheus metrics port on 127.0.0.1 (0 disables; default 9101)",
    )


def sim_config(args: argparse.Namespace, pack: RegionPack) -> SimConfig:
    if args.rate <= 0:
        raise ConfigError(f"--rate must be > 0 (got {args.rate})")
    if args.speed <= 0:
        raise ConfigError(f"--speed must be > 0 (got {args.speed})")
    if args.count is not None and args.count < 0:
        raise ConfigError(f"--count must be >= 0 (got {args.count})")
    start_ms = parse_start(args.start)
    try:
        incidents = tuple(
            parse_incident(text, start_ms, pack.incident_targets) for text in args.incident
        )
        if incidents:
            check_targets(incidents, known_targets(pack))
    except IncidentError as exc:
        raise ConfigError(str(exc)) from None
    try:
        return SimConfig(
            seed=args.seed,
            start_ms=start_ms,
            incidents=incidents,
            events_per_sim_second=args.rate / args.speed,
            invalid_fraction=args.invalid_fraction,
            late_fraction=args.late_fraction,
            future_fraction=args.future_fraction,
            pack=pack,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def write_log(sim: Simulation, path: str, count: int) -> int:
    """Write `count` records to a log; returns the number written."""
    with LogWriter(path) as writer:
        left = count
        while left > 0:
            batch = sim.take(min(CHUNK, left))
            for rec in batch:
                writer.write_record(rec.value, rec.ingest_ts)
            left -= len(batch)
        return writer.lines


async def publish_live(
    config: Config, sim: Simulation, args: argparse.Namespace, metrics: ProducerMetrics
) -> tuple[int, int, float]:
    """Publish until count, duration or a signal; returns (sent, acked, seconds)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    topics = [config.kafka.topic(t) for t in (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)]
    if await wait_for_cluster(config, topics, "produce", log, stop) is None:
        return 0, 0, 0.0
    producer = producer_for(config)
    await producer.start()
    publisher = BatchPublisher(
        producer, metrics, config.kafka.prefix, progress_topics=tuple(topics)
    )
    started = time.monotonic()
    next_mark = 0.0
    try:
        # The first marker precedes every record: from here on the aggregator waits for
        # this producer (pulseboard.progress).
        await publisher.mark(sim.config.start_ms)
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if args.duration is not None and elapsed >= args.duration:
                break
            left = None if args.count is None else args.count - publisher.sent
            if left is not None and left <= 0:
                break
            promise = None  # default: the greatest ingest_ts published
            if args.unpaced:
                records = sim.take(CHUNK if left is None else min(CHUNK, left))
            else:
                due = sim.config.start_ms + int(elapsed * args.speed * 1000)
                records = sim.advance(due)
                if left is not None and len(records) > left:
                    # The rest of this tick's records stay unsent: --count is exact.
                    records = records[:left]
                else:
                    promise = due + 1  # every record stamped up to `due` was handed out
            await publisher.publish(records)
            now = time.monotonic()
            if now >= next_mark:
                next_mark = now + MARK_S
                await publisher.mark(promise)
            await publisher.send_due(LINGER_S)
            if not args.unpaced:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=TICK_S)
            else:
                await asyncio.sleep(0)
        # A run stopped by a signal is not the end of the input (it, or another producer,
        # goes on from here): it leaves. A run of a definite length (--count, --duration)
        # is a whole input: it ends, so every final value of it completes.
        await publisher.finish(LEAVE if stop.is_set() else END)
    finally:
        await producer.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return publisher.sent, publisher.acked, time.monotonic() - started


def run(args: argparse.Namespace, config: Config) -> int:
    configure_logging(config)
    sim = Simulation(sim_config(args, config.pack))
    if args.incidents_out:
        with open(args.incidents_out, "wb") as fh:  # the truth is known before the run
            fh.write(truth_lines(sim.config.incidents))
    # The fleet is ~100k long-lived objects; without this the cycle collector rescans them
    # over and over (measured: 1.46 s of every 1M records, 0.05 s with it).
    gc.freeze()
    if args.to_file:
        if args.count is None:
            raise ConfigError("--to-file needs --count N (a log has a definite length)")
        started = time.monotonic()
        written = write_log(sim, args.to_file, args.count)
        seconds = time.monotonic() - started
        log.info("wrote %d records to %s in %.2f s", written, args.to_file, seconds)
        return 0
    log_start(
        log,
        "produce",
        config,
        rate=args.rate,
        speed=args.speed,
        seed=args.seed,
        region=config.region,
        start_ms=sim.config.start_ms,
        metrics_port=args.metrics_port,
    )
    metrics = ProducerMetrics.create()
    server = serve_metrics(metrics.registry, args.metrics_port, config.metrics_host)
    try:
        sent, acked, seconds = asyncio.run(publish_live(config, sim, args, metrics))
    except Exception as exc:
        log.error("produce: stopping: %r", exc, extra={"event": "error"})
        raise
    finally:
        if server is not None:
            server.shutdown()
    rate = acked / seconds if seconds > 0 else 0.0
    log.info(
        "published %d of %d records to %s in %.2f s (%s events/s)",
        acked,
        sent,
        config.bootstrap_servers,
        seconds,
        f"{rate:,.0f}",
        extra={"event": "stop", "service": "produce", "sent": sent, "acked": acked},
    )
    return 0 if acked == sent else 1
