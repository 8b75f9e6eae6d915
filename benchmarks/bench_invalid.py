"""What an invalid record costs the live aggregator's stage 1, in process (no Kafka).

    .venv/bin/python benchmarks/bench_invalid.py [--records 200000] [--invalid-fraction 0.05]
        [--repeat 5] [--chunk 1000] [--per-kind 2000] [--skip-kinds] [--profile]
        [--no-compression]

Runs the code the live sealer runs for a fetched batch, `PartitionSealer.feed_batch` and then
`PartitionFeed.feed` (metrics into a real registry; DLQ records through `Sink.send_many`
into real aiokafka batch builders with the producer's lz4 compression, built as its sender
would build them, and a `Sink.flush` at the end as before every commit); only the network is
left out. Each figure is the best of --repeat runs (the machine may be shared):

1. a simulated stream (9 partitions, fed in chunks of --chunk records per partition, like
   `getmany`) with and without --invalid-fraction invalid records (made as `pulseboard
   produce --invalid-fraction` makes them), and its invalid records alone, runs
   alternating: µs per record, and what each invalid record costs beyond a valid one;
2. per kind of invalid record (the 20 faults of `producers/faults.py`, a 10 MB record,
   100,000-deep nesting, a key that is not the event's, an event on the wrong topic, a
   record without a value): µs per record for `validate()` alone and for the whole path,
   next to valid records. After 1., because the 10 MB records leave the allocator in a
   state that slows whatever runs next;
3. with --profile, cProfile of the stream with invalid records (top functions by own time).

Results go to stdout (JSON)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import json
import os
import pstats
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the in-process driver of the two stages

from aiokafka import TopicPartition  # noqa: E402
from aiokafka.producer.message_accumulator import BatchBuilder  # noqa: E402
from aiokafka.record.default_records import DefaultRecordBatch  # noqa: E402
from inprocess import FakeRecord, split_records  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from consumers.aggregate.feed import PartitionFeed  # noqa: E402
from consumers.aggregate.metrics import AggregatorMetrics  # noqa: E402
from consumers.aggregate.sealer import PartitionSealer, SealerConfig  # noqa: E402
from consumers.aggregate.sink import Sink  # noqa: E402
from consumers.validation import Invalid, validate  # noqa: E402
from producers.faults import MUTATORS, ONLY_FOR  # noqa: E402
from producers.simulation import SimConfig, Simulation  # noqa: E402
from pulseboard import spec  # noqa: E402
from pulseboard.fast_lz4 import FastLz4Batch  # noqa: E402
from pulseboard.publishing import BATCH_BYTES  # noqa: E402

START_MS = 1_764_000_000_000
DLQ = "events.dlq"
SECTOR_TYPES = {"output", "dc_load"}
# The aggregator's batches are lz4 in fast mode (pulseboard/fast_lz4.py); --no-compression
# shows what that part of the cost is.
CODEC = {"codec": DefaultRecordBatch.CODEC_LZ4}


class FakeProducer:
    """What `Sink` uses of an `AIOKafkaProducer`, minus the network: batches are built
    (and lz4-compressed) as the sender would, and acknowledged at once."""

    def __init__(self, dlq_partitions: int = 1) -> None:
        self.parts = set(range(dlq_partitions))
        self.records = 0
        self.batches = 0
        self.bytes = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return self.parts

    def create_batch(self) -> BatchBuilder:
        if CODEC["codec"] == DefaultRecordBatch.CODEC_LZ4:
            return FastLz4Batch(BATCH_BYTES)
        return BatchBuilder(BATCH_BYTES, CODEC["codec"])

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.records += batch.record_count()
        self.batches += 1
        self.bytes += len(batch._build())
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def send(self, topic: str, value: Any = None, key: Any = None, partition: Any = None,
                   timestamp_ms: Any = None, headers: Any = None) -> Any:  # fmt: skip
        batch = BatchBuilder(max(BATCH_BYTES, len(value or b"") + 4096), CODEC["codec"])
        batch.append(timestamp=timestamp_ms, key=key, value=value, headers=headers or [])
        return await self.send_batch(batch, topic, partition=partition)


def fake_service(producer: FakeProducer) -> PartitionFeed:
    """The sealer's feed edge, its sink on a producer without network."""
    return PartitionFeed(AggregatorMetrics.create(), Sink(producer), DLQ)  # type: ignore[arg-type]


# ------------------------------------------------------------------ record sets


