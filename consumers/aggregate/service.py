"""The aggregator's I/O: the two consumer groups, publishing, commits and rebalances.

Everything that decides anything lives in the pure modules (``sealer``, ``finalizer``,
``codec``); this layer moves bytes between Kafka and them. Both stages run in one asyncio
loop per process. See docs/aggregator.md for the design and its reasoning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
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
from consumers.aggregate.finalizer import Checkpoint, FinalizerState
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.sealer import (
    MARKERS,
    PartitionSealer,
    SealerConfig,
    parse_commit_metadata,
)
from consumers.aggregate.sink import BatchSink, OutRecord, Sink
from consumers.changelog import Record
from pulseboard import spec
from pulseboard.config import (
    FINALIZER_GROUP,
    LIVE_SESSION,
    SEALER_GROUP,
    TOPIC_BUCKETS,
    Config,
)
from pulseboard.history.writer import LiveHistorySink, history_topic
from pulseboard.kafka_client import kafka_admin, kafka_consumer, topic_partitions
from pulseboard.publishing import producer_for

log = logging.getLogger("pulseboard.aggregate")

REASON_HEADER = "pulseboard-reason"
# A fetch answers within fetch_max_wait_ms (500) when the broker is up; several times that
# without an answer means we cannot see the partition (broker down or unreachable).
SEEN_WITHIN_MS = 3000

_SEALED_KEY = SEALED.encode()[0]
_PROVISIONAL_KEY = PROVISIONAL.encode()[0]


@dataclass(frozen=True, slots=True)
class AggregateOptions:
    lateness_ms: int = spec.DEFAULT_LATENESS_MS
    future_ms: int = spec.DEFAULT_FUTURE_MS
    idle_ms: int = 2000
    idle_speed: float = 1.0
    progress: str = MARKERS
    producer_timeout_ms: int = 30_000
    seal_interval_ms: int = 200
    provisional_interval_ms: int = 250
    commit_interval_ms: int = 1000
    checkpoint_interval_ms: int = 10_000
    sealer: bool = True
    finalizer: bool = True
    max_records: int = 10_000

    def sealer_config(self) -> SealerConfig:
        return SealerConfig(
            lateness_ms=self.lateness_ms,
            future_ms=self.future_ms,
            idle_ms=self.idle_ms,
            idle_speed=self.idle_speed,
            progress=self.progress,
            producer_timeout_ms=self.producer_timeout_ms,
        )


def _mono_ms() -> float:
    return time.monotonic() * 1000


def _tps(tps: Iterable[TopicPartition]) -> str:
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{t}[{','.join(map(str, sorted(ps)))}]" for t, ps in sorted(by_topic.items()))


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


class _Listener(ConsumerRebalanceListener):
    def __init__(self, service: SealerService | FinalizerService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            await self.service.revoked(revoked)
        except Exception as exc:
            self.service.failure = exc  # aiokafka would only log it; the loop raises it

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self.service.assigned(assigned)
        except Exception as exc:
            self.service.failure = exc


# ------------------------------------------------------------------------- stage 1


class SealerService:
    """Consumes the events topics in group ``<prefix>pulseboard-aggregate``."""

    stage = "sealer"

    def __init__(
        self,
        config: Config,
        opts: AggregateOptions,
        metrics: AggregatorMetrics,
        sink: Sink,
        admin: AIOKafkaAdminClient,
    ) -> None:
        k = config.kafka
        self.opts = opts
        self.cfg = opts.sealer_config()
        self.metrics = metrics
        self.sink = sink
        self.admin = admin
        self.freight_topic = k.topic(spec.TOPIC_FREIGHT)
        self.topics = [self.freight_topic, k.topic(spec.TOPIC_SECTOR)]
        self.buckets_topic = k.topic(TOPIC_BUCKETS)
        self.dlq_topic = k.topic(spec.TOPIC_DLQ)
        self.group = k.prefix + SEALER_GROUP
        self.token = os.urandom(4).hex()
        self.sessions = 0
        self.consumer = kafka_consumer(
            config,
            f"pulseboard-aggregate-{self.token}",
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Scaling out moves as few partitions as possible; a partition given back by
            # the same rebalance keeps its state (see ``assigned``).
            partition_assignment_strategy=(StickyPartitionAssignor,),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # A partition added at run time is assigned within seconds, not minutes; until
            # then the finalizer waits for it (its producers' markers announced it).
            metadata_max_age_ms=5000,
        )
        self.parts: dict[TopicPartition, PartitionSealer] = {}
        self.lock = asyncio.Lock()
        self.generation = 0  # bumped by every revocation and assignment
        self.failure: BaseException | None = None  # from a rebalance callback
        self.expected: dict[TopicPartition, int] = {}  # next offset to process
        # Revoked partitions' state, reused if the next assignment gives them back and
        # nobody committed anything for them in between.
        self._parked: dict[TopicPartition, tuple[PartitionSealer, int, OffsetAndMetadata]] = {}
        self._next_seal = self._next_prov = self._next_commit = 0.0
        self._after_seal = 0
        self._next_warning = 0.0
        self._next_unpromised = 0.0
        self._blind: set[TopicPartition] = set()  # partitions without a recent fetch response
        self._last_tick: float | None = None

    async def start(self) -> None:
        self.consumer.subscribe(self.topics, listener=_Listener(self))
        await self.consumer.start()
        log.info("sealer: joining group %s on %s", self.group, ", ".join(self.topics))

    async def run(self, stop: asyncio.Event) -> None:
        metrics = self.metrics
        while not stop.is_set():
            if self.failure is not None:
                raise self.failure
            generation = self.generation
            batches = await self.consumer.getmany(timeout_ms=100, max_records=self.opts.max_records)
            async with self.lock:
                rebalanced = generation != self.generation
                started = time.perf_counter()
                now = _mono_ms()
                for tp, records in batches.items():
                    st = self.parts.get(tp)
                    fresh = fresh_records(self.consumer, tp, records, self.expected, rebalanced)
                    if st is not None and fresh:
                        await self._feed(tp, st, fresh, now)
                if batches:
                    metrics.batch_seconds.labels(self.stage).observe(time.perf_counter() - started)
                await self._tick(batches, now)

    async def _feed(
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
                self._next_warning = now + 60_000
                log.warning(
                    "sealer: %d in-time events arrived for seconds already sealed (records "
                    "out of ingest order, a producer that wrote below its own or another "
                    "producer's progress, or the idle rule ran ahead of a producer); they are "
                    "not counted (metric pulseboard_aggregator_records_after_seal_total)",
                    self._after_seal,
                )
                self._after_seal = 0
        if res.invalid:
            # The five DLQ headers: the source's two are the batch's, reasons and details
            # repeat (a bad producer repeats its mistake), so each header is built once per
            # batch; only the offset is per record. The reason counter moves once per reason.
            src_topic = ("pulseboard-source-topic", topic.encode())
            src_partition = ("pulseboard-source-partition", str(tp.partition).encode())
            reasons: dict[str, tuple[str, bytes]] = {}
            details: dict[str, tuple[str, bytes]] = {}
            counts: dict[str, int] = {}
            dead = []
            for rec, reason, detail in res.invalid:
                reason_header = reasons.get(reason)
                if reason_header is None:
                    reason_header = reasons[reason] = (REASON_HEADER, reason.encode())
                    counts[reason] = 0
                counts[reason] += 1
                detail_header = details.get(detail)
                if detail_header is None:
                    detail_header = details[detail] = (
                        "pulseboard-detail",
                        detail.encode("utf-8", "replace"),
                    )
                # Kafka needs a key or a value; a record with neither becomes an empty value.
                key = rec.key
                value = rec.value
                if value is None and key is None:
                    value = b""
                headers = [
                    reason_header,
                    detail_header,
                    src_topic,
                    src_partition,
                    ("pulseboard-source-offset", str(rec.offset).encode()),
                ]
                dead.append(OutRecord(value, key, rec.timestamp, headers))
            for reason, n in counts.items():
                m.invalid.labels(reason).inc(n)
            await self.sink.send_many(self.dlq_topic, dead)
            m.dlq.labels(topic).inc(len(dead))

    async def _tick(self, batches: dict, now: float) -> None:
        m = self.metrics
        wall = time.time() * 1000
        # A partition is watched while fetches for it are answered and this loop runs. A
        # spell without either (the broker unreachable; the loop stalled, e.g. in a commit
        # that waits for Kafka) tells nothing about that time, and producers may have been
        # buffering records stamped in it: such a partition is not idle, and when watched
        # again it gets time for their backlog (``PartitionSealer.resumed``).
        stalled = self._last_tick is not None and now - self._last_tick > SEEN_WITHIN_MS
        self._last_tick = now
        resumed = []
        for tp, st in self.parts.items():
            hw = self.consumer.highwater(tp)
            pos = self._position(tp)
            polled = self.consumer.last_poll_timestamp(tp)
            seen = polled is not None and wall - polled < SEEN_WITHIN_MS
            if not seen and (polled is not None or now - st.last_wall >= SEEN_WITHIN_MS):
                self._blind.add(tp)  # (not just assigned and waiting for its first fetch)
            elif stalled or tp in self._blind:
                self._blind.discard(tp)
                st.resumed(now)
                resumed.append(tp)
            caught_up = seen and tp not in batches and hw is not None and pos >= hw
            answered = None if polled is None else now - (wall - polled)
            st.advance(now, caught_up, answered)
            if st.expired:
                log.warning(
                    "sealer: %s: producer(s) %s sent no progress marker for %.0f s; given up "
                    "(stopped without leaving?), the partition's other producers count alone",
                    st.src,
                    ", ".join(st.expired),
                    self.cfg.producer_timeout_ms / 1000,
                    extra={"event": "producer_expired"},
                )
                st.expired.clear()
            if st.unpromised and caught_up and now >= self._next_unpromised:
                self._next_unpromised = now + 60_000
                log.warning(
                    "sealer: %s holds records but no progress marker: its producer is not "
                    "pulseboard's, and final values wait for a marker. For such producers run "
                    "the aggregator with --progress idle (docs/aggregator.md)",
                    st.src,
                    extra={"event": "no_markers"},
                )
            labels = (tp.topic, str(tp.partition))
            if hw is not None:
                m.lag.labels(*labels).set(max(0, hw - pos))
            if st.wm is not None:
                m.watermark_delay.labels(*labels).set((wall - st.wm) / 1000)
        if resumed:
            log.warning(
                "sealer: watching %s again after a spell without fetch answers%s; the idle "
                "rule waits %.0f s for what producers buffered meanwhile",
                _tps(resumed),
                " (this loop stalled)" if stalled else "",
                self.cfg.recovery_hold_ms / 1000,
                extra={"event": "resumed"},
            )
        if now >= self._next_seal:
            self._next_seal = now + self.opts.seal_interval_ms
            for st in self.parts.values():
                await self._publish(SEALED, st.src, st.sealed_messages())
        if now >= self._next_prov:
            self._next_prov = now + self.opts.provisional_interval_ms
            for st in self.parts.values():
                await self._publish(PROVISIONAL, st.src, st.provisional_messages())
        if now >= self._next_commit:
            self._next_commit = now + self.opts.commit_interval_ms
            await self._commit(list(self.parts))

    def _position(self, tp: TopicPartition) -> int:
        """The consumer's position without waiting (``position()`` may wait for a reset,
        and this runs under the lock): aiokafka's own when valid (it steps over control
        records), else the next offset to process."""
        expected = self.expected.get(tp, 0)
        try:
            state = self.consumer._subscription.subscription.assignment.state_value(tp)
            if state is not None and state.has_valid_position:
                return max(expected, state.position)
        except AttributeError:
            pass
        return expected

    async def _publish(self, kind: str, src: str, messages: list[bytes]) -> None:
        if not messages:
            return
        await self.sink.publish(self.buckets_topic, 0, message_key(kind, src), messages)
        self.metrics.bucket_messages.labels("out", kind).inc(len(messages))

    async def _commit(self, tps: list[TopicPartition]) -> dict[TopicPartition, OffsetAndMetadata]:
        """Commit positions with each partition's sealed ``through``, after Kafka has
        acknowledged every message and DLQ record they vouch for. Returns what was
        committed (nothing if the commit failed)."""
        if not tps:
            return {}
        offsets = {
            tp: OffsetAndMetadata(self.expected[tp], self.parts[tp].commit_metadata()) for tp in tps
        }
        await self.sink.flush()
        try:
            await self.consumer.commit(offsets)
        except Exception as exc:  # a rebalance is under way; the next owner re-reads more
            log.warning("sealer: commit failed (%s); the next owner will re-read more", exc)
            return {}
        return offsets

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.lock:
            self.generation += 1
            try:
                await self._revoke(revoked)
            finally:
                self.generation += 1

    async def _revoke(self, revoked: set[TopicPartition]) -> None:
        mine = [tp for tp in revoked if tp in self.parts]
        if not mine:
            return
        for tp in mine:
            st = self.parts[tp]
            await self._publish(SEALED, st.src, st.sealed_messages())
        committed = await self._commit(mine)
        for tp in mine:
            st = self.parts.pop(tp)
            expected = self.expected.pop(tp)
            if tp in committed:
                # Kept in case the same rebalance gives it back (sticky assignment).
                self._parked[tp] = (st, expected, committed[tp])
            for gauge in (self.metrics.lag, self.metrics.watermark_delay):
                with contextlib.suppress(KeyError):
                    gauge.remove(tp.topic, str(tp.partition))
        self.metrics.assigned.labels(self.stage).set(len(self.parts))
        log.info("sealer: revoked %s", _tps(mine))

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        # The generation changes before and after: a getmany overlapping any part of this
        # (aiokafka may fetch from the committed offsets meanwhile) is recognised as stale.
        async with self.lock:
            self.generation += 1
            try:
                await self._assign(assigned)
            finally:
                self.generation += 1

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        parked, self._parked = self._parked, {}
        tps = sorted(tp for tp in assigned if tp not in self.parts)
        self.metrics.rebalances.labels(self.stage).inc()
        if not tps:
            return
        committed = await committed_metadata(self.admin, self.group, tps)
        kept = []
        for tp in list(tps):
            held = parked.get(tp)
            om = committed.get(tp)
            if held is not None and om is not None and om == held[2]:
                st, expected, _ = held
                self.parts[tp] = st
                self.expected[tp] = expected
                self.consumer.seek(tp, expected)
                tps.remove(tp)
                kept.append(tp)
        throughs = {
            tp: parse_commit_metadata(committed[tp].metadata) if tp in committed else None
            for tp in tps
        }
        wanted = {
            tp: max(0, t * 1000 - self.cfg.future_ms) for tp, t in throughs.items() if t is not None
        }
        found = await self.consumer.offsets_for_times(wanted) if wanted else {}
        begins = await self.consumer.beginning_offsets(tps) if tps else {}
        ends = await self.consumer.end_offsets(tps) if tps else {}
        now = _mono_ms()
        resumed = []
        for tp in tps:
            om = committed.get(tp)
            through = throughs[tp]
            if through is not None:
                hit = found.get(tp)
                start = hit.offset if hit is not None else ends[tp]
                if om is not None:
                    start = min(start, om.offset)  # never skip a record not read yet
            else:
                start = begins[tp]
            start = max(start, begins[tp])
            self.consumer.seek(tp, start)
            self.expected[tp] = start
            self.sessions += 1
            self.parts[tp] = PartitionSealer(
                tp.topic,
                tp.partition,
                freight=tp.topic == self.freight_topic,
                sid=f"{self.token}-{self.sessions}",
                config=self.cfg,
                through=through,
                replay_until=om.offset if om is not None else 0,
                now_ms=now,
            )
            resumed.append(
                f"{tp.topic}:{tp.partition} from offset {start}"
                + (f" (through {through}, committed {om.offset})" if om is not None else "")
            )
        self.metrics.assigned.labels(self.stage).set(len(self.parts))
        if kept:
            resumed.insert(0, f"kept {_tps(kept)} as they were")
        log.info("sealer: assigned %s; %s", _tps([*kept, *tps]), "; ".join(resumed))

    async def close(self) -> None:
        try:
            await self.revoked(set(self.parts))
        finally:
            await self.consumer.stop()


# ------------------------------------------------------------------------- stage 2


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
        # Revoked state, reused if the next assignment gives the partition back untouched.
        self._parked: tuple[FinalizerState, int, int | None, OffsetAndMetadata] | None = None
        self.generation = 0
        self.failure: BaseException | None = None  # from a rebalance callback
        self.expected: dict[TopicPartition, int] = {}
        self.last_offset = -1
        self.checkpoint_offset: int | None = None
        self.lock = asyncio.Lock()
        self._restore_started = 0.0
        self._dups = self._dropped = 0
        self._next_prov = self._next_commit = self._next_checkpoint = 0.0

    async def start(self) -> None:
        self.consumer.subscribe([self.topic], listener=_Listener(self))
        await self.consumer.start()
        log.info("finalizer: joining group %s on %s", self.group, self.topic)

    async def _sources(self) -> list[str]:
        found = await topic_partitions(self.config, self.event_topics)
        return [f"{t}:{p}" for t in self.event_topics for p in found.get(t, [])]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.failure is not None:
                raise self.failure
            generation = self.generation
            batches = await self.consumer.getmany(timeout_ms=50, max_records=2000)
            async with self.lock:
                st = self.state
                if st is None:
                    continue
                rebalanced = generation != self.generation
                started = time.perf_counter()
                for tp, records in batches.items():
                    fresh = fresh_records(self.consumer, tp, records, self.expected, rebalanced)
                    if fresh:
                        self._feed(st, fresh)
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

    def _feed(self, st: FinalizerState, records: list) -> None:
        m = self.metrics
        for rec in records:
            kind = rec.key[0] if rec.key else 0
            if kind == _SEALED_KEY:
                st.on_sealed(rec.offset, decode_message(rec.value, thin_before=st.thin_before))
                m.bucket_messages.labels("in", SEALED).inc()
            elif kind == _PROVISIONAL_KEY:
                if not st.restoring:
                    st.on_provisional(decode_message(rec.value))
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

    async def _tick(self, st: FinalizerState) -> None:
        now = _mono_ms()
        if st.restoring:
            return
        if now >= self._next_prov:
            self._next_prov = now + self.opts.provisional_interval_ms
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
        meta = orjson.dumps({"c": self.checkpoint_offset, "e": st.emitted}).decode()
        om = OffsetAndMetadata(self.last_offset + 1, meta)
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

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        if self.tp not in assigned:
            self._parked = None
            return
        async with self.lock:
            self.generation += 1
            try:
                await self._assign()
            finally:
                self.generation += 1

    async def _assign(self) -> None:
        self.metrics.rebalances.labels(self.stage).inc()
        self._restore_started = time.monotonic()
        om = (await committed_metadata(self.admin, self.group, [self.tp])).get(self.tp)
        parked, self._parked = self._parked, None
        if parked is not None and om is not None and om == parked[3]:
            # Given back by the same rebalance, nobody committed meanwhile: carry on.
            self.state, self.last_offset, self.checkpoint_offset, _ = parked
            self.expected = {self.tp: self.last_offset + 1}
            self.consumer.seek(self.tp, self.last_offset + 1)
            self.metrics.assigned.labels(self.stage).set(1)
            log.info(
                "finalizer: assigned %s:0 again; kept its state (T=%s)",
                self.topic,
                self.state.emitted,
            )
            return
        meta: dict[str, Any] = {}
        if om is not None and om.metadata:
            try:
                meta = orjson.loads(om.metadata)
            except orjson.JSONDecodeError:
                meta = {}
        c, e = meta.get("c"), meta.get("e")
        ckpt = await self._read_checkpoint(c) if type(c) is int else None
        if type(c) is int and ckpt is None:
            log.warning(
                "finalizer: checkpoint at offset %s is gone; rebuilding from the start of %s",
                c,
                self.topic,
            )
        sources = await self._sources()
        begin = (await self.consumer.beginning_offsets([self.tp]))[self.tp]
        suppress = e if type(e) is int else None
        if ckpt is not None:
            st = FinalizerState(sources, checkpoint=ckpt, suppress_through=suppress)
            start = ckpt.restore_offset if st.restoring else ckpt.last_offset + 1
            self.checkpoint_offset = c
        else:
            st = FinalizerState(sources, suppress_through=suppress)
            start = begin
            self.checkpoint_offset = None
        start = max(start, begin)
        self.consumer.seek(self.tp, start)
        self.expected = {self.tp: start}
        self.last_offset = start - 1
        self._dups = self._dropped = 0
        self.state = st
        self._next_checkpoint = _mono_ms() + self.opts.checkpoint_interval_ms
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

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        if self.tp not in revoked:
            return
        async with self.lock:
            self.generation += 1
            try:
                await self._revoke()
            finally:
                self.generation += 1

    async def _revoke(self) -> None:
        st = self.state
        if st is None:
            return
        committed = await self._commit(st)
        if committed is not None:
            self._parked = (st, self.last_offset, self.checkpoint_offset, committed)
        self.state = None
        self.expected = {}
        self.metrics.assigned.labels(self.stage).set(0)
        self.metrics.forget_indicators()
        log.info("finalizer: revoked %s:0 at T=%s", self.topic, st.emitted)

    async def close(self) -> None:
        try:
            await self.revoked({self.tp})
        finally:
            await self.consumer.stop()


# ------------------------------------------------------------------------- process


async def run_aggregator(
    config: Config, opts: AggregateOptions, metrics: AggregatorMetrics, stop: asyncio.Event
) -> None:
    """Run the configured stages until ``stop`` is set or one of them fails."""
    producer = producer_for(config, "pulseboard-aggregate")
    await producer.start()
    admin = kafka_admin(config, "pulseboard-aggregate-admin")
    await admin.start()
    sink = Sink(producer)
    services: list[SealerService | FinalizerService] = []
    try:
        if opts.sealer:
            services.append(SealerService(config, opts, metrics, sink, admin))
        if opts.finalizer:
            indicators = BatchSink(producer, config.kafka.topic(spec.TOPIC_INDICATORS))
            # Only the live session's finals are live history: a replay session's are the
            # offline replay's, stored by `replay --to-history` (docs/history.md).
            history = (
                LiveHistorySink(producer, history_topic(config))
                if config.kafka.session == LIVE_SESSION
                else None
            )
            services.append(
                FinalizerService(config, opts, metrics, sink, admin, indicators, history)
            )
        for service in services:
            await service.start()
        tasks = [asyncio.create_task(s.run(stop), name=s.stage) for s in services]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        stopper.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for service, result in zip(services, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("%s failed: %r", service.stage, result)
                raise result
    finally:
        for service in services:
            try:
                await service.close()
            except Exception as exc:
                log.warning("%s: clean stop failed: %r", service.stage, exc)
        try:
            await sink.flush()
        finally:
            await admin.close()
            await producer.stop()
