"""Progress markers: what a producer promises about the records it will still write.

A final value as of T needs proof that no partition will still receive a counted event of
a second before T (SPEC section 6). Records alone cannot give it: a partition that has never
had a record says nothing, and a producer that pauses or has finished looks exactly like
one whose records are still on their way. So pulseboard's producers and replayer write, into
*every* partition of the topics they publish, small in-band records that promise:

* ``tick`` at ``ts``: this producer will write no record with a timestamp below ``ts`` to
  this partition any more (written first as a "hello" before any record, then every
  ~200 ms and whenever the promise moves);
* ``leave`` at ``ts``: the same, and this producer stops writing here (a producer stopping,
  or a replay of one part of a log with more parts to follow);
* ``end`` at ``ts``: this producer's input is over, its last record stamped at most ``ts``
  (the end of a replayed log, or of a run of definite length): with no other producer
  active, the aggregator seals every second an event of that input can fall in.

Each marker names its producer, so a partition's watermark is the least promise among the
producers writing to it (the low watermark of MillWheel/Dataflow's injectors), and the
partition count the producer saw for the topic, so a partition added at run time is known
to the aggregator before any second it could hold is made final.

On the wire a marker is a record with an empty value, no key, the promised time as its
timestamp and one header ``pulseboard-progress`` holding ``{"p": producer, "k": kind,
"n": partitions}``. It is not an event: the aggregator never counts it nor sends it to the
DLQ, and ``pulseboard record`` leaves it out of logs (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson

PROGRESS_HEADER: Final = "pulseboard-progress"
TICK: Final = "tick"
LEAVE: Final = "leave"
END: Final = "end"
KINDS: Final = (TICK, LEAVE, END)


class MarkerError(ValueError):
    """A record carries the progress header but not a well-formed marker."""


@dataclass(frozen=True, slots=True)
class Marker:
    producer: str
    kind: str
    partitions: int  # the producer's partition count for the topic


def encode_marker(producer: str, kind: str, partitions: int) -> bytes:
    """The header value of a marker."""
    if kind not in KINDS:
        raise ValueError(f"marker kind must be one of {KINDS} (got {kind!r})")
    return orjson.dumps({"p": producer, "k": kind, "n": partitions})


def marker_headers(producer: str, kind: str, partitions: int) -> list[tuple[str, bytes]]:
    return [(PROGRESS_HEADER, encode_marker(producer, kind, partitions))]


def marker_of(headers: Sequence[tuple[str, bytes]] | None) -> Marker | None:
    """The marker a record's headers carry, None if they carry none.

    Raises ``MarkerError`` when the header is there but malformed (such a record is invalid,
    not silently ignored)."""
    if not headers:
        return None
    for name, raw in headers:
        if name != PROGRESS_HEADER:
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise MarkerError("progress header is not JSON") from None
        if not isinstance(obj, dict):
            raise MarkerError("progress header is not a JSON object")
        producer, kind, n = obj.get("p"), obj.get("k"), obj.get("n")
        if not isinstance(producer, str) or not 0 < len(producer) <= 64:
            raise MarkerError("progress header has no producer id (1..64 chars)")
        if kind not in KINDS:
            raise MarkerError(f"progress kind must be one of {', '.join(KINDS)}")
        if type(n) is not int or n < 1:
            raise MarkerError("progress header's partition count must be an int >= 1")
        return Marker(producer, kind, n)
    return None


def is_marker(value: bytes | None, headers: Sequence[tuple[str, bytes]] | None) -> bool:
    """Whether a record is a well-formed marker (readers that copy events skip these)."""
    if value:
        return False
    try:
        return marker_of(headers) is not None
    except MarkerError:
        return False
