"""Stage 1: a partition's sealer (validation, classification, sealing, the idle rule,
restart from a commit, provisional deltas, message cutting)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import orjson
from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.record.memory_records import MemoryRecords
from inprocess import FakeRecord
from prometheus_client import CollectorRegistry

from consumers.aggregate.codec import PROVISIONAL, SEALED, decode_message
from consumers.aggregate.feed import PartitionFeed
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.aggregate.sealer import (
    IDLE,
    KEY_MISMATCH,
    WRONG_TOPIC,
    PartitionSealer,
    SealerConfig,
    parse_commit_metadata,
)
from consumers.aggregate.sink import OutRecord, Sink
from consumers.buckets import Bucket

L, F = 30_000, 5_000
T0 = 1_764_000_000_000  # a whole second


def ship(i: int, ts: int, truck: str = "T1", origin: str = "520100") -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "id": f"e{i}",
            "type": "shipment",
            "ts": ts,
            "truck_id": truck,
            "shipment_id": f"s{i}",
            "shipper_id": "x",
            "origin": origin,
            "dest": "CN-GD",
            "cargo": "tea",
            "weight_kg": 1000,
            "value_cny": 10.5,
            "export_country": None,
        }
    )


def pos(i: int, ts: int, truck: str) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "id": f"p{i}",
            "type": "position",
            "ts": ts,
            "truck_id": truck,
            "region": "520300",
            "lat": 27.0,
            "lon": 106.0,
            "speed_kmh": 50.0,
            "loaded": True,
        }
    )


class Log:
    """A partition: records with offsets."""

    def __init__(self) -> None:
        self.records: list[FakeRecord] = []

    def add(self, ingest: int, value: bytes | None, key: bytes | None = b"T1") -> FakeRecord:
        rec = FakeRecord(len(self.records), ingest, key, value)
        self.records.append(rec)
        return rec


def sealer(**kw) -> PartitionSealer:
    config = kw.pop("config", SealerConfig(idle_ms=2000, progress=IDLE))
    return PartitionSealer("freight.events", 0, freight=True, sid="a", config=config, **kw)


def test_classification_and_invalid_reasons() -> None:
    log = Log()
    log.add(T0 + 100, ship(1, T0))  # counted
    log.add(T0 + 200, ship(2, T0 + 200 - L - 1))  # late (lateness L + 1)
    log.add(T0 + 300, ship(3, T0 + 300 - L))  # counted (exactly L)
    log.add(T0 + 400, ship(4, T0 + 400 + F + 1))  # future
    log.add(T0 + 500, ship(5, T0 + 500 + F))  # counted (exactly -F)
    log.add(T0 + 600, b"{not json")
    log.add(T0 + 700, ship(6, T0), key=b"T2")  # key is not the truck id
    log.add(T0 + 800, ship(7, T0), key=None)
    log.add(T0 + 900, None)
    out = orjson.dumps(
        {
            "v": 1,
            "id": "o",
            "type": "output",
            "ts": T0,
            "sector": "software",
            "region": "520100",
            "value_cny": 1.0,
        }
    )
    log.add(T0 + 950, out, key=b"520100|software")  # an output on the freight topic
    sl = sealer()
    res = sl.feed_batch(log.records, now_ms=0)
    assert (res.consumed, res.counted, res.late, res.future) == (10, 3, 1, 1)
    reasons = [reason for _, reason, _ in res.invalid]
    assert reasons == ["not_json", KEY_MISMATCH, KEY_MISMATCH, "not_json", WRONG_TOPIC]
    assert [rec.offset for rec, _, _ in res.invalid] == [5, 6, 7, 8, 9]
    assert sl.last_ts == T0 + 950 and sl.wm == T0 + 950
    assert sl.hi == T0 + 500 + F


def test_a_second_seals_when_the_watermark_passes_it_by_l() -> None:
    s0 = T0 // 1000
    sl = sealer()
    log = Log()
    log.add(T0 + 10, ship(1, T0 + 5))
    log.add(T0 + 1500, ship(2, T0 + 1400))
    sl.feed_batch(log.records, 0)
    sl.advance(0, caught_up=False)
    assert sl.through == (T0 + 1500 - L) // 1000 < s0
    assert sl.sealed == []
    # Ingest time reaches (s0 + 1) * 1000 + L - 1: second s0 is still open.
    sl.feed_batch([log.add(T0 + 1000 + L - 1, ship(3, T0 + 1000 + L - 2))], 0)
    sl.advance(0, caught_up=False)
    assert sl.through == s0
    sl.feed_batch([log.add(T0 + 1000 + L, ship(4, T0 + 1000 + L - 2))], 0)
    sl.advance(0, caught_up=False)
    assert sl.through == s0 + 1
    assert [s for s, _, _ in sl.sealed] == [s0]
    [raw] = sl.sealed_messages()
    m = decode_message(raw)
    assert (m.kind, m.src, m.through, m.hi) == (
        SEALED,
        "freight.events:0",
        s0 + 1,
        T0 + 1000 + L - 2,
    )
    assert [(s, ing) for s, ing, _ in m.entries] == [(s0, T0 + 10)]
    assert m.entries[0][2].ship["520100"][0] == 1
    assert sl.sealed_messages() == []  # nothing new
    # An event for a sealed second, read for the first time: refused and counted.
    res = sl.feed_batch([log.add(T0 + 1000 + L + 1, ship(5, T0 + 999))], 0)
    assert res.after_seal == 0 and res.late == 1  # it is late anyway, by the rule
    # Out of ingest order (a record older than the watermark): counted by the rule, but its
    # second is sealed already, so it is refused and reported.
    res = sl.feed_batch([log.add(T0 + 1010, ship(6, T0 + 999))], 0)
    assert res.after_seal == 1 and res.counted == 0
    assert sl.open_seconds == 2


def test_idle_rule_advances_by_elapsed_wall_time_only_when_caught_up() -> None:
    sl = sealer(now_ms=0)
    log = Log()
    sl.feed_batch([log.add(T0, ship(1, T0))], now_ms=1000)
    sl.advance(1000 + 5000, caught_up=False)  # not caught up: no idle advance
    assert sl.wm == T0
    sl.advance(1000 + 1999, caught_up=True)  # idle for less than idle_ms
    assert sl.wm == T0
    sl.advance(1000 + 2000, caught_up=True)
    assert sl.wm == T0 + 2000
    sl.advance(1000 + 40_000, caught_up=True)
    assert sl.wm == T0 + 40_000
    assert sl.through == (T0 + 40_000 - L) // 1000
    assert [s for s, _, _ in sl.sealed] == [T0 // 1000]
    # A record resets the idle clock; the watermark never goes back.
    sl.feed_batch([log.add(T0 + 100, ship(2, T0 + 50))], now_ms=41_000)
    sl.advance(41_500, caught_up=True)
    assert sl.wm == T0 + 40_000


def test_idle_rule_claims_quiet_only_up_to_the_brokers_last_answer() -> None:
    # The broker stopped answering 500 ms after the last record (an outage): however long
    # we wait, the partition was only seen quiet for 500 ms, less than idle_ms.
    sl = sealer(now_ms=0)
    sl.feed_batch([Log().add(T0, ship(1, T0))], now_ms=1000)
    sl.advance(1000 + 2900, caught_up=True, answered_ms=1500)
    assert sl.wm == T0
    # Answers came until 3,000 ms after the record: quiet is claimed up to there, no further.
    sl.advance(1000 + 9000, caught_up=True, answered_ms=1000 + 3000)
    assert sl.wm == T0 + 3000


def test_after_a_blind_spell_the_idle_rule_counts_from_then_and_holds_for_backlogs() -> None:
    sl = sealer(now_ms=0, config=SealerConfig(idle_ms=2000, recovery_hold_ms=10_000, progress=IDLE))
    log = Log()
    sl.feed_batch([log.add(T0, ship(1, T0))], now_ms=1000)
    # Unwatched from 1,500 to 26,000 ms (broker down, or our loop stalled); then a fetch is
    # answered with nothing: producers have not delivered their backlog yet.
    sl.resumed(26_000)
    sl.advance(26_000 + 9_999, caught_up=True, answered_ms=26_000 + 9_999)
    assert sl.wm == T0
    # After the hold the rule claims only the time watched since, not the blind spell.
    sl.advance(36_000, caught_up=True, answered_ms=36_000)
    assert sl.wm == T0 + 10_000
    # A backlog delivered within the hold is counted like any record.
    sl2 = sealer(
        now_ms=0, config=SealerConfig(idle_ms=2000, recovery_hold_ms=10_000, progress=IDLE)
    )
    log2 = Log()
    sl2.feed_batch([log2.add(T0, ship(1, T0))], now_ms=1000)
    sl2.resumed(26_000)
    sl2.advance(30_000, caught_up=True, answered_ms=30_000)
    res = sl2.feed_batch([log2.add(T0 + 5000, ship(2, T0 + 100))], now_ms=31_000)
    assert res.counted == 1 and res.after_seal == 0


def test_idle_speed_scales_the_advance() -> None:
    sl = sealer(config=SealerConfig(idle_ms=100, idle_speed=50.0, progress=IDLE))
    sl.feed_batch([Log().add(T0, ship(1, T0))], now_ms=0)
    sl.advance(1000, caught_up=True)
    assert sl.wm == T0 + 50_000


def test_empty_partition_says_so_once_and_stops_being_empty_on_a_record() -> None:
    sl = sealer(now_ms=0)
    sl.advance(1000, caught_up=True)
    assert not sl.empty and sl.sealed_messages() == []
    sl.advance(2000, caught_up=True)
    assert sl.empty
    [raw] = sl.sealed_messages()
    m = decode_message(raw)
    assert m.empty and m.through is None
    assert sl.sealed_messages() == []
    sl.feed_batch([Log().add(T0 + L + 5000, ship(1, T0 + L + 4000))], now_ms=2500)
    sl.advance(2500, caught_up=True)
    assert not sl.empty and sl.through == (T0 + 5000) // 1000
    [raw] = sl.sealed_messages()
    m = decode_message(raw)
    assert not m.empty and m.start is None and m.through == sl.through and m.entries == []


def test_restart_from_a_commit_rebuilds_open_seconds_and_ignores_sealed_ones() -> None:
    log = Log()
    for i in range(200):  # one event every 500 ms of ingest time, lateness 300 ms
        log.add(
            T0 + 500 * i, ship(i, T0 + 500 * i - 300, truck=f"T{i % 7}"), key=f"T{i % 7}".encode()
        )
    first = sealer(now_ms=0)
    first.feed_batch(log.records[:150], 0)
    first.advance(0, caught_up=False)
    first.sealed_messages()
    committed_offset, meta = 150, first.commit_metadata()
    through = parse_commit_metadata(meta)
    assert through == first.through
    # A new owner: seek to the first record with ingest time >= through * 1000 - F.
    second = sealer(through=through, replay_until=committed_offset, now_ms=0)
    assert second.resume_ms == through * 1000 - F
    start = next(r.offset for r in log.records if r.timestamp >= second.resume_ms)
    res = second.feed_batch(log.records[start:], 0)
    assert res.replayed == 150 - start and res.consumed == 50
    assert res.after_seal == 0 and res.counted == 50
    # Its open buckets are exactly those of a sealer that never stopped.
    never = sealer()
    never.feed_batch(log.records, 0)
    for s, b in second.buckets.items():
        assert b.canonical() == never.buckets[s].canonical()
    assert set(second.buckets) == {s for s in never.buckets if s >= through}


def test_provisional_deltas_add_up_to_the_buckets() -> None:
    sl = sealer()
    log = Log()
    merged: dict[int, Bucket] = {}
    for i in range(60):
        sl.feed_batch(
            [log.add(T0 + 100 * i, pos(i, T0 + 100 * i - 50, f"T{i % 5}"), f"T{i % 5}".encode())], 0
        )
        if i % 7 == 0:
            for raw in sl.provisional_messages():
                m = decode_message(raw)
                assert m.kind == PROVISIONAL
                for s, _, d in m.entries:
                    merged.setdefault(s, Bucket()).merge_from(d)
    for raw in sl.provisional_messages():
        for s, _, d in decode_message(raw).entries:
            merged.setdefault(s, Bucket()).merge_from(d)
    assert sl.provisional_messages() == []
    assert {s: b.canonical() for s, b in merged.items()} == {
        s: b.canonical() for s, b in sl.buckets.items()
    }


def test_long_runs_of_sealed_seconds_are_cut_into_contiguous_messages() -> None:
    sl = sealer(config=SealerConfig(max_message_bytes=2048, progress=IDLE))
    log = Log()
    n = 400
    sl.feed_batch([log.add(T0 + 1000 * i, ship(i, T0 + 1000 * i, truck="T1")) for i in range(n)], 0)
    sl.advance(0, caught_up=False)
    msgs = [decode_message(raw) for raw in sl.sealed_messages()]
    assert len(msgs) > 5
    assert msgs[0].start is None
    for a, b in itertools.pairwise(msgs):
        assert b.start == a.through
        assert all(s < a.through for s, _, _ in a.entries)
    assert msgs[-1].through == sl.through
    seconds = [s for m in msgs for s, _, _ in m.entries]
    assert seconds == sorted(seconds) and len(seconds) == sl.through - T0 // 1000


def test_commit_metadata_parsing_is_forgiving() -> None:
    assert parse_commit_metadata(None) is None
    assert parse_commit_metadata("") is None
    assert parse_commit_metadata("garbage") is None
    assert parse_commit_metadata('{"through": null}') is None
    assert parse_commit_metadata('{"through": 17}') == 17


# ------------------------------------------------------- invalid records to the DLQ


class FakeProducer:
    """What ``Sink`` uses of a producer: real aiokafka batches (lz4, as the aggregator's
    producer makes them), no network; acknowledgements are released by the test."""

    def __init__(self, partitions: int = 1) -> None:
        self.partitions = set(range(partitions))
        self.sent: list[tuple[str, int, list]] = []  # (topic, partition, decoded records)
        self.futures: list[asyncio.Future] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(512 * 1024, DefaultRecordBatch.CODEC_LZ4)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int):
        data = bytes(batch._build())
        records = list(MemoryRecords(data).next_batch())
        self.sent.append((topic, partition, records))
        fut = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        return fut

    def ack_all(self) -> None:
        for fut in self.futures:
            if not fut.done():
                fut.set_result(None)


async def acked_flush(sink: Sink, producer: FakeProducer) -> None:
    """``sink.flush()``, acknowledging whatever it sends."""
    flushing = asyncio.ensure_future(sink.flush())
    while not flushing.done():
        producer.ack_all()
        await asyncio.sleep(0)
    await flushing


def fake_feed(producer: FakeProducer) -> PartitionFeed:
    """The sealer's feed edge, its sink on a producer without network."""
    return PartitionFeed(
        AggregatorMetrics.create(CollectorRegistry()), Sink(producer), "events.dlq"
    )


