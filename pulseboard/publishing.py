"""Publishing to Kafka, written once: the producer every part of the pipeline uses and the
one batching edge (``Batcher``) behind the simulator's and replayer's publisher, the
aggregator's sinks and the history writer.

aiokafka's per-record ``send()`` costs more than making the record, so records are appended
straight into one batch per (topic, partition) and whole batches are handed over. Every
batch's acknowledgement is tracked: ``flush`` sends what is open, waits for all of them and
says whether any failed, so an offset commit never vouches for a lost record. Partitioning
is Kafka's default (murmur2 of the key), so keys land where any Kafka client would put them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from pulseboard.config import Config
from pulseboard.fast_lz4 import FastLz4Producer
from pulseboard.kafka_client import KeyPartitioner, kafka_producer

BATCH_BYTES = 512 * 1024

log = logging.getLogger("pulseboard.publishing")


def producer_for(config: Config, client_id: str = "pulseboard-producer") -> AIOKafkaProducer:
    """An idempotent, acks=all, batching and compressing producer for the configured cluster.

    Its batches (``create_batch``, all the ``Batcher`` sends) are lz4 in fast mode
    (``pulseboard.fast_lz4``): aiokafka's lz4 level 9 cost about 6 µs more per record of the
    simulation than the fast mode (docs/benchmarks.md), for an output about a quarter smaller."""
    producer = kafka_producer(
        config,
        client_id,
        FastLz4Producer,
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


class PublishError(RuntimeError):
    """Kafka did not acknowledge a record (or the topic is missing)."""


class OutRecord(NamedTuple):
    value: bytes | None
    key: bytes | None
    timestamp_ms: int | None
    headers: Sequence[tuple[str, bytes]]  # a list is passed to Kafka as it is


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one acknowledged batch held (for the owner's metrics)."""

    topic: str
    records: int
    kinds: Counter[str]
    nbytes: int
    latency_s: float


_NO_HEADERS: list[tuple[str, bytes]] = []  # shared: the client only reads headers


@dataclass(slots=True)
class _Open:
    builder: Any
    created: float = field(default_factory=time.monotonic)
    # Records by kind (a plain dict: this is counted per record on the hot path).
    kinds: dict[str, int] = field(default_factory=dict)
    nbytes: int = 0


