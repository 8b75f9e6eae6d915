"""`pulseboard replay LOG --to-kafka [--speed X]`: a log published back into Kafka.

Each line goes to its SPEC topic with its SPEC key and its original `ingest_ts` as the record
timestamp, the field dropped from the value. Lines that are not valid events are published
too, as they are (the aggregator's DLQ is where they belong), so a replay reproduces exactly
what the live pipeline saw."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from aiokafka import TopicPartition

from producers.metrics import ProducerMetrics
from producers.publisher import BatchPublisher
from producers.records import SimRecord
from pulseboard import spec
from pulseboard.config import LIVE_SESSION, SEALER_GROUP, Config, ConfigError
from pulseboard.connect import wait_for_cluster
from pulseboard.eventlog import DEFAULT_REORDER_MS, read_lines
from pulseboard.kafka_client import kafka_admin, kafka_consumer, topic_partitions
from pulseboard.progress import END, LEAVE
from pulseboard.publishing import producer_for
from pulseboard.sessions import replay_refusal
from pulseboard.topics import ensure_topics

CHUNK = 2_000
MARK_S = 0.2  # progress markers at least this often while records flow

log = logging.getLogger("pulseboard.replay")
# The suffix the log writer splices onto a record that looks like an object (even a broken
# one): undoing it gives back the exact bytes and timestamp that were in Kafka.
_SPLICED = re.compile(rb'(?:,|(?<=\{))"ingest_ts":(\d+)\}$')


def records_of(path: str) -> Iterator[SimRecord]:
    """The Kafka record of every line of a log."""
    last_ts = 0
    for line in read_lines(path):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and type(obj.get("ingest_ts")) is int:
            last_ts = obj.pop("ingest_ts")
            etype = obj.get("type")
            topic = spec.topic_for_type(etype) if etype in spec.EVENT_TYPES else spec.TOPIC_FREIGHT
            try:
                key = spec.event_key(obj).encode()
            except (KeyError, TypeError):
                key = b""
            kind = etype if etype in spec.EVENT_TYPES else "invalid"
            yield SimRecord(last_ts, topic, key, orjson.dumps(obj), kind, "")
        else:
            spliced = _SPLICED.search(line)
            if spliced is not None:
                last_ts = int(spliced[1])
                line = line[: spliced.start()] + b"}"
            # Not an event object: sent as it was; a line with no time of its own is
            # stamped with the previous line's.
            yield SimRecord(last_ts, spec.TOPIC_FREIGHT, b"", line, "invalid", "")


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    speed: float | None = None  # None: as fast as possible, else X times real time
    # How far a line may be behind the greatest ingest_ts before it: the offline replay's
    # allowance, so that live and offline make the same seconds final.
    reorder_ms: int = DEFAULT_REORDER_MS
    topics: tuple[str, ...] = (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)  # base names to write
    end: bool = True  # the log is the whole input (an ``end`` marker); else ``leave``
    force: bool = False


async def _facts(config: Config, topics: list[str]) -> tuple[int, int]:
    """(members of the session's aggregator group, records already in its events topics)."""
    admin = kafka_admin(config, "pulseboard-replay-admin")
    await admin.start()
    try:
        group = config.kafka.prefix + SEALER_GROUP
        members = 0
        # A group nobody ever joined has no coordinator to ask: it has no members.
        if any(g[0] == group for g in await admin.list_consumer_groups()):
            for described in await admin.describe_consumer_groups([group]):
                for g in getattr(described, "groups", ()):
                    if g[0] == 0 and g[1] == group:  # (error, id, state, type, proto, members)
                        members += len(g[5])
    finally:
        await admin.close()
    consumer = kafka_consumer(config, "pulseboard-replay-check")
    await consumer.start()
    try:
        found = await topic_partitions(config, topics)
        tps = [TopicPartition(t, p) for t, ps in found.items() for p in ps]
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps) if tps else {}
        ends = await consumer.end_offsets(tps) if tps else {}
        records = sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        await consumer.stop()
    return members, records


async def replay_to_kafka(config: Config, path: str, opts: ReplayOptions) -> tuple[int, float]:
    """Publish a log with the progress markers of ``pulseboard.progress``: a first one
    before any record, then as the log's ingest time moves (its greatest ingest_ts less the
    reorder allowance: a later line may still be that far behind), and ``end`` (or
    ``leave``) when the log is done. So the live aggregator can make every second final
    exactly when the offline replay does, however fast or slow the records arrive."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        topics = [config.kafka.topic(t) for t in (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)]
        own = config.kafka.session != LIVE_SESSION  # a session's topics are made on first use
        if await wait_for_cluster(config, [] if own else topics, "replay", log, stop) is None:
            return 0, 0.0
        if own:
            await ensure_topics(config)
        members, existing = await _facts(config, topics)
        refusal = replay_refusal(
            config.kafka.session,
            force=opts.force,
            live_consumers=members,
            records_in_topics=existing,
        )
        if refusal is not None:
            raise ConfigError(refusal)
        producer = producer_for(config, "pulseboard-replay")
        await producer.start()
    except BaseException:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        raise
    written = tuple(config.kafka.topic(t) for t in opts.topics)
    publisher = BatchPublisher(
        producer, ProducerMetrics.create(), config.kafka.prefix, progress_topics=written
    )
    wanted = set(opts.topics)
    reorder = opts.reorder_ms
    started = time.monotonic()
    first_ts: int | None = None
    chunk: list[SimRecord] = []
    next_mark = 0.0
    try:
        for rec in records_of(path):
            if stop.is_set():
                break
            if rec.topic not in wanted:
                continue
            if first_ts is None:
                first_ts = rec.ingest_ts
                await publisher.mark(max(0, first_ts - reorder))  # before any record
            if opts.speed is not None:
                due = started + (rec.ingest_ts - first_ts) / 1000 / opts.speed
                if due > time.monotonic() + 0.01:
                    await publisher.publish(chunk)
                    chunk = []
                    now = time.monotonic()
                    if now >= next_mark:
                        # Nothing older than this line (less the allowance) is to come.
                        next_mark = now + MARK_S
                        await publisher.mark(max(0, rec.ingest_ts - reorder))
                    await publisher.send_due(0.0)  # paced: nothing waits for a batch to fill
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=due - time.monotonic())
            chunk.append(rec)
            if len(chunk) >= CHUNK:
                await publisher.publish(chunk)
                chunk = []
                now = time.monotonic()
                if now >= next_mark:
                    next_mark = now + MARK_S
                    await publisher.mark(max(0, (publisher.high_ts or 0) - reorder))
        await publisher.publish(chunk)
        if opts.end and not stop.is_set():
            await publisher.finish(END)
        else:
            # Interrupted, or --no-end: more of the log may follow (its next lines may still
            # be up to the reorder allowance behind), so this publisher only leaves.
            await publisher.finish(LEAVE, max(0, (publisher.high_ts or 0) - reorder))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await producer.stop()
    if publisher.acked != publisher.sent:
        raise RuntimeError(f"only {publisher.acked} of {publisher.sent} records were acknowledged")
    return publisher.sent, time.monotonic() - started
