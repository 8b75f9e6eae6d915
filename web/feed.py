"""Reading the compacted `indicators` topic: the whole retained state first, then live.

No consumer group: the server is a reader of a table, not a member of a pipeline, so it
assigns itself every partition and starts at the beginning each time. It is ready once it
has read up to the end offsets it saw at start."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import TopicPartition

from pulseboard import spec
from pulseboard.config import Config
from pulseboard.connect import keep_reading, wait_for_cluster
from pulseboard.kafka_client import kafka_consumer
from web.indicators import BadRecord, Indicator, Removal, parse_record

log = logging.getLogger("pulseboard.web.feed")


@dataclass(frozen=True, slots=True)
class FeedSink:
    """Where records go: the server's ingest, its readiness switch and bad-record count."""

    on_record: Callable[[Indicator | Removal], None]
    on_ready: Callable[[], None]
    on_bad: Callable[[str], None]


async def _partitions(config: Config, topic: str) -> list[TopicPartition]:
    # An unreachable cluster is waited for (with backoff, logged); a missing topic or
    # refused credentials raise ConfigError, which stops the server (see harness.serving).
    found = await wait_for_cluster(config, [topic], "serve", log)
    assert found is not None  # no stop event: it returns only once the topic is there
    return [TopicPartition(topic, p) for p in found[topic]]


async def follow_indicators(config: Config, sink: FeedSink) -> None:
    """Read the indicators topic forever (until cancelled)."""
    topic = config.kafka.topic(spec.TOPIC_INDICATORS)
    tps = await _partitions(config, topic)
    consumer = kafka_consumer(
        config,
        "pulseboard-web",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        waiting = {tp for tp, end in ends.items() if end > 0}
        log.info("reading %s: the retained state ends at offsets %s", topic, sorted(ends.values()))
        if not waiting:
            sink.on_ready()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for rec in records:
                    try:
                        parsed = parse_record(rec.key, rec.value)
                    except BadRecord as exc:
                        sink.on_bad(str(exc))
                        continue
                    sink.on_record(parsed)
            if waiting:
                # position() skips past compaction gaps and transaction markers, so it
                # reaches the end offset even when the last offsets hold no record.
                for tp in list(waiting):
                    if await consumer.position(tp) >= ends[tp]:
                        waiting.discard(tp)
                if not waiting:
                    log.info("read the retained state of %s; live from here", topic)
                    sink.on_ready()
    finally:
        await consumer.stop()


async def follow_forever(config: Config, sink: FeedSink) -> None:
    """Keep reading the indicators topic; after a failure start over (the server's table
    keeps what it had and ignores older values read again), with capped backoff."""
    await keep_reading(lambda: follow_indicators(config, sink), "the indicators topic", log)
