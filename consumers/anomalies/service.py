"""`pulseboard anomalies`: the live anomaly service (started by `pulseboard up`).

Reads the session's final records from the history topic (docs/history.md) from the
beginning, so the baselines are rebuilt from Kafka on every start (backfilled days and the
live aggregator's own records alike), runs the detector (consumers/anomalies/follow.py) and
publishes each call-out to ``<prefix>anomalies`` (key ``name|key``). Before reading, it looks
up the greatest ``t`` already on the anomalies topic: those call-outs were published by an
earlier run and are not sent again. The history topic has one partition and is read without
a consumer group (like each push server's index); run one instance per session.

Metrics on --metrics-port: ``pulseboard_anomalies_active{name,key}`` (1 while called out, 0
after), ``pulseboard_anomalies_learning`` (1 until enough days exist) and
``pulseboard_anomaly_callouts_total{state}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

import orjson
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from consumers.anomalies.detector import Callout, DetectorConfig
from consumers.anomalies.follow import Follower
from consumers.anomalies.offline import add_period_argument, detector_config
from consumers.anomalies.records import callout_key, encode_callout
from pulseboard.config import TOPIC_ANOMALIES, TOPIC_HISTORY, Config
from pulseboard.connect import wait_for_cluster
from pulseboard.history.codec import BadMessage, decode
from pulseboard.kafka_client import kafka_consumer
from pulseboard.logs import configure_logging, log_start
from pulseboard.metrics_server import serve_metrics
from pulseboard.publishing import producer_for
from pulseboard.service_metrics import add_service_metrics

log = logging.getLogger("pulseboard.anomalies")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9103,
        help="Prometheus metrics port on 127.0.0.1 (0 disables; default 9103)",
    )
    add_period_argument(parser)


class AnomalyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        add_service_metrics(self.registry, "anomalies")
        self.active = Gauge(
            "pulseboard_anomalies_active",
            "1 while (name, key) is called out as off its usual level, 0 after",
            ["name", "key"],
            registry=self.registry,
        )
        self.learning = Gauge(
            "pulseboard_anomalies_learning",
            "1 while the detector has too few past days to judge",
            registry=self.registry,
        )
        self.callouts = Counter(
            "pulseboard_anomaly_callouts",
            "Call-out records published, by state",
            ["state"],
            registry=self.registry,
        )
        self.learning.set(1)

    def record(self, callouts: list[Callout]) -> None:
        for c in callouts:
            active = 0 if c["state"] == "closed" else 1
            self.active.labels(str(c["name"]), str(c["key"])).set(active)
            self.callouts.labels(str(c["state"])).inc()


async def last_published_t(config: Config, topic: str) -> int:
    """The ``t`` of the newest call-out on the anomalies topic (-1 if none)."""
    tp = TopicPartition(topic, 0)
    reader = kafka_consumer(config, "pulseboard-anomalies-resume", enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        if end == 0:
            return -1
        reader.seek(tp, end - 1)
        while True:
            batches = await reader.getmany(tp, timeout_ms=1000)
            for rec in batches.get(tp, []):
                if rec.offset == end - 1:
                    return int(orjson.loads(rec.value)["t"])
    finally:
        await reader.stop()


async def follow(
    config: Config, detector: DetectorConfig, metrics: AnomalyMetrics, stop: asyncio.Event
) -> None:
    history = config.kafka.topic(TOPIC_HISTORY)
    out = config.kafka.topic(TOPIC_ANOMALIES)
    if await wait_for_cluster(config, [history, out], "anomalies", log, stop) is None:
        return
    follower = Follower(detector, published_until=await last_published_t(config, out))
    session = config.kafka.session.encode()
    tp = TopicPartition(history, 0)
    consumer = kafka_consumer(
        config, "pulseboard-anomalies", enable_auto_commit=False, auto_offset_reset="earliest"
    )
    producer = producer_for(config, "pulseboard-anomalies")
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        while not stop.is_set():
            batches = await consumer.getmany(tp, timeout_ms=500, max_records=64)
            callouts: list[Callout] = []
            for rec in batches.get(tp, []):
                if rec.key != session:
                    continue
                try:
                    message = decode(rec.value)
                except BadMessage as exc:
                    log.warning("anomalies: skipping a bad history message: %s", exc)
                    continue
                callouts += follower.apply(message)
            if callouts:
                sends = [
                    await producer.send(out, encode_callout(c), key=callout_key(c))
                    for c in callouts
                ]
                await asyncio.gather(*sends)
                metrics.record(callouts)
            metrics.learning.set(1 if follower.detector.learning() else 0)
    finally:
        await producer.stop()
        await consumer.stop()


def run(args: argparse.Namespace, config: Config) -> int:
    detector = detector_config(args)
    configure_logging(config)
    log_start(log, "anomalies", config, metrics_port=args.metrics_port, period_s=detector.period_s)
    metrics = AnomalyMetrics()
    server = serve_metrics(metrics.registry, args.metrics_port, config.metrics_host)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await follow(config, detector, metrics, stop)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        if server is not None:
            server.shutdown()
    return 0
