"""Putting final records on the history topic (docs/history.md): the live aggregator's, as
it publishes them, and whole sessions computed offline (`replay --to-history`, backfill)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from pulseboard.anomalies import Anomaly
from pulseboard.config import TOPIC_HISTORY, Config
from pulseboard.history.codec import (
    Begin,
    Cut,
    Drop,
    End,
    HistoryRecord,
    anomaly_messages,
    data_messages,
    encode,
)
from pulseboard.history.sessions import LIVE
from pulseboard.indicators import Record
from pulseboard.publishing import Batcher

_LIVE_KEY = LIVE.encode()
PARTITION = 0  # one partition: a session's messages stay in order (docs/history.md)


def history_topic(config: Config) -> str:
    """One history topic for every session of a topic prefix: replay sessions' servers
    read the live history too (it is not under the ``session-NAME.`` prefix)."""
    return config.kafka.topic(TOPIC_HISTORY)


class LiveHistorySink:
    """The live aggregator's final records, to session ``live``: one data message (or a few)
    per batch of finals, in the producer the aggregator already has. ``flush`` waits for
    Kafka's acknowledgement; the finalizer calls it before it commits, as for the
    indicators topic, so a commit never vouches for a final record history lost."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._batcher = Batcher(producer)
        self._topic = topic
        self.sent = 0

    async def publish(self, finals: Sequence[tuple[Record, object]]) -> None:
        if not finals:
            return
        records = [(r.t, r.name, r.key, r.value) for r, _ in finals]
        for message in data_messages(records, None):
            await self._batcher.add(self._topic, PARTITION, _LIVE_KEY, message)
        self.sent += len(records)
        await self._batcher.send_ready(self._topic)

    @property
    def holding(self) -> bool:
        return self._batcher.holding

    async def send_waiting(self) -> None:
        await self._batcher.send_waiting()

    async def flush(self) -> None:
        await self._batcher.flush()


@dataclass(slots=True)
class Written:
    records: int = 0
    messages: int = 0
    t_from: int | None = None
    t_to: int | None = None


class SessionWriter:
    """Messages of one session, in order, acknowledged before ``close`` returns."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, session: str) -> None:
        self.topic = topic
        self.key = session.encode()
        self.written = Written()
        # One batch on its way at a time bounds memory while a large session streams out.
        self._batcher = Batcher(producer)

    async def _send(self, value: bytes) -> None:
        await self._batcher.add(self.topic, PARTITION, self.key, value)
        await self._batcher.send_ready(self.topic)
        self.written.messages += 1

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

    async def anomalies(self, records: list[Anomaly], generation: str | None) -> None:
        """The session's call-outs (anomaly records ordered by t), in its generation."""
        for value in anomaly_messages(records, generation):
            await self._send(value)

    async def close(self) -> None:
        """Wait until Kafka acknowledged every message (``PublishError`` if one was not)."""
        await self._batcher.flush()


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
