"""Final records kept in a temporary file until a whole session or day is computed: nothing
reaches the history topic unless the computation succeeded."""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import msgspec

from pulseboard.history.codec import HistoryRecord
from pulseboard.indicators import Record


class Spool:
    def __init__(self) -> None:
        self._fh: BinaryIO = tempfile.TemporaryFile(prefix="pulseboard-history-")  # noqa: SIM115 - see close
        self._enc = msgspec.msgpack.Encoder()
        self.count = 0

    def write(self, records: list[Record]) -> None:
        self.write_tuples([(r.t, r.name, r.key, r.value) for r in records])

    def write_tuples(self, records: list[HistoryRecord]) -> None:
        if not records:
            return
        body = self._enc.encode(records)
        self._fh.write(struct.pack(">I", len(body)) + body)
        self.count += len(records)

    def chunks(self) -> Iterator[list[HistoryRecord]]:
        self._fh.seek(0)
        dec = msgspec.msgpack.Decoder(list[tuple[int, str, str, int | float | None]])
        while head := self._fh.read(4):
            yield dec.decode(self._fh.read(struct.unpack(">I", head)[0]))

    def close(self) -> None:
        self._fh.close()
