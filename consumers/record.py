"""`pulseboard record --out LOG`: the events topics written to a SPEC section 5 log.

Partitions are merged by record timestamp (a k-way merge), so the log comes out in ingest
order as far as each partition is, and `replay` of it sees what the live pipeline saw."""

from __future__ import annotations

import argparse
import asyncio
import heapq
import logging
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from pulseboard import spec
from pulseboard.config import Config, ConfigError
from pulseboard.connect import one_shot, wait_for_cluster
from pulseboard.eventlog import LogWriter
from pulseboard.kafka_client import kafka_consumer
from pulseboard.logs import configure_logging
from pulseboard.moments import parse_start
from pulseboard.progress import is_marker

IDLE_FLUSH_S = 1.0

log = logging.getLogger("pulseboard.record")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, metavar="LOG", help="log file to write (.gz compresses; - = stdout)"
    )
    parser.add_argument(
        "--from",
        dest="start",
        default="beginning",
        metavar="WHEN",
        help="'beginning' (default), 'now', or an ISO 8601 time with offset",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep recording live until Ctrl-C/SIGTERM; like a service, it waits for an "
        "unreachable cluster for ever (default: copy up to the end offsets seen at start, "
        "waiting at most 30 s for the cluster; see --connect-timeout)",
    )


@dataclass(slots=True)
class MergeBuffer:
    """Per-partition queues merged by timestamp. A record is released once every partition
    that may still deliver something has a queued record (or is known to be done)."""

    queues: dict[TopicPartition, deque[ConsumerRecord]] = field(default_factory=dict)
    done: set[TopicPartition] = field(default_factory=set)

    def add(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        self.queues.setdefault(tp, deque()).extend(records)

    def release(self, *, force: bool = False) -> list[ConsumerRecord]:
        heap = [(q[0].timestamp, i, tp) for i, (tp, q) in enumerate(self.queues.items()) if q]
        heapq.heapify(heap)
        waiting = [tp for tp, q in self.queues.items() if not q and tp not in self.done]
        out: list[ConsumerRecord] = []
        while heap and (force or not waiting):
            _, i, tp = heapq.heappop(heap)
            queue = self.queues[tp]
            out.append(queue.popleft())
            if queue:
                heapq.heappush(heap, (queue[0].timestamp, i, tp))
            elif tp not in self.done:
                waiting.append(tp)
        return out


async def record(config: Config, out: str, start: str, follow: bool) -> int:
    # The output first: an unwritable place fails before anything talks to Kafka.
    writer = LogWriter(out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    consumer: AIOKafkaConsumer | None = None
    try:
        topics = [config.kafka.topic(b) for b in (spec.TOPIC_FREIGHT, spec.TOPIC_SECTOR)]
        found = await wait_for_cluster(config, topics, "record", log, stop)
        if found is None:  # stopped while waiting: nothing was recorded
            writer.abort()
            return 0
        consumer = kafka_consumer(
            config,
            "pulseboard-record",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        tps = [TopicPartition(t, p) for t in topics for p in found[t]]
        consumer.assign(tps)
        await _seek(consumer, tps, start)
        ends = await consumer.end_offsets(tps)
        merge = MergeBuffer({tp: deque() for tp in tps})
        for tp in tps:
            if not follow and await consumer.position(tp) >= ends[tp]:
                merge.done.add(tp)
        last_data = time.monotonic()
        while not stop.is_set() and len(merge.done) < len(tps):
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batches.items():
                if not follow:
                    records = [r for r in records if r.offset < ends[tp]]
                # Progress markers are not events: a log holds events only.
                merge.add(tp, [r for r in records if not is_marker(r.value, r.headers)])
                if not follow and await consumer.position(tp) >= ends[tp]:
                    merge.done.add(tp)
            # Live, a quiet partition must not hold the log back for ever.
            idle = follow and not batches and time.monotonic() - last_data > IDLE_FLUSH_S
            if batches:
                last_data = time.monotonic()
            for rec in merge.release(force=idle):
                if writer.lines == 0:
                    # Says a recording that started before its cluster is now under way.
                    log.info("record: recording; the first event was ingested at %d", rec.timestamp)
                writer.write_record(rec.value or b"", rec.timestamp)
        for rec in merge.release(force=True):
            writer.write_record(rec.value or b"", rec.timestamp)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if consumer is not None:
            await consumer.stop()
    return writer.lines


async def _seek(consumer: AIOKafkaConsumer, tps: list[TopicPartition], start: str) -> None:
    if start == "beginning":
        await consumer.seek_to_beginning(*tps)
        return
    if start == "now":
        await consumer.seek_to_end(*tps)
        return
    when = parse_start(start)
    found = await consumer.offsets_for_times({tp: when for tp in tps})
    for tp in tps:
        hit = found.get(tp)
        if hit is None:
            await consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, hit.offset)


def _check_start(start: str) -> None:
    """A wrong `--from` fails at once, never after waiting for the cluster."""
    if start in ("beginning", "now"):
        return
    try:
        parse_start(start)
    except ConfigError:
        raise ConfigError(
            f"--from {start!r}: write 'beginning', 'now' or an ISO 8601 time with a UTC "
            "offset, e.g. 2026-11-20T08:00:00+08:00"
        ) from None


def run(args: argparse.Namespace, config: Config) -> int:
    _check_start(args.start)
    configure_logging(config)
    if not args.follow:  # a one-shot copy; `--follow` is a service and waits for ever
        config = one_shot(config)
    started = time.monotonic()
    try:
        lines = asyncio.run(record(config, args.out, args.start, args.follow))
    except OSError as exc:
        print(
            f"pulseboard record: cannot write {args.out}: {exc.strerror or exc}; nothing was "
            "left behind under that name",
            file=sys.stderr,
        )
        return 1
    print(
        f"recorded {lines} records to {args.out} in {time.monotonic() - started:.2f} s",
        file=sys.stderr,
    )
    return 0
