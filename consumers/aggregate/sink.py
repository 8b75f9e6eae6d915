"""Publishing for the aggregator, on the one batching edge (``pulseboard.publishing``):
every batch is tracked, and ``flush`` waits for Kafka's acknowledgement of all of them and
raises if any failed. Offsets are committed only after a flush, so nothing a commit vouches
for can be lost."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

from pulseboard.publishing import Batcher, OutRecord, PublishError

__all__ = ["BatchSink", "OutRecord", "PublishError", "Sink"]


class Sink:
    """The internal topic's messages and the DLQ's records, one batch per partition.

    A partition's batch goes to the producer once Kafka acknowledged the previous one;
    until then records are added to it (up to a full batch), and ``flush`` sends what is
    left. The producer takes a batch for a partition only when its previous batch there has
    gone out, so handing one over at every call made each call wait for the last one's
    round trip: the sealer's loop stood still meanwhile (a burst of bad input cost a request
    per record and made the whole aggregator a third slower)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.batcher = Batcher(producer)
        self._spread = 0

    async def publish(
        self,
        topic: str,
        partition: int,
        key: bytes,
        messages: Sequence[bytes],
        *,
        send: bool = True,
    ) -> None:
        """Messages to one partition, in order. ``send=False``: leave them in the open batch
        (a caller adding several groups sends once, with ``send_ready``)."""
        for raw in messages:
            await self.batcher.add(topic, partition, key, raw)
        if send:
            await self.batcher.send_ready(topic)

    async def send_ready(self, topic: str) -> None:
        """Send the topic's open batches whose partition has no batch on its way."""
        await self.batcher.send_ready(topic)

    async def send_many(self, topic: str, records: Sequence[OutRecord]) -> None:
        """Records to one topic, each partition chosen as Kafka's default partitioner would
        (murmur2 of the key; no key: spread round robin)."""
        if not records:
            return
        batcher = self.batcher
        n = await batcher.partitions(topic)
        partition_of = batcher.partition_of
        for i, rec in enumerate(records):
            if n == 1:
                p = 0
            elif rec.key is not None:
                p = partition_of(rec.key, n)
            else:
                p = (self._spread + i) % n
            await batcher.add(topic, p, rec.key, rec.value, rec.timestamp_ms, rec.headers)
        self._spread += len(records)
        await batcher.send_ready(topic)

    @property
    def holding(self) -> bool:
        return self.batcher.holding

    async def send_waiting(self) -> None:
        """Send what waited behind a batch on its way (``Batcher.send_waiting``)."""
        await self.batcher.send_waiting()

    async def send_alone(self, topic: str, partition: int, key: bytes, value: bytes) -> int:
        """One record (a checkpoint) acknowledged on its own; returns its offset."""
        return await self.batcher.send_alone(topic, partition, key, value)

    async def flush(self) -> None:
        """Send every batch still being filled, then wait for Kafka to acknowledge every
        record sent so far; raises ``PublishError`` if any was not."""
        await self.batcher.flush()


class BatchSink:
    """Many small records to one topic (the indicators), keyed, one batch per partition
    (Kafka's default partitioner: murmur2 of the key), handed over per call."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.batcher = Batcher(producer)
        self.topic = topic
        self.sent = 0

    async def publish(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        batcher = self.batcher
        topic = self.topic
        count = await batcher.partitions(topic)
        partition_of = batcher.partition_of
        append = batcher.append
        for key, value in items:
            p = partition_of(key, count)
            if not append(topic, p, key, value, None):
                await batcher.add(topic, p, key, value)
            self.sent += 1
        await batcher.send_ready(topic)

    @property
    def holding(self) -> bool:
        return self.batcher.holding

    async def send_waiting(self) -> None:
        await self.batcher.send_waiting()

    async def flush(self) -> None:
        await self.batcher.flush()