def dlq_log() -> tuple[Log, list[tuple[FakeRecord, str, str]]]:
    """A partition with bad records of several kinds (some repeated) among valid ones, and
    what each bad one must become: (record, reason, detail)."""
    log = Log()
    want = []

    def bad(value: bytes | None, key: bytes | None, reason: str, detail: str):
        rec = log.add(T0 + 10 * len(log.records), value, key=key)
        want.append((rec, reason, detail))

    truncated = "Input data was truncated"

    for i in range(3):
        log.add(T0 + 10 * len(log.records), ship(i, T0))
        bad(
            b"{not json",
            b"T1",
            "not_json",
            "JSON is malformed: object keys must be strings (byte 1)",
        )
        bad(ship(i, T0)[:30], b"T1", "not_json", truncated)
        gold = ship(i, T0).replace(b'"cargo":"tea"', b'"cargo":"gold"')
        bad(gold, b"T1", "bad_enum", "Invalid enum value 'gold' - at `$.cargo`")
        v2 = ship(i, T0).replace(b'"v":1', b'"v":2')
        bad(v2, b"T1", "bad_version", "Invalid enum value 2 - at `$.v`")
        bad(b"\xff\xfe", None, "not_utf8", "invalid UTF-8 at byte 0")
        bad(b"[" * 100 + b"]" * 100, b"T1", "too_deep", "nested deeper than 64 levels")
        bad(ship(i, T0, truck="T1"), b"T9", KEY_MISMATCH, "record key is not 'T1'")
        bad(None, b"T1", "not_json", "record has no value")
        bad(None, None, "not_json", "record has no value")
        cut = ship(i, T0).replace(b'"id":"e%d"' % i, b'"id":"\xe8\xb4%d"' % i)
        bad(cut, b"T1", "not_utf8", "invalid UTF-8 at byte 13")  # after '{"v":1,"id":"'
    return log, want


