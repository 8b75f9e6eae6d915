"""What both stages' Kafka services share about rebalances: the listener that hands them the
callbacks, the lock and generation that tell a stale fetch from a fresh one, state parked
over a rebalance, and reading committed offsets with their metadata
(docs/aggregator.md section 5)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

K = TypeVar("K")
V = TypeVar("V")


async def committed_metadata(
    admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """Committed offsets *with* their metadata (the consumer's ``committed()`` drops it)."""
    found = await admin.list_consumer_group_offsets(group, partitions=tps)
    return {tp: om for tp, om in found.items() if om.offset >= 0}


def fresh_records(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    records: list,
    expected: dict[TopicPartition, int],
    rebalanced: bool,
) -> list:
    """The records of a fetched batch that continue exactly where processing of ``tp``
    stands (``expected``: next offset to process), updating ``expected``.

    A rebalance's callbacks can run while a ``getmany`` is on its way, so a batch that
    arrives after one may come from a position before the callback's seek: it is dropped
    and the consumer sent back to the expected offset. Without a rebalance in between, a
    gap (e.g. retention deleted records) is accepted as it is."""
    exp = expected.get(tp)
    if exp is None or not records:
        return []
    if rebalanced and records[0].offset != exp:
        consumer.seek(tp, exp)
        return []
    if records[0].offset < exp:
        records = [r for r in records if r.offset >= exp]
        if not records:
            return []
    expected[tp] = records[-1].offset + 1
    return records


@dataclass(slots=True)
class Rebalances:
    """Serialises rebalance callbacks with the processing loop (a batch is never half
    applied across one) and counts them: the generation changes before and after every
    callback, so a ``getmany`` that overlapped any part of one is recognised as stale."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    generation: int = 0
    failure: BaseException | None = None  # raised by a callback; the loop raises it

    @contextlib.asynccontextmanager
    async def changing(self) -> AsyncIterator[None]:
        async with self.lock:
            self.generation += 1
            try:
                yield
            finally:
                self.generation += 1

    def listener(
        self,
        revoked: Callable[[set[TopicPartition]], Awaitable[None]],
        assigned: Callable[[set[TopicPartition]], Awaitable[None]],
    ) -> ConsumerRebalanceListener:
        return _Listener(self, revoked, assigned)


class _Listener(ConsumerRebalanceListener):
    def __init__(
        self,
        rebalances: Rebalances,
        revoked: Callable[[set[TopicPartition]], Awaitable[None]],
        assigned: Callable[[set[TopicPartition]], Awaitable[None]],
    ) -> None:
        self._rebalances = rebalances
        self._revoked = revoked
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            async with self._rebalances.changing():
                await self._revoked(revoked)
        except Exception as exc:
            self._rebalances.failure = exc  # aiokafka would only log it; the loop raises it

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            async with self._rebalances.changing():
                await self._assigned(assigned)
        except Exception as exc:
            self._rebalances.failure = exc


class Parking(Generic[K, V]):
    """State of what a rebalance revoked, kept in case the same rebalance gives it back
    (sticky assignment): reusable only if nobody committed anything for it in between."""

    def __init__(self) -> None:
        self._held: dict[K, tuple[V, OffsetAndMetadata]] = {}

    def park(self, key: K, value: V, committed: OffsetAndMetadata) -> None:
        self._held[key] = (value, committed)

    def take_all(self) -> dict[K, tuple[V, OffsetAndMetadata]]:
        """Everything parked (a new assignment: what is not given back now is stale)."""
        held, self._held = self._held, {}
        return held

    @staticmethod
    def reusable(
        held: dict[K, tuple[V, OffsetAndMetadata]], key: K, committed: OffsetAndMetadata | None
    ) -> V | None:
        found = held.get(key)
        if found is None or committed is None or committed != found[1]:
            return None
        return found[0]

    def clear(self) -> None:
        self._held.clear()


def describe(tps: Iterable[TopicPartition]) -> str:
    """``topic[0,1,2], other[3]`` for the log."""
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{t}[{','.join(map(str, sorted(ps)))}]" for t, ps in sorted(by_topic.items()))
