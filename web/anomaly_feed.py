"""Reading the anomalies topic (the detector's call-outs) into the push server.

Like the indicators feed (web/feed.py): no consumer group, every partition from the
beginning, so the server rebuilds the active call-outs by itself. The topic belongs to the
detector: while it does not exist the wall shows no call-outs and this looks again every
``LOOK_AGAIN_S``, so a server started before the detector (or without one) serves as usual."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import TopicPartition

from pulseboard.anomalies import Anomaly, BadAnomaly, parse_anomaly
from pulseboard.config import TOPIC_ANOMALIES, Config
from pulseboard.connect import keep_reading, wait_for_cluster
from pulseboard.kafka_client import kafka_consumer, topic_partitions

log = logging.getLogger("pulseboard.web.anomalies")

LOOK_AGAIN_S = 30.0


@dataclass(frozen=True, slots=True)
class AnomalySink:
    on_record: Callable[[Anomaly], None]
    on_bad: Callable[[str], None]


async def anomaly_partitions(config: Config, topic: str) -> list[TopicPartition]:
    """The topic's partitions once it exists (waiting quietly for the cluster and for it)."""
    said = False
    while True:
        await wait_for_cluster(config, [], "serve", log, quiet=True)
        found = await topic_partitions(config, [topic])
        if found.get(topic):
            if said:
                log.info("%s exists now: reading call-outs", topic)
            return [TopicPartition(topic, p) for p in found[topic]]
        if not said:
            log.info("no topic %s (no detector yet): the wall shows no call-outs", topic)
            said = True
        await asyncio.sleep(LOOK_AGAIN_S)


async def follow_anomalies(config: Config, sink: AnomalySink) -> None:
    """Read the anomalies topic forever (until cancelled)."""
    topic = config.kafka.topic(TOPIC_ANOMALIES)
    tps = await anomaly_partitions(config, topic)
    consumer = kafka_consumer(
        config,
        "pulseboard-web-anomalies",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for rec in records:
                    try:
                        parsed = parse_anomaly(rec.key, rec.value)
                    except BadAnomaly as exc:
                        sink.on_bad(str(exc))
                        continue
                    sink.on_record(parsed)
    finally:
        await consumer.stop()


async def follow_anomalies_forever(config: Config, sink: AnomalySink) -> None:
    """Keep reading; after a failure start over (the board ignores records read again)."""
    await keep_reading(lambda: follow_anomalies(config, sink), "the anomalies topic", log)