def simulated(n: int, invalid: float, seed: int = 1) -> list:
    sim = Simulation(
        SimConfig(
            seed=seed, start_ms=START_MS, events_per_sim_second=5000.0, invalid_fraction=invalid
        )
    )
    return sim.take(n)


def kinds(valid: list, per_kind: int) -> dict[str, tuple[str, list[FakeRecord]]]:
    """kind -> (topic, records), all of that kind, each keyed as its valid original."""
    rng = random.Random(7)
    out: dict[str, tuple[str, list[FakeRecord]]] = {}
    freight = [r for r in valid if r.topic == spec.TOPIC_FREIGHT]
    out["valid"] = (spec.TOPIC_FREIGHT, _fake(freight[:per_kind]))
    decoded = [(r, orjson.loads(r.value)) for r in valid]
    for kind, mutate in MUTATORS.items():
        allowed = ONLY_FOR.get(kind)
        topic = (
            spec.TOPIC_SECTOR if allowed and set(allowed) <= SECTOR_TYPES else spec.TOPIC_FREIGHT
        )
        eligible = [
            (r, ev)
            for r, ev in decoded
            if r.topic == topic and (allowed is None or ev["type"] in allowed)
        ]
        recs = []
        for r, ev in itertools.islice(itertools.cycle(eligible), per_kind):  # rare types recur
            bad = mutate(dict(ev), r.value, rng)
            if bad is not None:
                recs.append(r._replace(value=bad))
        out[kind] = (topic, _fake(recs))
    first = freight[0]
    few = max(3, per_kind // 500)
    huge = first._replace(value=b'{"pad":"' + b"x" * 10_000_000 + b'"}')
    deep = first._replace(value=b"[" * 100_000 + b"]" * 100_000)
    sector = [r for r in valid if r.topic == spec.TOPIC_SECTOR]
    out["ten_mb"] = (spec.TOPIC_FREIGHT, _fake([huge] * few))
    out["deep_nesting"] = (spec.TOPIC_FREIGHT, _fake([deep] * few))
    wrong_keys = [r._replace(key=r.key + b"x") for r in freight[:per_kind]]
    out["key_mismatch"] = (spec.TOPIC_FREIGHT, _fake(wrong_keys))
    out["wrong_topic"] = (spec.TOPIC_FREIGHT, _fake(sector[:per_kind]))
    out["no_value"] = (
        spec.TOPIC_FREIGHT,
        _fake([r._replace(value=None) for r in freight[:per_kind]]),
    )
    return out


def _fake(records: list) -> list[FakeRecord]:
    return [FakeRecord(i, r.ingest_ts, r.key, r.value) for i, r in enumerate(records)]


# ------------------------------------------------------------------ measurement


def best_of(repeat: int, run: Any) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        times.append(run())
    return min(times)


def time_validate(records: list[FakeRecord]) -> float:
    values = [r.value for r in records if r.value is not None]
    t = time.perf_counter()
    for v in values:
        validate(v)
    return time.perf_counter() - t


def time_path(parts: dict[tuple[str, int], list[FakeRecord]], chunk: int) -> tuple[float, Any]:
    """Seconds for feeding ``parts`` through feed_batch + _feed, chunk by chunk, the
    partitions taking turns as in a getmany; and the fake service (for checks)."""
    producer = FakeProducer()
    svc = fake_service(producer)
    sealers = {
        tp: PartitionSealer(
            tp[0], tp[1], freight=tp[0] == spec.TOPIC_FREIGHT, sid="b", config=SealerConfig()
        )
        for tp in parts
    }
    tps = {tp: TopicPartition(*tp) for tp in parts}
    longest = max((len(v) for v in parts.values()), default=0)

    async def go() -> float:
        t = time.perf_counter()
        now = 0.0
        for start in range(0, longest, chunk):
            now += 100.0
            for tp, recs in parts.items():
                piece = recs[start : start + chunk]
                if piece:
                    await svc.feed(tps[tp], sealers[tp], piece, now)
        await svc.sink.flush()  # the live sealer flushes before every commit (1 s)
        return time.perf_counter() - t

    return asyncio.run(go()), svc


def per_kind(sets: dict[str, tuple[str, list[FakeRecord]]], repeat: int, chunk: int) -> list[dict]:
    rows = []
    for kind, (topic, recs) in sets.items():
        n = len(recs)
        v = best_of(repeat, lambda recs=recs: time_validate(recs))
        path = best_of(
            repeat, lambda recs=recs, topic=topic: time_path({(topic, 0): recs}, chunk)[0]
        )
        results = [validate(r.value) for r in recs[:200] if r.value is not None]
        reasons = Counter(x.reason if isinstance(x, Invalid) else "valid" for x in results)
        _, svc = time_path({(topic, 0): recs}, chunk)
        registry = svc.metrics.registry
        invalid = sum(
            s.value
            for f in registry.collect()
            if f.name == "pulseboard_aggregator_records_invalid"
            for s in f.samples
            if s.name.endswith("_total")
        )
        if invalid != svc.sink.batcher.producer.records or (kind != "valid" and invalid != n):
            raise SystemExit(
                f"{kind}: {invalid} counted invalid, {svc.sink.batcher.producer.records} DLQ'd"
            )
        row = {
            "kind": kind,
            "records": n,
            "validate_us": round(v / n * 1e6, 2),
            "path_us": round(path / n * 1e6, 2),
            "dlq_records": int(invalid),
            "reasons": dict(reasons.most_common(3)),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def streams(clean: list, dirty: list, repeat: int, chunk: int) -> dict:
    """Best of ``repeat`` for each stream, their runs alternating (so a busy spell on a shared
    machine hits both alike)."""
    out = {}
    runs = []
    only = [r for r in dirty if r.kind == "invalid"]
    # Alone, in chunks holding as many invalid records as the mixed stream's chunks do (so
    # DLQ batches are as small as there).
    few = max(1, round(chunk * len(only) / len(dirty)))
    for name, records, size in (
        ("valid_only", clean, chunk),
        ("with_invalid", dirty, chunk),
        ("invalid_only", only, few),
    ):
        parts = {k: v for k, v in split_records(records).items() if v}
        n = sum(len(v) for v in parts.values())
        bad = sum(1 for r in records if r.kind == "invalid")
        out[name] = {"records": n, "invalid": bad, "chunk": size}
        runs.append((name, parts, n, size))
    for _ in range(repeat):
        for name, parts, n, size in runs:
            gc.collect()
            us = time_path(parts, size)[0] / n * 1e6
            best = out[name].get("us_per_record")
            out[name]["us_per_record"] = round(us if best is None else min(best, us), 3)
    a, b = out["valid_only"], out["with_invalid"]
    out["slower_by"] = f"{(b['us_per_record'] / a['us_per_record'] - 1) * 100:.1f}%"
    # What an invalid record costs beyond the valid record it replaced: from the difference
    # of the first two (noisy: 5% of the records), and measured alone (the third).
    extra = (b["us_per_record"] - a["us_per_record"]) * b["records"] / max(1, b["invalid"])
    out["extra_us_per_invalid_record"] = round(extra, 1)
    out["invalid_alone_minus_valid_us"] = round(
        out["invalid_only"]["us_per_record"] - a["us_per_record"], 1
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="simulated stream length")
    parser.add_argument("--invalid-fraction", type=float, default=0.05)
    parser.add_argument("--per-kind", type=int, default=2000, help="records per kind")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--chunk", type=int, default=1000, help="records per partition per batch")
    parser.add_argument("--skip-kinds", action="store_true", help="only the simulated stream")
    parser.add_argument("--profile", action="store_true", help="cProfile the invalid stream")
    parser.add_argument(
        "--no-compression", action="store_true", help="DLQ batches uncompressed (attribution)"
    )
    opts = parser.parse_args()
    if opts.no_compression:
        CODEC["codec"] = DefaultRecordBatch.CODEC_NONE
    report: dict = {"machine": machine(os.getloadavg()), "options": vars(opts)}
    clean = simulated(opts.records, 0.0)
    dirty = simulated(opts.records, opts.invalid_fraction)
    report["stream"] = streams(clean, dirty, opts.repeat, opts.chunk)
    print(json.dumps(report["stream"]), flush=True)
    if not opts.skip_kinds:
        report["kinds"] = per_kind(kinds(clean[:50_000], opts.per_kind), opts.repeat, opts.chunk)
    if opts.profile:
        parts = {k: v for k, v in split_records(dirty).items() if v}
        prof = cProfile.Profile()
        prof.enable()
        time_path(parts, opts.chunk)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    report["load_avg_at_end"] = os.getloadavg()
    print(json.dumps({k: v for k, v in report.items() if k != "kinds"}, indent=2))


if __name__ == "__main__":
    main()
