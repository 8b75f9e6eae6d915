"""Publishes simulated records to Kafka in per-partition batches.

aiokafka's per-record `send()` costs more than generating the record, so records are
appended straight into one batch per (topic, partition) and whole batches are handed over.
Partitioning is Kafka's default (murmur2 of the key), so keys land where any Kafka client
would put them; the choice is cached per key because the key space (trucks, data centres,
region|sector pairs) is small and the pure-Python hash is not cheap."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from producers.metrics import ProducerMetrics
from producers.simulation import SimRecord
from pulseboard.config import Config
from pulseboard.kafka_client import KeyPartitioner, kafka_producer
from pulseboard.progress import END, TICK, marker_headers

BATCH_BYTES = 512 * 1024
_MARKER = "marker"  # batch count kind of progress markers (acknowledged, never events)

log = logging.getLogger("pulseboard.produce")


def producer_for(config: Config, client_id: str = "pulseboard-producer") -> AIOKafkaProducer:
    """An idempotent, acks=all, batching and compressing producer for the configured cluster."""
    producer = kafka_producer(
        config,
        client_id,
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        max_batch_size=BATCH_BYTES,
        max_request_size=10 * 1024 * 1024 + 4096,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
        # Partitions added at run time are written (and announced by progress markers)
        # within seconds, not after aiokafka's default five minutes.
        metadata_max_age_ms=5000,
    )
    # aiokafka retries an idempotent producer's batches for ever, except one path: a batch
    # whose partition has no known leader is failed once it is request_timeout_ms old. A
    # broker that goes down reports its partitions leaderless first, so any outage longer
    # than 30 s lost every batch buffered meanwhile (found by tests/test_faults.py). With no
    # expiry they wait for the leader like any other retry; the buffer stays bounded because
    # `send_batch` blocks while a partition's previous batch is undelivered.
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is not None and hasattr(accumulator, "_batch_ttl"):
        accumulator._batch_ttl = float("inf")
    return producer


@dataclass(slots=True)
class _OpenBatch:
    builder: object
    created: float = field(default_factory=time.monotonic)
    counts: Counter[str] = field(default_factory=Counter)
    nbytes: int = 0


@dataclass(slots=True)
class BatchPublisher:
    """Per-partition batches; with ``progress_topics`` also the progress markers of
    ``pulseboard.progress`` into every partition of those topics (full names): callers
    ``mark()`` before their first record and then regularly, and ``finish()`` at the end.
    The promise is the greatest ``ingest_ts`` published (records come in ingest order), or
    more where the caller knows more (``promise``)."""

    producer: AIOKafkaProducer
    metrics: ProducerMetrics
    topic_prefix: str = ""
    progress_topics: tuple[str, ...] = ()
    producer_id: str = field(default_factory=lambda: os.urandom(6).hex())
    promised: int | None = None  # the promise of the last markers (ingest time, ms)
    high_ts: int | None = None  # greatest ingest_ts published
    _partitions: dict[str, int] = field(default_factory=dict)
    _partition_of: KeyPartitioner = field(default_factory=KeyPartitioner)
    _open: dict[tuple[str, int], _OpenBatch] = field(default_factory=dict)
    _inflight: set[asyncio.Future[object]] = field(default_factory=set)
    sent: int = 0
    acked: int = 0

    async def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            parts = await self.producer.partitions_for(topic)
            if not parts:
                raise RuntimeError(f"topic {topic} does not exist; run `pulseboard kafka up`")
            count = self._partitions[topic] = len(parts)
        return count

    async def publish(self, records: Iterable[SimRecord]) -> None:
        """Append records to their partition's batch; full batches are sent as they fill."""
        prefix = self.topic_prefix
        partition_of = self._partition_of
        high = None
        for rec in records:
            topic = prefix + rec.topic
            count = self._partitions.get(topic) or await self._partition_count(topic)
            partition = partition_of(rec.key, count)
            slot = (topic, partition)
            batch = self._open.get(slot)
            if batch is None:
                batch = self._open[slot] = _OpenBatch(self.producer.create_batch())
            if batch.builder.append(timestamp=rec.ingest_ts, key=rec.key, value=rec.value) is None:  # type: ignore[attr-defined]
                await self._send(slot, batch)
                batch = self._open[slot] = _OpenBatch(self.producer.create_batch())
                batch.builder.append(timestamp=rec.ingest_ts, key=rec.key, value=rec.value)  # type: ignore[attr-defined]
            batch.counts[rec.kind] += 1
            batch.nbytes += len(rec.value)
            self.sent += 1
            high = rec.ingest_ts
        if high is not None and (self.high_ts is None or high > self.high_ts):
            self.high_ts = high

    async def mark(self, promise: int | None = None, kind: str = TICK) -> None:
        """Write a progress marker into every partition of ``progress_topics`` and send it:
        nothing more below ``promise`` (default: the greatest ingest_ts published) will
        follow from this publisher. Partitions added since the last call are picked up
        first, and announced by these markers before any record is routed to them."""
        if not self.progress_topics:
            return
        ts = max(x for x in (promise, self.high_ts, self.promised, 0) if x is not None)
        self.promised = ts
        cluster = self.producer.client.cluster
        for topic in self.progress_topics:
            known = cluster.partitions_for_topic(topic)
            count = max(len(known) if known else 0, self._partitions.get(topic, 0))
            if count == 0:
                count = await self._partition_count(topic)
            self._partitions[topic] = count
            headers = marker_headers(self.producer_id, kind, count)
            for partition in range(count):
                slot = (topic, partition)
                batch = self._open.get(slot)
                if batch is None:
                    batch = self._open[slot] = _OpenBatch(self.producer.create_batch())
                appended = batch.builder.append(  # type: ignore[attr-defined]
                    timestamp=ts, key=None, value=b"", headers=headers
                )
                if appended is None:
                    await self._send(slot, batch)
                    batch = self._open[slot] = _OpenBatch(self.producer.create_batch())
                    batch.builder.append(timestamp=ts, key=None, value=b"", headers=headers)  # type: ignore[attr-defined]
                batch.counts[_MARKER] += 1
                await self._send(slot, batch)

    async def finish(self, kind: str = END, promise: int | None = None) -> None:
        """The last markers (``end``: this input is over; ``leave``: this publisher stops,
        more may follow from others), after a metadata refresh so that no partition added
        meanwhile is left waiting, then everything flushed."""
        if self.progress_topics:
            await self.producer.client.force_metadata_update()
            await self.mark(promise, kind)
        await self.flush()

    async def send_due(self, max_age_s: float) -> None:
        """Send the batches open for at least `max_age_s`: at low rates a batch would
        otherwise wait for minutes to fill, and the screen must stay live."""
        now = time.monotonic()
        for slot, batch in list(self._open.items()):
            if now - batch.created >= max_age_s:
                await self._send(slot, batch)

    async def flush(self) -> None:
        """Send every open batch and wait until Kafka acknowledged all records."""
        for slot, batch in list(self._open.items()):
            await self._send(slot, batch)
        self._open.clear()
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    async def _send(self, slot: tuple[str, int], batch: _OpenBatch) -> None:
        topic, partition = slot
        del self._open[slot]
        if not batch.counts:
            return
        started = time.perf_counter()
        records = sum(n for kind, n in batch.counts.items() if kind != _MARKER)
        self.metrics.unacked.inc(records)
        while True:
            try:
                future = await self.producer.send_batch(batch.builder, topic, partition=partition)
                break
            except KafkaTimeoutError:
                # The partition's previous batch is still undelivered (the cluster is
                # unreachable): keep this one and wait again rather than drop it or crash.
                self.metrics.send_errors.labels("KafkaTimeoutError").inc()
                log.warning("Kafka has not taken a batch for %s:%d yet; still waiting", *slot)
        self._inflight.add(future)

        def done(fut: asyncio.Future[object]) -> None:
            self._inflight.discard(fut)
            self.metrics.unacked.dec(records)
            if fut.cancelled() or fut.exception() is not None:
                error = "cancelled" if fut.cancelled() else type(fut.exception()).__name__
                self.metrics.send_errors.labels(error).inc()
                return
            self.metrics.send_latency.observe(time.perf_counter() - started)
            for kind, n in batch.counts.items():
                if kind == _MARKER:
                    continue
                self.metrics.events.labels(kind, topic).inc(n)
                self.acked += n
            self.metrics.bytes.labels(topic).inc(batch.nbytes)

        future.add_done_callback(done)
