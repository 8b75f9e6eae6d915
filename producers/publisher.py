"""Publishes simulated (or replayed) records to Kafka through the one batching edge
(``pulseboard.publishing.Batcher``), with the producer's metrics and its progress markers.

Progress markers (``pulseboard.progress``): with ``progress_topics`` the publisher writes a
marker into every partition of those topics: ``mark()`` before the first record and then
regularly, ``finish()`` at the end. The promise is the greatest ``ingest_ts`` published
(records come in ingest order), or what the caller knows more precisely."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from producers.metrics import ProducerMetrics
from producers.records import SimRecord
from pulseboard.progress import END, TICK, marker_headers
from pulseboard.publishing import Batcher, Delivered

MARKER = "marker"  # batch count kind of progress markers (acknowledged, never events)


@dataclass(slots=True)
class BatchPublisher:
    producer: AIOKafkaProducer
    metrics: ProducerMetrics
    topic_prefix: str = ""
    progress_topics: tuple[str, ...] = ()  # full topic names this publisher speaks for
    producer_id: str = field(default_factory=lambda: os.urandom(6).hex())
    promised: int | None = None  # the promise of the last markers (ingest time, ms)
    high_ts: int | None = None  # greatest ingest_ts published
    sent: int = 0
    acked: int = 0
    batcher: Batcher = field(init=False)

    def __post_init__(self) -> None:
        self.batcher = Batcher(
            self.producer,
            on_handed=self._handed,
            on_delivered=self._delivered,
            on_failed=self._failed,
            strict=False,  # the producer counts failures; `acked < sent` is its exit status
        )

    # -------------------------------------------------------------- metrics

    def _handed(self, records: int) -> None:
        self.metrics.unacked.inc(records)

    def _delivered(self, d: Delivered) -> None:
        m = self.metrics
        m.unacked.dec(d.records)
        m.send_latency.observe(d.latency_s)
        for kind, n in d.kinds.items():
            if kind == MARKER:
                continue
            m.events.labels(kind, d.topic).inc(n)
            self.acked += n
        m.bytes.labels(d.topic).inc(d.nbytes)

    def _failed(self, error: str, records: int) -> None:
        self.metrics.send_errors.labels(error).inc()
        self.metrics.unacked.dec(records)

    # ------------------------------------------------------------- records

    async def publish(self, records: Iterable[SimRecord]) -> None:
        """Append records to their partition's batch; full batches are sent as they fill."""
        prefix = self.topic_prefix
        batcher = self.batcher
        append = batcher.append
        partition_of = batcher.partition_of
        counts: dict[str, int] = {}
        high = None
        for rec in records:
            topic = prefix + rec.topic
            count = counts.get(topic)
            if count is None:
                count = counts[topic] = await batcher.partitions(topic)
            partition = partition_of(rec.key, count)
            if not append(topic, partition, rec.key, rec.value, rec.ingest_ts, (), rec.kind):
                await batcher.add(topic, partition, rec.key, rec.value, rec.ingest_ts, (), rec.kind)
            self.sent += 1
            high = rec.ingest_ts
        if high is not None and (self.high_ts is None or high > self.high_ts):
            self.high_ts = high

    async def send_due(self, max_age_s: float) -> None:
        """Send the batches open for at least ``max_age_s``."""
        await self.batcher.send_older(max_age_s)

    async def flush(self) -> None:
        """Send every open batch and wait until Kafka acknowledged all records."""
        await self.batcher.flush()

    # ------------------------------------------------------------- progress

    async def mark(self, promise: int | None = None, kind: str = TICK) -> None:
        """Write a progress marker into every partition of ``progress_topics`` and send it:
        nothing more below ``promise`` (default: the greatest ingest_ts published) will
        follow from this publisher. Partitions added since the last call are picked up
        first, and announced by these markers before any record is routed to them."""
        if not self.progress_topics:
            return
        ts = promise if promise is not None else self.high_ts
        ts = max(x for x in (ts, self.promised, 0) if x is not None)
        self.promised = ts
        batcher = self.batcher
        for topic in self.progress_topics:
            count = await batcher.refresh(topic)
            headers = marker_headers(self.producer_id, kind, count)
            for partition in range(count):
                await batcher.add(topic, partition, None, b"", ts, headers, MARKER)
            # Handed over now where nothing is on its way for the partition, else with the
            # next batch: a producer never waits a round trip per partition for its markers.
            await batcher.send_ready(topic)

    async def finish(self, kind: str = END, promise: int | None = None) -> None:
        """The last markers (``end``: this input is over; ``leave``: this publisher stops,
        more may follow from others), after a metadata refresh so that no partition added
        meanwhile is left waiting, then everything flushed."""
        if self.progress_topics:
            await self.producer.client.force_metadata_update()
            await self.mark(promise, kind)
        await self.flush()