def headers_of(rec: FakeRecord, reason: str, detail: str, topic: str, partition: int) -> list:
    return [
        ("pulseboard-reason", reason.encode()),
        ("pulseboard-detail", detail.encode("utf-8", "replace")),
        ("pulseboard-source-topic", topic.encode()),
        ("pulseboard-source-partition", str(partition).encode()),
        ("pulseboard-source-offset", str(rec.offset).encode()),
    ]


def test_invalid_records_reach_the_dlq_intact_with_five_headers_and_exact_metrics() -> None:
    log, want = dlq_log()
    producer = FakeProducer()
    svc = fake_feed(producer)
    sl = PartitionSealer("freight.events", 4, freight=True, sid="a")
    tp = TopicPartition("freight.events", 4)

    async def run() -> None:
        records = log.records
        await svc.feed(tp, sl, records[:11], 0.0)
        await svc.feed(tp, sl, records[11:], 0.0)
        await acked_flush(svc.sink, producer)

    asyncio.run(run())
    got = [r for topic, p, recs in producer.sent for r in recs if (topic, p) == ("events.dlq", 0)]
    assert len(got) == len(want) == sum(len(recs) for _, _, recs in producer.sent)
    for out, (rec, reason, detail) in zip(got, want, strict=True):
        value = b"" if rec.value is None and rec.key is None else rec.value
        assert (out.value, out.key, out.timestamp) == (value, rec.key, rec.timestamp)
        assert list(out.headers) == headers_of(rec, reason, detail, "freight.events", 4)
    registry = svc.metrics.registry
    reasons = Counter(reason for _, reason, _ in want)
    for reason, n in reasons.items():
        assert (
            registry.get_sample_value(
                "pulseboard_aggregator_records_invalid_total", {"reason": reason}
            )
            == n
        ), reason
    assert registry.get_sample_value(
        "pulseboard_aggregator_dlq_records_total", {"topic": "freight.events"}
    ) == len(want)
    assert (
        registry.get_sample_value(
            "pulseboard_aggregator_records_counted_total", {"topic": "freight.events"}
        )
        == 3
    )