class Batcher:
    """One open batch per (topic, partition), acknowledgements tracked (see module doc).

    ``append`` is the hot path: synchronous, False when the partition's batch is full (then
    ``send`` it and append again). ``on_handed`` / ``on_delivered`` / ``on_failed`` report
    each batch's fate to the owner (metrics). ``strict``: once a record was not acknowledged
    every later send and flush raises ``PublishError`` (the aggregator stops rather than
    commit past a loss); otherwise failures are only reported (a producer counts them)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        on_delivered: Callable[[Delivered], None] | None = None,
        on_failed: Callable[[str, int], None] | None = None,
        on_handed: Callable[[int], None] | None = None,
        strict: bool = True,
    ) -> None:
        self.producer = producer
        self.strict = strict
        self._on_delivered = on_delivered
        self._on_failed = on_failed
        self._on_handed = on_handed
        self._open: dict[tuple[str, int], _Open] = {}
        self._last: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._inflight: set[asyncio.Future[Any]] = set()
        self._counts: dict[str, int] = {}
        self.partition_of = KeyPartitioner()
        self.failed: PublishError | None = None

    # ------------------------------------------------------------------ partitions

    async def partitions(self, topic: str) -> int:
        """The topic's partition count (remembered; ``refresh`` re-reads it)."""
        count = self._counts.get(topic)
        if count is None:
            parts = await self.producer.partitions_for(topic)
            if not parts:
                raise PublishError(f"topic {topic} does not exist; run `pulseboard kafka up`")
            count = self._counts[topic] = len(parts)
        return count

    async def refresh(self, topic: str) -> int:
        """The count the client's metadata knows now (it only grows: Kafka adds partitions,
        never removes them)."""
        known = self.producer.client.cluster.partitions_for_topic(topic)
        count = max(len(known) if known else 0, self._counts.get(topic, 0))
        if count == 0:
            return await self.partitions(topic)
        self._counts[topic] = count
        return count

    # ----------------------------------------------------------------- appending

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None,
        headers: Sequence[tuple[str, bytes]] = (),
        kind: str = "",
    ) -> bool:
        """Add a record to the partition's open batch; False if it is full."""
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = _Open(self.producer.create_batch())
        if not headers:
            headers = _NO_HEADERS
        elif type(headers) is not list:
            headers = list(headers)
        if (
            batch.builder.append(timestamp=timestamp_ms, key=key, value=value, headers=headers)
            is None
        ):
            return False
        kinds = batch.kinds
        kinds[kind] = kinds.get(kind, 0) + 1
        if value:
            batch.nbytes += len(value)
        return True

    async def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        kind: str = "",
    ) -> None:
        """``append``, sending the full batch first when needed; a record larger than an
        empty batch takes goes alone through the client's own path."""
        if self.append(topic, partition, key, value, timestamp_ms, headers, kind):
            return
        await self.send(topic, partition)
        if self.append(topic, partition, key, value, timestamp_ms, headers, kind):
            return
        fut = await self.producer.send(
            topic,
            value=value,
            key=key,
            partition=partition,
            timestamp_ms=timestamp_ms,
            headers=list(headers) if headers else None,
        )
        self._track((topic, partition), fut, {kind: 1}, len(value or b""))

    # ------------------------------------------------------------------- sending

    async def send(self, topic: str, partition: int) -> asyncio.Future[Any] | None:
        """Hand the partition's open batch to the client (waiting while its previous batch
        there is undelivered, e.g. through an outage: kept, never dropped)."""
        slot = (topic, partition)
        batch = self._open.pop(slot, None)
        if batch is None or batch.builder.record_count() == 0:
            return None
        # Closed, the client sends it at once: an open batch would wait out the client's
        # linger (5 ms) on every hop, though this is already the moment chosen to send it.
        batch.builder.close()
        while True:
            try:
                fut = await self.producer.send_batch(batch.builder, topic, partition=partition)
                break
            except KafkaTimeoutError:
                if self._on_failed is not None:
                    self._on_failed("KafkaTimeoutError", 0)
                log.warning("Kafka has not taken a batch for %s:%d yet; still waiting", *slot)
        self._track(slot, fut, batch.kinds, batch.nbytes)
        return fut

    async def send_older(self, max_age_s: float) -> None:
        """Send the batches open for at least ``max_age_s`` (at low rates a batch would wait
        for minutes to fill, and the screen must stay live)."""
        now = time.monotonic()
        for topic, partition in [s for s, b in self._open.items() if now - b.created >= max_age_s]:
            await self.send(topic, partition)

    async def send_ready(self, topic: str) -> None:
        """Send the topic's open batches whose partition has no batch on its way: while one
        is, records keep filling the next, so a burst costs a request per partition and the
        caller never waits for a round trip."""
        for slot in [s for s in self._open if s[0] == topic]:
            last = self._last.get(slot)
            if last is None or last.done():
                await self.send(*slot)

    @property
    def holding(self) -> bool:
        """Whether records wait in an open batch (behind a batch on its way, or not yet sent)."""
        return bool(self._open)

    async def send_waiting(self) -> None:
        """``send_ready`` for every topic. A loop that publishes at intervals calls it at
        every turn: records held behind a batch on its way then leave as soon as that batch
        is acknowledged, not with the next publish, an interval later. (The sealer publishes
        sealed and provisional buckets back to back to one partition, so without this its
        provisional values often waited a whole seal interval: most of the event-to-frame
        latency's tail.)"""
        for slot in list(self._open):
            last = self._last.get(slot)
            if last is None or last.done():
                await self.send(*slot)

    async def send_alone(self, topic: str, partition: int, key: bytes | None, value: bytes) -> int:
        """One record in a batch of its own, after what is open there; returns its offset
        once Kafka acknowledged it."""
        await self.send(topic, partition)
        self.append(topic, partition, key, value, None)
        fut = await self.send(topic, partition)
        assert fut is not None
        meta = await fut
        return int(meta.offset)

    async def flush(self) -> None:
        """Send every open batch and wait until Kafka acknowledged all sent so far (strict:
        raises ``PublishError`` if any record ever was not)."""
        while self._open:
            await self.send(*next(iter(self._open)))
        if self._inflight:
            await asyncio.wait(list(self._inflight))
        if self.strict and self.failed is not None:
            raise self.failed

    # ------------------------------------------------------------------ tracking

    def _track(
        self, slot: tuple[str, int], fut: asyncio.Future[Any], kinds: dict[str, int], nbytes: int
    ) -> None:
        self._last[slot] = fut
        self._inflight.add(fut)
        records = sum(kinds.values())
        if self._on_handed is not None:
            self._on_handed(records)
        started = time.perf_counter()

        def done(f: asyncio.Future[Any]) -> None:
            self._inflight.discard(f)
            error = None
            if f.cancelled():
                error = "cancelled"
            elif f.exception() is not None:
                error = type(f.exception()).__name__
            if error is not None:
                if self.failed is None:
                    self.failed = PublishError(
                        f"Kafka did not acknowledge a record: {error}"
                        + ("" if f.cancelled() else f" ({f.exception()!r})")
                    )
                if self._on_failed is not None:
                    self._on_failed(error, records)
                return
            if self._on_delivered is not None:
                self._on_delivered(
                    Delivered(
                        slot[0], records, Counter(kinds), nbytes, time.perf_counter() - started
                    )
                )

        fut.add_done_callback(done)
        if self.strict and self.failed is not None:
            raise self.failed
