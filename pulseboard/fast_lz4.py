"""Record batches compressed with lz4's fast mode.

aiokafka compresses lz4 at level 9, lz4's high-compression mode (about 25 MB/s on the
development machine), and has no setting for the level; Kafka's own Java clients use the
fast mode. At level 9 compressing cost the producer about 3 µs of its 10 µs per record
(docs/benchmarks.md), so the project's batches are built uncompressed by aiokafka's builder
and their records section is compressed here in fast mode as the batch is sent; the broker and every
consumer read it like any other lz4 batch (the codec is in the batch's attributes).
``FastLz4Producer`` is aiokafka's producer whose ``create_batch()`` makes such batches; its
own ``send()`` (used only for a record too large for a batch) keeps aiokafka's compression.

The frame is what Kafka's lz4 codec writes and reads: independent blocks, no content
checksum and no stored content size (Kafka's reader decompresses block by block)."""

from __future__ import annotations

import struct
from typing import Any

import lz4.frame
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.util import calc_crc32c

# Record batch v2 layout (Kafka's DefaultRecordBatch): base offset (8), batch length (4),
# partition leader epoch (4), magic (1), CRC (4), attributes (2), ..., records from byte 61.
# The length counts the bytes after its own field; the CRC-32C covers attributes to the end.
LENGTH_AT = 8
CRC_AT = 17
ATTRIBUTES_AT = 21
RECORDS_AT = 61
CODEC_MASK = 0x07
CODEC_LZ4 = 0x03


def compress_batch(batch: bytes | bytearray) -> bytearray:
    """An uncompressed v2 record batch rewritten with its records lz4-compressed in fast
    mode: same records, codec set in the attributes, length and CRC recomputed."""
    (attributes,) = struct.unpack_from(">h", batch, ATTRIBUTES_AT)
    if attributes & CODEC_MASK:
        raise ValueError(f"batch is already compressed (codec {attributes & CODEC_MASK})")
    records = lz4.frame.compress(
        memoryview(batch)[RECORDS_AT:],
        compression_level=lz4.frame.COMPRESSIONLEVEL_MIN,
        block_size=lz4.frame.BLOCKSIZE_MAX64KB,
        block_linked=False,
        content_checksum=False,
        store_size=False,
    )
    out = bytearray(batch[:RECORDS_AT])
    out += records
    struct.pack_into(">i", out, LENGTH_AT, len(out) - LENGTH_AT - 4)
    struct.pack_into(">h", out, ATTRIBUTES_AT, attributes | CODEC_LZ4)
    struct.pack_into(">I", out, CRC_AT, calc_crc32c(memoryview(out)[ATTRIBUTES_AT:]))
    return out


class FastLz4Batch(BatchBuilder):
    """aiokafka's batch builder, its records compressed by ``compress_batch`` when the
    producer builds the batch (after it has set the idempotent producer's id and sequence
    in the header). Hand it to ``send_batch`` like the producer's own ``create_batch()``."""

    def __init__(self, batch_size: int) -> None:
        super().__init__(batch_size, 0)  # codec 0: appended uncompressed, compressed at build

    def _build(self) -> bytearray:
        if self._buffer is None:
            self._buffer = compress_batch(super()._build())
        return self._buffer


class FastLz4Producer(AIOKafkaProducer):
    """aiokafka's producer; the batches ``create_batch()`` makes are ``FastLz4Batch``es of
    the producer's ``max_batch_size``."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._fast_batch_bytes = int(settings.get("max_batch_size", 16384))

    def create_batch(self) -> FastLz4Batch:
        return FastLz4Batch(self._fast_batch_bytes)