def test_a_dlq_batch_waits_for_the_last_ones_acknowledgement_and_flush_sends_it() -> None:
    producer = FakeProducer()
    sink = Sink(producer)
    recs = [OutRecord(b"v%d" % i, b"k", 1000 + i, [("h", b"%d" % i)]) for i in range(6)]

    async def run() -> None:
        await sink.send_many("dlq", recs[:2])
        assert [len(r) for _, _, r in producer.sent] == [2]  # nothing in flight: sent at once
        await sink.send_many("dlq", recs[2:4])
        await sink.send_many("dlq", recs[4:5])
        assert [len(r) for _, _, r in producer.sent] == [2]  # the first is not acknowledged
        producer.ack_all()
        await sink.send_many("dlq", recs[5:])
        assert [len(r) for _, _, r in producer.sent] == [2, 4]
        await sink.send_many("dlq", [])
        flushing = asyncio.ensure_future(sink.flush())
        await asyncio.sleep(0)
        assert not flushing.done()  # waits for the acknowledgement
        producer.ack_all()
        await flushing
        await sink.flush()

    asyncio.run(run())
    values = [r.value for _, _, rs in producer.sent for r in rs]
    assert values == [r.value for r in recs]
    assert [list(r.headers) for _, _, rs in producer.sent for r in rs] == [r.headers for r in recs]


