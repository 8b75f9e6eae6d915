"""Stage 1's Kafka edge: the events topics in group ``<prefix>pulseboard-aggregate``,
each owned partition through a ``PartitionSealer``, its messages to the internal topic, and
commits with the sealed ``through`` (docs/aggregator.md sections 2 and 5). What to decide is
decided in ``sealer``, ``watching``, ``dlq`` and ``rebalance``; this moves bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.structs import OffsetAndMetadata

from consumers.aggregate.codec import PROVISIONAL, SEALED, message_key
from consumers.aggregate.feed import PartitionFeed
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.options import AggregateOptions
from consumers.aggregate.pacing import Pacer, poll_timeout_ms
from consumers.aggregate.rebalance import (
    Parking,
    Rebalances,
    committed_metadata,
    describe,
    fresh_records,
)
from consumers.aggregate.sealer import (
    PartitionSealer,
    parse_commit_ended,
    parse_commit_metadata,
    resume_from_ms,
    resume_offset,
)
from consumers.aggregate.sink import Sink
from consumers.aggregate.watching import Watch
from pulseboard import spec
from pulseboard.config import SEALER_GROUP, TOPIC_BUCKETS, Config
from pulseboard.kafka_client import kafka_consumer

log = logging.getLogger("pulseboard.aggregate")

NO_MARKERS_WARN_EVERY_MS = 60_000
# The longest the loop waits for records when nothing is due sooner.
IDLE_POLL_MS = 100


def mono_ms() -> float:
    return time.monotonic() * 1000


class SealerService:
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
        self.cfg = opts.sealer_config(config.pack)
        self.metrics = metrics
        self.sink = sink
        self.admin = admin
        self.freight_topic = k.topic(spec.TOPIC_FREIGHT)
        self.topics = [self.freight_topic, k.topic(spec.TOPIC_SECTOR)]
        self.buckets_topic = k.topic(TOPIC_BUCKETS)
        self.feed = PartitionFeed(metrics, sink, k.topic(spec.TOPIC_DLQ))
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
            # the same rebalance keeps its state (see ``_assign``).
            partition_assignment_strategy=(StickyPartitionAssignor,),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # A partition added at run time is assigned within seconds, not minutes; until
            # then the finalizer waits for it (its producers' markers announced it).
            metadata_max_age_ms=5000,
        )
        self.parts: dict[TopicPartition, PartitionSealer] = {}
        self.rebalances = Rebalances()
        self.expected: dict[TopicPartition, int] = {}  # next offset to process
        self.parked: Parking[TopicPartition, tuple[PartitionSealer, int]] = Parking()
        self.watch = Watch()
        self._next_seal = self._next_commit = 0.0
        # Deltas go out one interval apart under load, at once after a quiet spell.
        self._prov = Pacer(opts.provisional_interval_ms)
        self._next_unpromised = 0.0

    async def start(self) -> None:
        listener = self.rebalances.listener(self._revoke, self._assign)
        self.consumer.subscribe(self.topics, listener=listener)
        await self.consumer.start()
        log.info("sealer: joining group %s on %s", self.group, ", ".join(self.topics))

    async def run(self, stop: asyncio.Event) -> None:
        metrics = self.metrics
        rebalances = self.rebalances
        while not stop.is_set():
            if rebalances.failure is not None:
                raise rebalances.failure
            generation = rebalances.generation
            # Wait for records no longer than until the next publication is due: waiting
            # for the next fetch instead held provisional messages back by up to its wait.
            due = min(self._next_seal, self._prov.due_ms(), self._next_commit)
            wait_ms = poll_timeout_ms(
                mono_ms(), due, idle_ms=IDLE_POLL_MS, holding=self.sink.holding
            )
            batches = await self.consumer.getmany(
                timeout_ms=wait_ms, max_records=self.opts.max_records
            )
            async with rebalances.lock:
                rebalanced = generation != rebalances.generation
                started = time.perf_counter()
                now = mono_ms()
                for tp, records in batches.items():
                    st = self.parts.get(tp)
                    fresh = fresh_records(self.consumer, tp, records, self.expected, rebalanced)
                    if st is not None and fresh:
                        await self.feed.feed(tp, st, fresh, now)
                if batches:
                    metrics.batch_seconds.labels(self.stage).observe(time.perf_counter() - started)
                await self._tick(batches, now)

    async def _tick(self, batches: dict, now: float) -> None:
        m = self.metrics
        await self.sink.send_waiting()
        wall = time.time() * 1000
        watch = self.watch
        watch.tick(now)
        resumed = []
        for tp, st in self.parts.items():
            hw = self.consumer.highwater(tp)
            # Our own next offset to process: the project's producers are idempotent, not
            # transactional, so no control record sits between it and the high watermark.
            pos = self.expected.get(tp, 0)
            seen = watch.see(
                tp,
                now_ms=now,
                wall_ms=wall,
                polled_wall_ms=self.consumer.last_poll_timestamp(tp),
                last_record_ms=st.last_wall,
                fetched_now=tp in batches,
                highwater=hw,
                position=pos,
            )
            if seen.resumed:
                st.resumed(now)
                resumed.append(tp)
            st.advance(now, seen.caught_up, seen.answered_ms)
            self._report(st, seen.caught_up, now)
            labels = (tp.topic, str(tp.partition))
            if hw is not None:
                m.lag.labels(*labels).set(max(0, hw - pos))
            if st.wm is not None and not st.ended:
                m.watermark_delay.labels(*labels).set((wall - st.wm) / 1000)
        if resumed:
            log.warning(
                "sealer: watching %s again after a spell without fetch answers%s; the idle "
                "rule waits %.0f s for what producers buffered meanwhile",
                describe(resumed),
                " (this loop stalled)" if watch.stalled else "",
                self.cfg.recovery_hold_ms / 1000,
                extra={"event": "resumed"},
            )
        if any(st.delta for st in self.parts.values()):
            self._prov.input(now)
        published = False
        if now >= self._next_seal:
            self._next_seal = now + self.opts.seal_interval_ms
            for st in self.parts.values():
                published |= await self._publish(SEALED, st.src, st.sealed_messages())
        if self._prov.is_due(now):
            self._prov.published(now)
            for st in self.parts.values():
                published |= await self._publish(PROVISIONAL, st.src, st.provisional_messages())
        if published:
            # One batch for the turn's messages: sent per partition, those after the first
            # waited behind it for its acknowledgement.
            await self.sink.send_ready(self.buckets_topic)
        if now >= self._next_commit:
            self._next_commit = now + self.opts.commit_interval_ms
            await self._commit(list(self.parts))

    def _report(self, st: PartitionSealer, caught_up: bool, now: float) -> None:
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
            self._next_unpromised = now + NO_MARKERS_WARN_EVERY_MS
            log.warning(
                "sealer: %s holds records but no progress marker: its producer is not "
                "pulseboard's, and final values wait for a marker. For such producers run "
                "the aggregator with --progress idle (docs/aggregator.md)",
                st.src,
                extra={"event": "no_markers"},
            )

    async def _publish(self, kind: str, src: str, messages: list[bytes]) -> bool:
        """Add the messages to the internal topic's open batch (a full one is sent; the
        rest waits for ``Sink.send_ready`` or the next commit's flush); whether there were
        any."""
        if not messages:
            return False
        await self.sink.publish(self.buckets_topic, 0, message_key(kind, src), messages, send=False)
        self.metrics.bucket_messages.labels("out", kind).inc(len(messages))
        return True

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
            self.watch.forget(tp)
            if tp in committed:
                self.parked.park(tp, (st, expected), committed[tp])
            for gauge in (self.metrics.lag, self.metrics.watermark_delay):
                with contextlib.suppress(KeyError):
                    gauge.remove(tp.topic, str(tp.partition))
        self.metrics.assigned.labels(self.stage).set(len(self.parts))
        log.info("sealer: revoked %s", describe(mine))

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        parked = self.parked.take_all()
        tps = sorted(tp for tp in assigned if tp not in self.parts)
        self.metrics.rebalances.labels(self.stage).inc()
        if not tps:
            return
        committed = await committed_metadata(self.admin, self.group, tps)
        kept = []
        for tp in list(tps):
            held = Parking.reusable(parked, tp, committed.get(tp))
            if held is not None:
                st, expected = held
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
            tp: resume_from_ms(t, self.cfg.future_ms) for tp, t in throughs.items() if t is not None
        }
        found = await self.consumer.offsets_for_times(wanted) if wanted else {}
        begins = await self.consumer.beginning_offsets(tps) if tps else {}
        ends = await self.consumer.end_offsets(tps) if tps else {}
        now = mono_ms()
        resumed = []
        for tp in tps:
            om = committed.get(tp)
            through = throughs[tp]
            hit = found.get(tp)
            start = resume_offset(
                through,
                om.offset if om is not None else None,
                hit.offset if hit is not None else None,
                begins[tp],
                ends[tp],
            )
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
                ended_at=parse_commit_ended(om.metadata) if om is not None else None,
            )
            resumed.append(
                f"{tp.topic}:{tp.partition} from offset {start}"
                + (f" (through {through}, committed {om.offset})" if om is not None else "")
            )
        self.metrics.assigned.labels(self.stage).set(len(self.parts))
        if kept:
            resumed.insert(0, f"kept {describe(kept)} as they were")
        log.info("sealer: assigned %s; %s", describe([*kept, *tps]), "; ".join(resumed))

    async def close(self) -> None:
        try:
            async with self.rebalances.changing():
                await self._revoke(set(self.parts))
        finally:
            await self.consumer.stop()
