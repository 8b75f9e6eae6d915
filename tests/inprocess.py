"""Both stages of the aggregator driven in one process without Kafka (tests, benchmarks).

``split_records`` partitions Kafka records the way Kafka's default partitioner does;
``drive_sealer`` runs one partition's records through a ``PartitionSealer`` in random
slices, optionally "crashing" and restarting it from its last commit the way the live
sealer does; ``drive_finalizer`` feeds the resulting message streams, interleaved at random
(each partition's own order kept), to a ``FinalizerState``, optionally crashing and
restoring it from a checkpoint. ``drive_live`` runs every sealer and the finalizer together
against a wall clock, each partition's records arriving on a schedule of the caller's
(``arrivals``): publication patterns, per-partition delays, bursts, a partition that gets
its first record late. Randomness comes from the ``random.Random`` passed in.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from consumers.aggregate.codec import PROVISIONAL, SEALED, decode_message
from consumers.aggregate.finalizer import FinalizerState
from consumers.aggregate.sealer import IDLE, PartitionSealer, SealerConfig
from consumers.changelog import Record
from pulseboard import spec
from pulseboard.kafka_client import default_partition
from pulseboard.progress import END, LEAVE, TICK, marker_headers


class FakeRecord(NamedTuple):
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


class SourceRecord(NamedTuple):
    """What ``split_records`` needs of a record (``producers.records.SimRecord`` fits)."""

    ingest_ts: int
    topic: str
    key: bytes
    value: bytes


def end_of(records: Iterable[SourceRecord], config: SealerConfig | None = None) -> int:
    """A watermark that seals every event of ``records``."""
    config = config or SealerConfig()
    return max(r.ingest_ts for r in records) + config.lateness_ms + config.future_ms + 2000


def split_records(
    records: Iterable[SourceRecord],
    partitions: dict[str, int] | None = None,
    *,
    markers: bool = True,
    mark_every: int = 500,
    reorder_ms: int = 0,
    end: bool = True,
    producer: str = "replay",
    grow: tuple[int, str, int] | None = None,
) -> dict[tuple[str, int], list[FakeRecord]]:
    """Records per (base topic, partition), with offsets, like Kafka would store them.

    With ``markers`` (what ``pulseboard replay --to-kafka`` writes, ``pulseboard.progress``):
    a first marker in every partition before any record, one every ``mark_every`` records at
    the greatest ingest_ts so far less ``reorder_ms``, and an ``end`` (or ``leave``) last.
    ``grow`` = (record index, base topic, new count): partitions added to a topic at run
    time, announced by markers in every partition before the first record routed with the
    new count (as ``BatchPublisher.mark`` does)."""
    partitions = dict(partitions or {spec.TOPIC_FREIGHT: 6, spec.TOPIC_SECTOR: 3})
    final_counts = dict(partitions)
    if grow is not None:
        final_counts[grow[1]] = max(grow[2], partitions[grow[1]])
    out: dict[tuple[str, int], list[FakeRecord]] = {
        (t, p): [] for t, n in final_counts.items() for p in range(n)
    }

    def mark(ts: int, kind: str) -> None:
        for (topic, p), part in out.items():
            if p >= partitions[topic]:
                continue  # not there yet
            headers = tuple(marker_headers(producer, kind, partitions[topic]))
            part.append(FakeRecord(len(part), max(0, ts), None, b"", headers))

    high: int | None = None
    for i, rec in enumerate(records):
        if grow is not None and i == grow[0]:
            partitions[grow[1]] = final_counts[grow[1]]
            if markers and high is not None:
                mark(high - reorder_ms, TICK)
        if markers and high is None:
            mark(rec.ingest_ts - reorder_ms, TICK)
        elif markers and i % mark_every == 0 and high is not None:
            mark(high - reorder_ms, TICK)
        p = default_partition(rec.key, partitions[rec.topic])
        part = out[(rec.topic, p)]
        part.append(FakeRecord(len(part), rec.ingest_ts, rec.key, rec.value))
        high = rec.ingest_ts if high is None else max(high, rec.ingest_ts)
    if markers and high is not None:
        mark(high if end else high - reorder_ms, END if end else LEAVE)
    return out


def arrivals(
    parts: dict[tuple[str, int], list[FakeRecord]],
    base: Callable[[tuple[str, int], int, FakeRecord], float],
) -> dict[tuple[str, int], list[float]]:
    """Wall-clock arrival time (ms) of every record of every partition: ``base`` gives a
    record's publication time; a partition's records arrive in offset order."""
    out = {}
    for tp, recs in parts.items():
        times: list[float] = []
        last = 0.0
        for i, rec in enumerate(recs):
            last = max(last, base(tp, i, rec))
            times.append(last)
        out[tp] = times
    return out


@dataclass(slots=True)
class LiveRun:
    records: list[Record] = field(default_factory=list)
    state: FinalizerState | None = None
    after_seal: int = 0
    wall_ms: float = 0.0


def drive_live(
    parts: dict[tuple[str, int], list[FakeRecord]],
    arrival: dict[tuple[str, int], list[float]],
    rng: random.Random,
    *,
    config: SealerConfig | None = None,
    known: Iterable[tuple[str, int]] | None = None,
    max_wall_ms: float = 3_600_000.0,
) -> LiveRun:
    """Both stages against a wall clock: every partition's records become readable at
    their arrival times; each step, each sealer reads part or all of what has arrived
    (consumer lag), is ``caught_up`` when it has read everything arrived, and its messages
    go straight to the finalizer. Ends when every record is read and the finalizer's input
    has ended, or at ``max_wall_ms``. ``known``: the partitions the finalizer learns from
    metadata at start (default all; a partition added at run time is left out)."""
    config = config or SealerConfig()
    run = LiveRun()
    sealers = {
        tp: PartitionSealer(
            tp[0], tp[1], freight=tp[0] == spec.TOPIC_FREIGHT, sid=f"l{tp[1]}", config=config
        )
        for tp in parts
    }
    pos = dict.fromkeys(parts, 0)
    fin = FinalizerState(f"{t}:{p}" for t, p in (parts if known is None else known))
    offset = 0
    now = 0.0
    order = sorted(parts)
    while now < max_wall_ms:
        now += rng.uniform(1.0, 400.0)
        rng.shuffle(order)
        for tp in order:
            st = sealers[tp]
            avail = bisect.bisect_right(arrival[tp], now)
            take = avail - pos[tp]
            if take and rng.random() < 0.3:
                take = rng.randint(0, take)  # lagging behind
            if take:
                res = st.feed_batch(parts[tp][pos[tp] : pos[tp] + take], now)
                run.after_seal += res.after_seal
                pos[tp] += take
            st.advance(now, caught_up=pos[tp] == avail)
            for raw in st.sealed_messages():
                fin.on_sealed(offset, decode_message(raw))
                offset += 1
            if rng.random() < 0.3:
                for raw in st.provisional_messages():
                    fin.on_provisional(decode_message(raw))
                    offset += 1
        run.records += [rec for rec, _ in fin.take_final()]
        if rng.random() < 0.2:
            fin.provisional()
        done = all(pos[tp] == len(parts[tp]) for tp in parts)
        if done and (fin.ended or all(st.ended for st in sealers.values())):
            break
    run.records += [rec for rec, _ in fin.take_final()]
    run.state = fin
    run.wall_ms = now
    return run


@dataclass(slots=True)
class SealerRun:
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    restarts: int = 0
    counted: int = 0
    invalid: int = 0


def drive_sealer(
    topic: str,
    partition: int,
    records: list[FakeRecord],
    rng: random.Random,
    *,
    config: SealerConfig | None = None,
    crash_probability: float = 0.0,
    max_slice: int = 300,
    end_ms: int | None = None,
) -> SealerRun:
    """One partition through a sealer in random slices, ending caught up and idle until
    its watermark reaches ``end_ms`` (default: its last record + L + F + 2 s, enough to
    seal all of its own events)."""
    config = config or SealerConfig()
    run = SealerRun()
    now = 0.0
    freight = topic == spec.TOPIC_FREIGHT
    sealer = PartitionSealer(topic, partition, freight=freight, sid="s0", config=config)
    committed_offset, committed_through = 0, None
    timestamps = [r.timestamp for r in records]
    i = 0
    while i < len(records):
        chunk = records[i : i + rng.randint(1, max_slice)]
        i += len(chunk)
        now += rng.random() * 50
        res = sealer.feed_batch(chunk, now)
        run.counted += res.counted
        run.invalid += len(res.invalid)
        sealer.advance(now, caught_up=False)
        if rng.random() < 0.5:
            run.messages += [(SEALED, m) for m in sealer.sealed_messages()]
        if rng.random() < 0.5:
            run.messages += [(PROVISIONAL, m) for m in sealer.provisional_messages()]
        if rng.random() < 0.2:
            committed_offset, committed_through = i, sealer.through_sent
        if rng.random() < crash_probability:
            # Killed: open buckets and unsent messages are lost; sent ones stay in the topic.
            run.restarts += 1
            sealer = PartitionSealer(
                topic,
                partition,
                freight=freight,
                sid=f"s{run.restarts}",
                config=config,
                through=committed_through,
                replay_until=committed_offset,
                now_ms=now,
            )
            resume = sealer.resume_ms
            # Kafka's time index: the first offset with a timestamp at or after ``resume``
            # (markers make timestamps non-monotonic, so no bisection).
            j = (
                0
                if resume is None
                else next((k for k, t in enumerate(timestamps) if t >= resume), len(timestamps))
            )
            i = min(j, committed_offset)
    if config.progress != IDLE:
        # Caught up: the producers' markers (an ``end`` last) seal what they promised.
        sealer.advance(now, caught_up=True)
        run.messages += [(SEALED, m) for m in sealer.sealed_messages()]
        run.messages += [(PROVISIONAL, m) for m in sealer.provisional_messages()]
        return run
    # Caught up, then idle until the watermark reaches end_ms.
    base = sealer.wm if sealer.wm is not None else 0
    if end_ms is None:
        end_ms = base + config.lateness_ms + config.future_ms + 2000
    idle = config.idle_ms + max(0, end_ms - base) / config.idle_speed
    sealer.advance(max(now, sealer.last_wall) + idle, caught_up=True)
    run.messages += [(SEALED, m) for m in sealer.sealed_messages()]
    run.messages += [(PROVISIONAL, m) for m in sealer.provisional_messages()]
    return run


def interleave(
    streams: dict[str, list[tuple[str, bytes]]], rng: random.Random
) -> list[tuple[str, bytes]]:
    """One stream of every partition's messages, each partition's own order kept."""
    queues = {src: list(reversed(msgs)) for src, msgs in streams.items() if msgs}
    out: list[tuple[str, bytes]] = []
    while queues:
        src = rng.choice(sorted(queues))
        q = queues[src]
        for _ in range(rng.randint(1, 4)):
            if not q:
                break
            out.append(q.pop())
        if not q:
            del queues[src]
    return out


@dataclass(slots=True)
class FinalizerRun:
    records: list[Record] = field(default_factory=list)
    ingest: list[int] = field(default_factory=list)
    restores: int = 0
    restore_offsets: list[int] = field(default_factory=list)
    state: FinalizerState | None = None


def drive_finalizer(
    stream: list[tuple[str, bytes]],
    sources: Iterable[str],
    rng: random.Random,
    *,
    crash_at: Iterable[int] = (),
    provisional_probability: float = 0.05,
) -> FinalizerRun:
    """Feed one interleaved stream (offset = index). At each offset in ``crash_at`` the
    finalizer is replaced by a new one restored from its latest checkpoint; everything it
    had returned counts as published."""
    sources = list(sources)
    run = FinalizerRun()
    state = FinalizerState(sources)
    crashes = sorted(set(crash_at))
    checkpoint = None
    published_through: int | None = None  # the committed "emitted through"
    off = 0
    while off < len(stream):
        kind, raw = stream[off]
        if kind == SEALED:
            state.on_sealed(off, decode_message(raw, thin_before=state.thin_before))
        elif not state.restoring:
            state.on_provisional(decode_message(raw))
        restore_until = state.restore_until
        if restore_until is not None and off >= restore_until:
            state.finish_restore()
        for rec, ing in state.take_final():
            run.records.append(rec)
            run.ingest.append(ing)
        if rng.random() < provisional_probability:
            state.provisional()
        if rng.random() < 0.1:
            checkpoint = state.checkpoint(off) or checkpoint
        if crashes and off >= crashes[0]:
            crashes.pop(0)
            run.restores += 1
            if state.emitted is not None:
                published_through = max(published_through or state.emitted, state.emitted)
            suppress = published_through
            if checkpoint is None:
                state = FinalizerState(sources, suppress_through=suppress)
                off = 0
                continue
            state = FinalizerState(sources, checkpoint=checkpoint, suppress_through=suppress)
            run.restore_offsets.append(checkpoint.restore_offset)
            off = checkpoint.restore_offset if state.restoring else checkpoint.last_offset + 1
            continue
        off += 1
    run.state = state
    return run
