"""Fetched records of one partition through its ``PartitionSealer``: the metrics of what they
were, and the invalid ones to the DLQ (their records decided by ``dlq.dead_letters``)."""

from __future__ import annotations

import logging

from aiokafka import TopicPartition

from consumers.aggregate.dlq import dead_letters
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.sealer import PartitionSealer
from consumers.aggregate.sink import Sink

log = logging.getLogger("pulseboard.aggregate")

WARN_EVERY_MS = 60_000


class PartitionFeed:
    def __init__(self, metrics: AggregatorMetrics, sink: Sink, dlq_topic: str) -> None:
        self.metrics = metrics
        self.sink = sink
        self.dlq_topic = dlq_topic
        self._after_seal = 0  # refused in-time events not reported in the log yet
        self._next_warning = 0.0

    async def feed(
        self, tp: TopicPartition, st: PartitionSealer, records: list, now: float
    ) -> None:
        res = st.feed_batch(records, now)
        m = self.metrics
        topic = tp.topic
        if res.consumed:
            m.consumed.labels(topic).inc(res.consumed)
        if res.replayed:
            m.replayed.labels(topic).inc(res.replayed)
        if res.markers:
            m.markers.labels(topic).inc(res.markers)
        if res.counted:
            m.counted.labels(topic).inc(res.counted)
        if res.late:
            m.late.labels(topic).inc(res.late)
        if res.future:
            m.future.labels(topic).inc(res.future)
        if res.after_seal:
            m.after_seal.labels(topic).inc(res.after_seal)
            self._after_seal += res.after_seal
            if now >= self._next_warning:
                self._next_warning = now + WARN_EVERY_MS
                log.warning(
                    "sealer: %d in-time events arrived for seconds already sealed (records "
                    "out of ingest order, a producer that wrote below its own or another "
                    "producer's progress, or the idle rule ran ahead of a producer); they are "
                    "not counted (metric pulseboard_aggregator_records_after_seal_total)",
                    self._after_seal,
                )
                self._after_seal = 0
        if res.invalid:
            dead, reasons = dead_letters(res.invalid, topic, tp.partition)
            for reason, n in reasons.items():  # one counter move per reason, not per record
                m.invalid.labels(reason).inc(n)
            await self.sink.send_many(self.dlq_topic, dead)
            m.dlq.labels(topic).inc(len(dead))
