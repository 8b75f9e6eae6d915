"""Stage 2's Kafka edge: the one-partition internal topic in group
``<prefix>pulseboard-finalize`` (at most one process of the group finalizes at a time),
final and provisional records to the indicators topic (and the live history), checkpoints
and commits (docs/aggregator.md section 4). ``finalizer.FinalizerState`` decides."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time

import orjson
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.structs import OffsetAndMetadata

from consumers.aggregate.codec import (
    CHECKPOINT,
    PROVISIONAL,
    SEALED,
    decode_message,
    encode_json,
    message_key,
)
from consumers.aggregate.finalizer import (
    Checkpoint,
    FinalizerState,
    commit_metadata,
    parse_commit_metadata,
)
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.options import AggregateOptions
from consumers.aggregate.pacing import Pacer, poll_timeout_ms
from consumers.aggregate.rebalance import Parking, Rebalances, committed_metadata, fresh_records
from consumers.aggregate.sealer_service import mono_ms
from consumers.aggregate.sink import BatchSink, Sink
from pulseboard import spec
from pulseboard.config import FINALIZER_GROUP, TOPIC_BUCKETS, Config
from pulseboard.history.writer import LiveHistorySink
from pulseboard.indicators import Record
from pulseboard.kafka_client import kafka_consumer, topic_partitions

log = logging.getLogger("pulseboard.aggregate")

_SEALED_KEY = SEALED.encode()[0]
_PROVISIONAL_KEY = PROVISIONAL.encode()[0]
# The longest the loop waits for records when nothing is due sooner.
IDLE_POLL_MS = 50
# Provisional values follow the sealer's provisional messages, which come once an interval:
# published at most once per (1 - slack) of it, so the finalizer falls into their step.
PROVISIONAL_SLACK = 0.2


def _indicator_value(rec: Record, final: bool, ingest: int) -> bytes:
    return orjson.dumps(
        {
            "t": rec.t,
            "name": rec.name,
            "key": rec.key,
            "value": rec.value,
            "final": final,
            "ingest_ts": ingest,
        }
    )


class FinalizerService:
    """Consumes the one-partition internal topic in group ``<prefix>pulseboard-finalize``:
    at most one process of the group finalizes at a time."""

    stage = "finalizer"

    def __init__(
        self,
        config: Config,
        opts: AggregateOptions,
        metrics: AggregatorMetrics,
        sink: Sink,
        admin: AIOKafkaAdminClient,
        indicators: BatchSink,
        history: LiveHistorySink | None = None,
    ) -> None:
        k = config.kafka
        self.config = config
        self.opts = opts
        self.metrics = metrics
        self.sink = sink
        self.admin = admin
        self.indicators = indicators
        self.history = history  # final records also to the history topic (docs/history.md)
        self.topic = k.topic(TOPIC_BUCKETS)
        self.tp = TopicPartition(self.topic, 0)
        self.group = k.prefix + FINALIZER_GROUP
        self.event_topics = [k.topic(spec.TOPIC_FREIGHT), k.topic(spec.TOPIC_SECTOR)]
        token = os.urandom(4).hex()
        self.client_id = f"pulseboard-finalize-{token}"
        self.consumer = kafka_consumer(
            config,
            self.client_id,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Scaling out moves as few partitions as possible; a partition given back by
            # the same rebalance keeps its state (see ``assigned``).
            partition_assignment_strategy=(StickyPartitionAssignor,),
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        self.state: FinalizerState | None = None
        # Revoked state (with the last offset and checkpoint offset), reused if the next
        # assignment gives the partition back untouched.
        self.parked: Parking[TopicPartition, tuple[FinalizerState, int, int | None]] = Parking()
        self.rebalances = Rebalances()
        self.expected: dict[TopicPartition, int] = {}
        self.last_offset = -1
        self.checkpoint_offset: int | None = None
        self._restore_started = 0.0
        self._dups = self._dropped = 0
        self._next_commit = self._next_checkpoint = 0.0
        self._prov = Pacer(opts.provisional_interval_ms, PROVISIONAL_SLACK)

    async def start(self) -> None:
        listener = self.rebalances.listener(self._revoked, self._assigned)
        self.consumer.subscribe([self.topic], listener=listener)
        await self.consumer.start()
        log.info("finalizer: joining group %s on %s", self.group, self.topic)

    async def _sources(self) -> list[str]:
        found = await topic_partitions(self.config, self.event_topics)
        return [f"{t}:{p}" for t in self.event_topics for p in found.get(t, [])]

    async def run(self, stop: asyncio.Event) -> None:
        rebalances = self.rebalances
        while not stop.is_set():
            if rebalances.failure is not None:
                raise rebalances.failure
            generation = rebalances.generation
            # Held records leave once the batch ahead of them is acknowledged: look again soon.
            holding = self.indicators.holding or (self.history is not None and self.history.holding)
            batches = await self.consumer.getmany(
                timeout_ms=poll_timeout_ms(
                    mono_ms(), self._due_ms(), idle_ms=IDLE_POLL_MS, holding=holding
                ),
                max_records=2000,
            )
            async with rebalances.lock:
                st = self.state
                if st is None:
                    continue
                rebalanced = generation != rebalances.generation
                started = time.perf_counter()
                for tp, records in batches.items():
                    fresh = fresh_records(self.consumer, tp, records, self.expected, rebalanced)
                    if fresh and self._feed(st, fresh):
                        self._prov.input(mono_ms())
                finals = st.take_final()
                if finals:
                    await self.indicators.publish(
                        (f"{r.name}|{r.key}".encode(), _indicator_value(r, True, ing))
                        for r, ing in finals
                    )
                    if self.history is not None:
                        await self.history.publish(finals)
                    self.metrics.indicator_records.labels("final").inc(len(finals))
                if batches:
                    self.metrics.batch_seconds.labels(self.stage).observe(
                        time.perf_counter() - started
                    )
                await self._tick(st)

    def _due_ms(self) -> float:
        """When the loop next has something to publish (nothing while it has no state or
        restores one: then it only reads)."""
        st = self.state
        if st is None or st.restoring:
            return math.inf
        return min(self._prov.due_ms(), self._next_commit, self._next_checkpoint)

    def _feed(self, st: FinalizerState, records: list) -> bool:
        """Feed the records; whether any was a provisional message (new live values)."""
        m = self.metrics
        provisional = False
        for rec in records:
            kind = rec.key[0] if rec.key else 0
            if kind == _SEALED_KEY:
                st.on_sealed(rec.offset, decode_message(rec.value, thin_before=st.thin_before))
                m.bucket_messages.labels("in", SEALED).inc()
            elif kind == _PROVISIONAL_KEY:
                if not st.restoring:
                    st.on_provisional(decode_message(rec.value))
                    provisional = True
                m.bucket_messages.labels("in", PROVISIONAL).inc()
            self.last_offset = rec.offset
            until = st.restore_until
            if until is not None and rec.offset >= until:
                st.finish_restore()
                seconds = time.monotonic() - self._restore_started
                m.restore_seconds.set(seconds)
                log.info(
                    "finalizer: restored to T=%s in %.1f s; publishing from T=%s",
                    st.emitted,
                    seconds,
                    (st.suppress_through or st.emitted or 0) + 1,
                )
        stats = st.stats
        m.duplicate_buckets.inc(stats.duplicate_buckets - self._dups)
        m.dropped_buckets.inc(stats.dropped_buckets - self._dropped)
        if stats.dropped_buckets > self._dropped:
            log.warning(
                "finalizer: %d sealed buckets arrived for seconds already final (a partition "
                "that was empty got old records); their events are not counted",
                stats.dropped_buckets - self._dropped,
            )
        self._dups, self._dropped = stats.duplicate_buckets, stats.dropped_buckets
        return provisional

    async def _tick(self, st: FinalizerState) -> None:
        await self.indicators.send_waiting()
        if self.history is not None:
            await self.history.send_waiting()
        now = mono_ms()
        if st.restoring:
            return
        if self._prov.is_due(now):
            self._prov.published(now)
            recs, ingest = st.provisional()
            if recs:
                await self.indicators.publish(
                    (f"{r.name}|{r.key}".encode(), _indicator_value(r, False, ingest)) for r in recs
                )
                self.metrics.indicator_records.labels("provisional").inc(len(recs))
                self.metrics.observe_indicators(recs)
            newest = st.newest_wm()
            if newest is not None and st.final.as_of is not None:
                self.metrics.final_delay.set(max(0.0, (newest - st.final.as_of * 1000) / 1000))
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + self.opts.checkpoint_interval_ms
            ck = st.checkpoint(self.last_offset)
            if ck is not None:
                await self.indicators.flush()
                self.checkpoint_offset = await self.sink.send_alone(
                    self.topic, 0, message_key(CHECKPOINT), encode_json(ck.to_obj())
                )
                self._next_commit = 0.0
        if now >= self._next_commit:
            self._next_commit = now + self.opts.commit_interval_ms
            await self._commit(st)

    async def _commit(self, st: FinalizerState) -> OffsetAndMetadata | None:
        """Commit the position with {"c": checkpoint offset, "e": T published through},
        after Kafka acknowledged every final record up to that T."""
        if st.restoring or self.last_offset < 0:
            return None
        await self.indicators.flush()
        if self.history is not None:
            await self.history.flush()
        om = OffsetAndMetadata(
            self.last_offset + 1, commit_metadata(self.checkpoint_offset, st.emitted)
        )
        try:
            await self.consumer.commit({self.tp: om})
        except Exception as exc:
            log.warning("finalizer: commit failed (%s)", exc)
            return None
        return om

    async def _read_checkpoint(self, offset: int) -> Checkpoint | None:
        reader = kafka_consumer(
            self.config,
            self.client_id + "-checkpoint",
            enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await reader.start()
        try:
            reader.assign([self.tp])
            reader.seek(self.tp, offset)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                batches = await reader.getmany(self.tp, timeout_ms=1000, max_records=1)
                for rec in batches.get(self.tp, []):
                    if rec.offset != offset:
                        return None  # gone (retention)
                    return Checkpoint.from_obj(orjson.loads(rec.value))
            return None
        finally:
            await reader.stop()

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        if self.tp not in assigned:
            self.parked.clear()
            return
        await self._assign()

    async def _assign(self) -> None:
        self.metrics.rebalances.labels(self.stage).inc()
        self._restore_started = time.monotonic()
        om = (await committed_metadata(self.admin, self.group, [self.tp])).get(self.tp)
        kept = Parking.reusable(self.parked.take_all(), self.tp, om)
        if kept is not None:
            # Given back by the same rebalance, nobody committed meanwhile: carry on.
            self.state, self.last_offset, self.checkpoint_offset = kept
            self.expected = {self.tp: self.last_offset + 1}
            self.consumer.seek(self.tp, self.last_offset + 1)
            self.metrics.assigned.labels(self.stage).set(1)
            log.info(
                "finalizer: assigned %s:0 again; kept its state (T=%s)",
                self.topic,
                self.state.emitted,
            )
            return
        c, suppress = parse_commit_metadata(om.metadata if om is not None else None)
        ckpt = await self._read_checkpoint(c) if c is not None else None
        if c is not None and ckpt is None:
            log.warning(
                "finalizer: checkpoint at offset %s is gone; rebuilding from the start of %s",
                c,
                self.topic,
            )
        sources = await self._sources()
        begin = (await self.consumer.beginning_offsets([self.tp]))[self.tp]
        if ckpt is not None:
            st = FinalizerState(
                sources, checkpoint=ckpt, suppress_through=suppress, pack=self.config.pack
            )
            start = ckpt.restore_offset if st.restoring else ckpt.last_offset + 1
            self.checkpoint_offset = c
        else:
            st = FinalizerState(sources, suppress_through=suppress, pack=self.config.pack)
            start = begin
            self.checkpoint_offset = None
        start = max(start, begin)
        self.consumer.seek(self.tp, start)
        self.expected = {self.tp: start}
        self.last_offset = start - 1
        self._dups = self._dropped = 0
        self.state = st
        self._next_checkpoint = mono_ms() + self.opts.checkpoint_interval_ms
        self.metrics.assigned.labels(self.stage).set(1)
        log.info(
            "finalizer: assigned %s:0 (%d source partitions); %s, reading from offset %d",
            self.topic,
            len(st.sources),
            f"restoring checkpoint T={ckpt.t} up to offset {ckpt.last_offset}"
            if ckpt is not None
            else "no checkpoint",
            start,
        )
        if not st.restoring:
            self.metrics.restore_seconds.set(time.monotonic() - self._restore_started)

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        if self.tp in revoked:
            await self._revoke()

    async def _revoke(self) -> None:
        st = self.state
        if st is None:
            return
        committed = await self._commit(st)
        if committed is not None:
            self.parked.park(self.tp, (st, self.last_offset, self.checkpoint_offset), committed)
        self.state = None
        self.expected = {}
        self.metrics.assigned.labels(self.stage).set(0)
        self.metrics.forget_indicators()
        log.info("finalizer: revoked %s:0 at T=%s", self.topic, st.emitted)

    async def close(self) -> None:
        try:
            async with self.rebalances.changing():
                await self._revoked({self.tp})
        finally:
            await self.consumer.stop()
