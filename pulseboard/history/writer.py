"""Putting final records on the history topic (docs/history.md): the live aggregator's, as
it publishes them, and whole sessions computed offline (`replay --to-history`, backfill)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from consumers.aggregate.sink import BatchSink, PublishError
from consumers.changelog import Record
from pulseboard.config import TOPIC_HISTORY, Config
from pulseboard.history.codec import Begin, Cut, Drop, End, HistoryRecord, data_messages, encode
from pulseboard.history.sessions import LIVE

_LIVE_KEY = LIVE.encode()
# Sends not yet acknowledged before a session writer waits for the oldest: bounds memory
# while a large session streams out.
MAX_IN_FLIGHT = 64


def history_topic(config: Config) -> str:
    return config.kafka.topic(TOPIC_HISTORY)


class LiveHistorySink:
    """The live aggregator's final records, to session ``live``: one data message (or a few)
    per batch of finals, in the producer the aggregator already has. ``flush`` waits for
    Kafka's acknowledgement; the finalizer calls it before it commits, as for the
    indicators topic, so a commit never vouches for a final record history lost."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._sink = BatchSink(producer, topic)

    @property
    def sent(self) -> int:
        return self._sink.sent

    async def publish(self, finals: Sequence[tuple[Record, object]]) -> None:
        if not finals:
            return
        records = [(r.t, r.name, r.key, r.value) for r, _ in finals]
        await self._sink.publish((_LIVE_KEY, m) for m in data_messages(records, None))

    async def flush(self) -> None:
        await self._sink.flush()


@dataclass(slots=True)
class Written:
    records: int = 0
    messages: int = 0
    t_from: int | None = None
    t_to: int | None = None


class SessionWriter:
    """Messages of one session, in order, acknowledged before ``close`` returns."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, session: str) -> None:
        self.producer = producer
        self.topic = topic
        self.key = session.encode()
        self.written = Written()
        self._pending: list[asyncio.Future[object]] = []

    async def _send(self, value: bytes) -> None:
        fut = await self.producer.send(self.topic, value, key=self.key, partition=None)
        self._pending.append(fut)
        self.written.messages += 1
        if len(self._pending) >= MAX_IN_FLIGHT:
            oldest = self._pending.pop(0)
            await oldest

    async def control(self, message: Begin | End | Cut | Drop) -> None:
        await self._send(encode(message))

    async def records(self, records: list[HistoryRecord], generation: str | None) -> None:
        if not records:
            return
        w = self.written
        w.records += len(records)
        lo, hi = records[0][0], records[-1][0]
        w.t_from = lo if w.t_from is None else min(w.t_from, lo)
        w.t_to = hi if w.t_to is None else max(w.t_to, hi)
        for value in data_messages(records, generation):
            await self._send(value)

    async def close(self) -> None:
        pending, self._pending = self._pending, []
        for fut in pending:
            try:
                await fut
            except Exception as exc:
                raise PublishError(f"Kafka did not acknowledge a history record: {exc!r}") from exc


def new_generation() -> str:
    return os.urandom(6).hex()


async def replace_session(
    writer: SessionWriter, chunks: AsyncIterator[list[HistoryRecord]]
) -> tuple[str, Written]:
    """Write a whole session anew: begin, every chunk of records, and (by the caller, who
    knows the covered range only at the end) ``finish_session``."""
    generation = new_generation()
    await writer.control(Begin(generation))
    async for chunk in chunks:
        await writer.records(chunk, generation)
    return generation, writer.written


async def finish_session(
    writer: SessionWriter, generation: str | None, t_from: int, t_to: int
) -> None:
    await writer.control(End(generation, t_from, t_to, writer.written.records))
    await writer.close()
