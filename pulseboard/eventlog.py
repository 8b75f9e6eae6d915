"""Event log files (SPEC section 5): UTF-8 JSON Lines, optionally gzip-compressed.

A line is the event's JSON object with one extra field, ``ingest_ts``. Writers add the
field by splicing bytes, so a valid event is encoded once and never re-serialised, and an
invalid record is written as it came (its raw bytes, newlines escaped) so nothing is lost.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

# How far a log line may be behind the greatest ingest_ts before it: a log merged from
# several partitions is only roughly in ingest order. The offline replay assumes it, and
# the replayer promises no more progress than it (so both make the same seconds final).
DEFAULT_REORDER_MS: Final = 60_000


def _is_gzip(path: str | os.PathLike[str]) -> bool:
    return str(path).endswith(".gz")


def line_with_ingest_ts(value: bytes, ingest_ts: int) -> bytes:
    """The log line for a Kafka record value: the object plus ``ingest_ts``, no newline.

    Values that are not a JSON object (invalid records) are kept verbatim, with line
    breaks replaced so that one record stays one line.
    """
    body = value.strip()
    if body.startswith(b"{") and body.endswith(b"}"):
        inner = body[1:-1].strip()
        sep = b"," if inner else b""
        return b"{" + inner + sep + b'"ingest_ts":' + str(ingest_ts).encode() + b"}"
    return value.replace(b"\r", b"\\r").replace(b"\n", b"\\n")


class LogWriter:
    """Writes a log to ``path`` (``-`` for stdout) via a temporary file renamed on close,
    so a crash or a full disk never leaves a partial file that looks complete."""

    def __init__(self, path: str | os.PathLike[str], *, gzip_level: int = 6) -> None:
        self.path = str(path)
        self.lines = 0
        if self.path == "-":
            self._tmp: Path | None = None
            raw: BinaryIO = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
        else:
            target = Path(self.path)
            self._tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
            raw = open(self._tmp, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self._raw = raw
        # GzipFile never closes a file object it was given, so close() can fsync raw after it.
        self._out: BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=gzip_level, mtime=0)  # type: ignore[assignment]
            if _is_gzip(self.path)
            else raw
        )

    def write_line(self, line: bytes) -> None:
        self._out.write(line + b"\n")
        self.lines += 1

    def write_record(self, value: bytes, ingest_ts: int) -> None:
        self.write_line(line_with_ingest_ts(value, ingest_ts))

    def close(self) -> None:
        """Flush, fsync and publish the file under its final name."""
        if self._out is not self._raw:
            self._out.close()
        self._raw.flush()
        if self._tmp is not None:
            os.fsync(self._raw.fileno())
        self._raw.close()
        if self._tmp is not None:
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop what was written: the final file is never created."""
        # Closing writes buffered bytes, which fails again on a full disk: close both anyway.
        for stream in (self._out, self._raw):
            with contextlib.suppress(OSError):
                stream.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_lines(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """Yield the raw lines of a log (plain or .gz; ``-`` reads stdin), without newlines.

    Every line is yielded as bytes for the caller to decode, blank ones included (an empty
    record is a blank line), so a line that is not UTF-8 or not JSON is still seen and can be
    reported."""
    if str(path) == "-":
        stream: BinaryIO = os.fdopen(os.dup(0), "rb")
    elif _is_gzip(path):
        stream = gzip.open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    else:
        stream = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by the with below
    with stream:
        for line in stream:
            yield line.rstrip(b"\r\n")
