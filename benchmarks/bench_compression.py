"""Batch compression: lz4 fast mode against aiokafka's lz4 (level 9), zstd and snappy.

    .venv/bin/python benchmarks/bench_compression.py [--records 200000] [--repeat 5]

In one process, no network: records from the project's simulation appended into record
batches the way the producer fills them (one batch per partition, up to --batch-kib), then
built; best of --repeat for each codec:

* µs per record for append + build (what the producer pays per record),
* compression speed of the records section (MB/s of input) and the compressed size,
* decompression speed (what every consumer pays).

Results go to stdout and bench-results/compression.json."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka.producer.message_accumulator import BatchBuilder  # noqa: E402
from aiokafka.record.default_records import DefaultRecordBatch  # noqa: E402

from benchmarks.common import machine, save_report, simulated_values  # noqa: E402
from pulseboard.fast_lz4 import RECORDS_AT, FastLz4Batch  # noqa: E402

CODEC_ID = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def builders(batch_bytes: int) -> dict[str, Callable[[], BatchBuilder]]:
    return {
        "none": lambda: BatchBuilder(batch_bytes, CODEC_ID["none"]),
        "lz4 fast (lz4 frame, level 0)": lambda: FastLz4Batch(batch_bytes),
        "lz4 level 9 (aiokafka's)": lambda: BatchBuilder(batch_bytes, CODEC_ID["lz4"]),
        "zstd level 3 (aiokafka's)": lambda: BatchBuilder(batch_bytes, CODEC_ID["zstd"]),
        "snappy (aiokafka's)": lambda: BatchBuilder(batch_bytes, CODEC_ID["snappy"]),
    }


def fill(make: Callable[[], BatchBuilder], keys: list[bytes], values: list[bytes]) -> list:
    """Append every record, a new batch whenever one is full; return the built buffers."""
    out = []
    batch = make()
    ts = 1_795_140_000_000
    for key, value in zip(keys, values, strict=True):
        if batch.append(timestamp=ts, key=key, value=value, headers=[]) is None:
            out.append(batch._build())
            batch = make()
            batch.append(timestamp=ts, key=key, value=value, headers=[])
    out.append(batch._build())
    return out


def decompress(buffers: list) -> int:
    n = 0
    for buf in buffers:
        n += len(list(DefaultRecordBatch(buf)))
    return n


def measure(
    name: str,
    make: Callable[[], BatchBuilder],
    keys: list[bytes],
    values: list[bytes],
    raw_records: int,
    repeat: int,
) -> dict:
    best_build = best_read = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        buffers = fill(make, keys, values)
        best_build = min(best_build, time.perf_counter() - started)
        started = time.perf_counter()
        read = decompress(buffers)
        best_read = min(best_read, time.perf_counter() - started)
    if read != len(values):
        raise SystemExit(f"{name}: read back {read} of {len(values)} records")
    size = sum(len(b) - RECORDS_AT for b in buffers)
    n = len(values)
    return {
        "batches": len(buffers),
        "us_per_record_append_build": round(best_build / n * 1e6, 3),
        "us_per_record_read": round(best_read / n * 1e6, 3),
        "records_bytes": size,
        "size_vs_uncompressed": round(size / raw_records, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch-kib", type=int, default=512)
    opts = parser.parse_args()
    values = simulated_values(opts.records)
    keys = [b"GZ-T%05d" % (i % 20_000) for i in range(len(values))]
    report: dict = {
        "machine": machine(os.getloadavg()),
        "conditions": f"{opts.records} simulated records (mean value "
        f"{sum(map(len, values)) / len(values):.0f} bytes), batches up to {opts.batch_kib} KiB, "
        f"best of {opts.repeat}, one process",
        "codecs": {},
    }
    makers = builders(opts.batch_kib * 1024)
    raw = sum(len(b) - RECORDS_AT for b in fill(makers["none"], keys, values))
    base = None
    for name, make in makers.items():
        figures = measure(name, make, keys, values, raw, opts.repeat)
        if base is None:
            base = figures["us_per_record_append_build"]
        # Compression alone: the build's cost above the uncompressed builder's.
        extra = figures["us_per_record_append_build"] - base
        per_record_raw = raw / len(values)
        figures["compress_mb_per_s"] = round(per_record_raw / extra, 1) if extra > 0 else None
        report["codecs"][name] = figures
        print(name, figures, flush=True)
    save_report("compression", report)


if __name__ == "__main__":
    main()