def test_flush_sends_what_waited_even_without_more_records() -> None:
    producer = FakeProducer()
    sink = Sink(producer)
    recs = [OutRecord(b"v%d" % i, None, 1000 + i, []) for i in range(3)]

    async def run() -> None:
        await sink.send_many("dlq", recs[:1])
        await sink.send_many("dlq", recs[1:])
        assert len(producer.sent) == 1
        await acked_flush(sink, producer)

    asyncio.run(run())
    assert [[r.value for r in rs] for _, _, rs in producer.sent] == [[b"v0"], [b"v1", b"v2"]]


def test_dlq_partitions_are_kafkas_default_choice() -> None:
    producer = FakeProducer(partitions=3)
    sink = Sink(producer)
    keys = [b"T%d" % i for i in range(40)] + [None] * 7
    recs = [OutRecord(b"v%d" % i, k, 1000 + i, []) for i, k in enumerate(keys * 2)]

    async def run() -> None:
        await sink.send_many("dlq", recs[: len(keys)])
        producer.ack_all()
        await sink.send_many("dlq", recs[len(keys) :])
        await acked_flush(sink, producer)

    asyncio.run(run())
    where = {r.value: p for _, p, rs in producer.sent for r in rs}
    assert len(where) == len(recs)
    for i, rec in enumerate(recs):
        if rec.key is not None:
            assert where[rec.value] == (murmur2(rec.key) & 0x7FFFFFFF) % 3
        else:  # round robin by position, continuing across calls
            assert where[rec.value] == i % 3
