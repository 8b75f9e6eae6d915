"""Filling the local history index from the history topic, for ever (inside `pulseboard
serve`). No consumer group: each push server reads every partition from where its own index
file stops (the positions are stored in the index, in the same transactions as the rows), or
from the beginning when the file is new, so any number of replicas index the same records and
a lost disk costs only the time to read the topic again. It is ready once it reached the end
offsets it saw at start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import TopicPartition

from pulseboard.anomalies import Anomaly, BadAnomaly, parse_anomaly
from pulseboard.config import TOPIC_ANOMALIES, TOPIC_HISTORY, Config
from pulseboard.connect import keep_reading, wait_for_cluster
from pulseboard.history.codec import BadMessage, Message, decode
from pulseboard.history.sessions import BadSessionName, check_session_name
from pulseboard.history.store import HistoryWriter, wipe
from pulseboard.kafka_client import kafka_consumer, topic_partitions

log = logging.getLogger("pulseboard.history")

PRUNE_EVERY_S = 600.0
# Messages per fetch, applied in one transaction: up to 8,000 records each.
FETCH_RECORDS = 256
# While the live anomalies topic does not exist (no detector yet), look for it this often.
LOOK_FOR_ANOMALIES_S = 60.0


@dataclass(slots=True)
class IndexStatus:
    """What the API tells a client while the index is not ready, and counters for logs."""

    ready: bool = False
    why: str = "starting"
    records: int = 0
    bad_messages: int = 0
    on_ready: list[Callable[[], None]] = field(default_factory=list)

    def not_ready(self) -> str | None:
        return None if self.ready else self.why

    def mark_ready(self) -> None:
        if not self.ready:
            self.ready = True
            for fn in self.on_ready:
                fn()


def _apply_batch(
    writer: HistoryWriter,
    raw: list[tuple[bytes | None, bytes | None, int]],
    positions: dict[int, int],
    raw_anomalies: list[tuple[bytes | None, bytes | None]],
    anomaly_positions: dict[int, int],
) -> tuple[int, int]:
    """Decode and apply one fetch (in the writer's thread); returns (records, bad)."""
    messages: list[tuple[str, Message, int]] = []
    anomalies: list[Anomaly] = []
    bad = 0
    for key, value in raw_anomalies:
        try:
            anomalies.append(parse_anomaly(key, value))
        except BadAnomaly:
            bad += 1
    for key, value, written_ms in raw:
        try:
            if not key:
                raise BadMessage("no session key")
            messages.append((check_session_name(key.decode("ascii")), decode(value), written_ms))
        except (BadMessage, BadSessionName, UnicodeDecodeError):
            bad += 1
    return writer.apply(messages, positions, anomalies, anomaly_positions), bad


async def follow_history(
    config: Config, directory: Path, status: IndexStatus, *, once: bool = False
) -> None:
    """Index the history topic until cancelled (``once``: until it caught up)."""
    topic = config.kafka.topic(TOPIC_HISTORY)
    # The push server's feed waits for the same cluster and says so; this waits quietly.
    found = await wait_for_cluster(config, [topic], "serve", log, quiet=True)
    assert found is not None
    tps = [TopicPartition(topic, p) for p in found[topic]]
    # The live session's call-outs (docs/history.md, "Call-outs"): the detector's topic,
    # indexed beside the history topic when it exists.
    atopic = config.kafka.topic_prefix + TOPIC_ANOMALIES
    apart = (await topic_partitions(config, [atopic])).get(atopic, [])
    atps = [TopicPartition(atopic, p) for p in apart]
    pool = ThreadPoolExecutor(1, thread_name_prefix="pulseboard-history-index")
    loop = asyncio.get_running_loop()
    writer = await loop.run_in_executor(pool, HistoryWriter.open_or_rebuild, directory, topic)
    consumer = kafka_consumer(
        config,
        "pulseboard-web-history",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(tps + atps)
        stored = writer.positions()
        astored = writer.anomaly_positions()
        begins = await consumer.beginning_offsets(tps + atps)
        ends = await consumer.end_offsets(tps + atps)
        if any(stored.get(tp.partition, 0) > ends[tp] for tp in tps) or any(
            astored.get(tp.partition, 0) > ends[tp] for tp in atps
        ):
            # The topic was recreated (offsets went back): the file describes another log.
            log.warning("history index %s is ahead of %s; rebuilding it", directory, topic)
            await loop.run_in_executor(pool, writer.close)
            await loop.run_in_executor(pool, wipe, directory)
            writer = await loop.run_in_executor(pool, HistoryWriter, directory, topic)
            stored = astored = {}

        def start(tp: TopicPartition) -> int:
            return max((stored if tp.topic == topic else astored).get(tp.partition, 0), begins[tp])

        for tp in tps + atps:
            consumer.seek(tp, start(tp))
        waiting = {tp for tp in tps + atps if start(tp) < ends[tp]}
        total = sum(ends[tp] - start(tp) for tp in waiting)
        look_for_anomalies = time.monotonic() + LOOK_FOR_ANOMALIES_S if not atps else None
        started = time.monotonic()
        log.info("indexing %s into %s: %d messages to read first", topic, directory, total)
        retention_ms = int(config.history_retention_days * 86_400_000)
        next_prune = time.monotonic() + PRUNE_EVERY_S

        async def prune() -> None:
            removed = await loop.run_in_executor(
                pool, writer.prune, int(time.time() * 1000), retention_ms
            )
            if removed:
                log.info("history: %d records older than the retention removed", removed)

        if not waiting:
            await prune()
            status.mark_ready()
            if once:
                return
        status.why = f"reading {total} messages of {topic} into the index"
        while True:
            if not waiting and time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_S
                await prune()
            if look_for_anomalies is not None and time.monotonic() >= look_for_anomalies:
                look_for_anomalies = time.monotonic() + LOOK_FOR_ANOMALIES_S
                if (await topic_partitions(config, [atopic])).get(atopic):
                    log.info("history: %s exists now; indexing it too", atopic)
                    return  # follow_history_forever starts again, with it
            batches = await consumer.getmany(timeout_ms=500, max_records=FETCH_RECORDS)
            if batches:
                raw = [
                    (r.key, r.value, r.timestamp)
                    for tp, records in batches.items()
                    if tp.topic == topic
                    for r in records
                ]
                raw_anomalies = [
                    (r.key, r.value)
                    for tp, records in batches.items()
                    if tp.topic == atopic
                    for r in records
                ]
                positions = {
                    tp.partition: records[-1].offset + 1
                    for tp, records in batches.items()
                    if tp.topic == topic
                }
                apositions = {
                    tp.partition: records[-1].offset + 1
                    for tp, records in batches.items()
                    if tp.topic == atopic
                }
                records, bad = await loop.run_in_executor(
                    pool, _apply_batch, writer, raw, positions, raw_anomalies, apositions
                )
                status.records += records
                if bad:
                    status.bad_messages += bad
                    log.warning("history: skipped %d messages that are not history records", bad)
            if waiting:
                for tp in list(waiting):
                    if await consumer.position(tp) >= ends[tp]:
                        waiting.discard(tp)
                if not waiting:
                    log.info(
                        "history index caught up with %s in %.1f s (%d records)",
                        topic,
                        time.monotonic() - started,
                        status.records,
                    )
                    await prune()
                    status.mark_ready()
                    if once:
                        return
    finally:
        await consumer.stop()
        await loop.run_in_executor(pool, writer.close)
        pool.shutdown(wait=True)


async def follow_history_forever(config: Config, directory: Path, status: IndexStatus) -> None:
    """Keep indexing; after a failure start again from the index's stored positions."""
    await keep_reading(lambda: follow_history(config, directory, status), "the history topic", log)


async def catch_up(config: Config, directory: Path) -> None:
    """Bring the index in ``directory`` up to date with the history topic, once."""
    await follow_history(config, directory, IndexStatus(), once=True)
