"""Batches compressed in lz4's fast mode: readable by aiokafka's reader and by the broker.

The expectations are the records appended and the record batch v2 and lz4 frame layouts as
Kafka's protocol guide and the lz4 frame format describe them, written out here."""

from __future__ import annotations

import asyncio
import struct

import lz4.frame
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from pulseboard.fast_lz4 import FastLz4Batch, compress_batch
from pulseboard.kafka_client import kafka_producer

RECORDS = [
    (b"GZ-T00001", b'{"v":1,"type":"position","speed_kmh":42.5}' * 3, 1_795_140_000_000),
    (None, b"not json at all", 1_795_140_000_001),
    (b"DC07", b"", 1_795_140_000_002),
    (b"CN-YN|agri", b'{"v":1,"type":"output"}' * 50, 1_795_140_000_003),
]


def filled(batch: BatchBuilder) -> BatchBuilder:
    for key, value, ts in RECORDS:
        assert batch.append(timestamp=ts, key=key, value=value, headers=[("h", b"1")])
    batch._set_producer_state(producer_id=77, producer_epoch=3, base_sequence=11)
    return batch


def test_fast_batch_reads_back_as_the_records_appended() -> None:
    buf = filled(FastLz4Batch(512 * 1024))._build()
    batch = DefaultRecordBatch(buf)
    assert batch.validate_crc()
    assert batch.compression_type == 3  # lz4
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (77, 3, 11)
    got = [(r.key, r.value, r.timestamp, list(r.headers)) for r in batch]
    assert got == [(k, v, ts, [("h", b"1")]) for k, v, ts in RECORDS]


def test_header_and_frame_follow_the_formats() -> None:
    plain = filled(BatchBuilder(512 * 1024, 0))._build()
    fast = filled(FastLz4Batch(512 * 1024))._build()
    # batch length: the bytes after the 12-byte offset + length prefix
    assert struct.unpack_from(">i", fast, 8)[0] == len(fast) - 12
    # attributes: the codec bits say lz4 (3), nothing else changed
    assert struct.unpack_from(">h", fast, 21)[0] == struct.unpack_from(">h", plain, 21)[0] | 3
    # every header field outside length, CRC and attributes is the uncompressed batch's
    assert fast[:8] == plain[:8] and fast[12:17] == plain[12:17] and fast[23:61] == plain[23:61]
    # lz4 frame: magic 0x184D2204 (little endian), FLG 0x60 = version 01 + independent
    # blocks, no block/content checksum, no content size; BD 0x40 = 64 KB blocks
    assert fast[61:65] == bytes([0x04, 0x22, 0x4D, 0x18])
    assert fast[65] == 0x60 and fast[66] == 0x40
    assert lz4.frame.decompress(bytes(fast[61:])) == bytes(plain[61:])
    assert len(fast) < len(plain)


def test_a_compressed_batch_is_refused() -> None:
    lz4_batch = filled(BatchBuilder(512 * 1024, 3))._build()
    with pytest.raises(ValueError, match="already compressed"):
        compress_batch(lz4_batch)


def test_the_broker_accepts_and_serves_fast_batches(isolated) -> None:
    config, _ = isolated
    topic = config.kafka.topic("freight.events")
    values = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 300)) for i in range(5_000)]

    async def run() -> list[bytes]:
        producer = kafka_producer(config, "fast-lz4-test", acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for start in range(0, len(values), 1_000):
                batch = FastLz4Batch(512 * 1024)
                for v in values[start : start + 1_000]:
                    assert batch.append(timestamp=None, key=None, value=v, headers=[])
                await (await producer.send_batch(batch, topic, partition=start // 1_000 % 6))
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in range(6)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            got: list[bytes] = []
            while len(got) < len(values):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got.extend(r.value for r in records)
            return got
        finally:
            await consumer.stop()

    assert sorted(asyncio.run(run())) == sorted(values)
