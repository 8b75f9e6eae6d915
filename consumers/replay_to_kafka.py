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

import orjson

from producers.metrics import ProducerMetrics
from producers.publisher import BatchPublisher, producer_for
from producers.records import SimRecord
from pulseboard import spec
from pulseboard.config import Config
from pulseboard.connect import wait_for_cluster
from pulseboard.eventlog import read_lines

CHUNK = 2_000

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


async def replay_to_kafka(config: Config, path: str, speed: float | None) -> tuple[int, float]:
    """Publish a log; `speed` None = as fast as possible, else X times real time."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        topics = [config.kafka.topic(t) for t in (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)]
        if await wait_for_cluster(config, topics, "replay", log, stop) is None:
            return 0, 0.0
        producer = producer_for(config, "pulseboard-replay")
        await producer.start()
    except BaseException:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        raise
    publisher = BatchPublisher(producer, ProducerMetrics.create(), config.kafka.topic_prefix)
    started = time.monotonic()
    first_ts: int | None = None
    chunk: list[SimRecord] = []
    try:
        for rec in records_of(path):
            if stop.is_set():
                break
            if speed is not None:
                first_ts = rec.ingest_ts if first_ts is None else first_ts
                due = started + (rec.ingest_ts - first_ts) / 1000 / speed
                if due > time.monotonic() + 0.01:
                    await publisher.publish(chunk)
                    await publisher.send_due(0.0)  # paced: nothing waits for a batch to fill
                    chunk = []
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=due - time.monotonic())
            chunk.append(rec)
            if len(chunk) >= CHUNK:
                await publisher.publish(chunk)
                chunk = []
        await publisher.publish(chunk)
        await publisher.flush()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await producer.stop()
    if publisher.acked != publisher.sent:
        raise RuntimeError(f"only {publisher.acked} of {publisher.sent} records were acknowledged")
    return publisher.sent, time.monotonic() - started
