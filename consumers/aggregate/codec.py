"""Compact, exact JSON form of ``Bucket``s and of the messages on the internal topic
``<prefix>indicators.buckets`` (pure: no I/O).

A bucket becomes a JSON object with one short field per part of ``Bucket`` (empty parts are
left out)::

    {"s": {origin: [count, weight_kg, value_micro, export_micro]},
     "c": {"origin>dest": count},
     "x": {country: value_micro},
     "t": {region: [truck_id, ...]},
     "d": {dest: [count, on_time, transit_s_sum]},
     "o": {"region|sector": value_micro},
     "l": [[region, dc_id, ts, id, load_micro, utilization_micro], ...]}

Region codes never contain ``|``, so ``region|sector`` splits back exactly; dc ids are free
text, so readings are lists. Everything is an int or a str, so the round trip is exact.

orjson only writes ints of at most 64 bits (and reads bigger ones back as floats); a sum of
huge ``value_cny`` can exceed that. Such a bucket is written with those ints as decimal
strings and flagged (a 4th element ``1`` in its ``[second, ingest, bucket]`` entry), and
read back with ``int()`` at the places that hold ints. The common case pays nothing.

Messages are assembled from separately encoded bucket entries, so a producer can cut a long
run of sealed seconds into messages of bounded size without encoding anything twice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from consumers.buckets import Bucket

INT64_MIN: Final = -(2**63)
UINT64_MAX: Final = 2**64 - 1

# Message kinds; the first byte of the Kafka record key (b"s|src", b"p|src", b"c|") says
# which one a record is, so a reader can skip kinds without decoding them.
SEALED: Final = "s"
PROVISIONAL: Final = "p"
CHECKPOINT: Final = "c"

Entry = tuple[int, int, Bucket]  # (second, greatest ingest_ts of its events, bucket)


# --------------------------------------------------------------------------- buckets


def bucket_to_obj(b: Bucket) -> dict[str, Any]:
    """The JSON-able form of a bucket (ints may exceed 64 bits; see ``encode_entry``)."""
    obj: dict[str, Any] = {}
    if b.ship:
        obj["s"] = b.ship
    if b.corridor:
        obj["c"] = b.corridor
    if b.country:
        obj["x"] = b.country
    if b.trucks:
        obj["t"] = {region: list(ids) for region, ids in b.trucks.items()}
    if b.deliv:
        obj["d"] = b.deliv
    if b.output:
        obj["o"] = {region + "|" + sector: v for (region, sector), v in b.output.items()}
    if b.dc:
        obj["l"] = [[region, dc, *reading] for (region, dc), reading in b.dc.items()]
    return obj


def _truck_ids(ids: list[str]) -> dict[str, None]:
    """Decoded truck ids, interned: the windows keep every second's ids for five minutes,
    and the same trucks report again and again, so equal ids share one string."""
    return dict.fromkeys(map(sys.intern, ids))


def parse_int(x: object) -> int:
    """An int written by this codec: as is, or from its decimal string (wide ints)."""
    return x if type(x) is int else int(x)  # type: ignore[call-overload]


def bucket_from_obj(obj: dict[str, Any], *, big: bool = False, thin: bool = False) -> Bucket:
    """A bucket from ``bucket_to_obj``'s form. ``big``: ints may be decimal strings.
    ``thin``: leave out trucks and dc readings (they only matter in the 5-minute window;
    a restore skips them for seconds that have already left it)."""
    b = Bucket()
    get = obj.get
    if big:
        _decode_big(b, obj, thin)
        return b
    ship = get("s")
    if ship:
        b.ship = ship
    corridor = get("c")
    if corridor:
        b.corridor = corridor
    country = get("x")
    if country:
        b.country = country
    deliv = get("d")
    if deliv:
        b.deliv = deliv
    output = get("o")
    if output:
        b.output = {tuple(k.split("|", 1)): v for k, v in output.items()}  # type: ignore[misc]
    if not thin:
        trucks = get("t")
        if trucks:
            b.trucks = {region: _truck_ids(ids) for region, ids in trucks.items()}
        readings = get("l")
        if readings:
            b.dc = {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in readings}
    return b


def _decode_big(b: Bucket, obj: dict[str, Any], thin: bool) -> None:
    get = obj.get
    b.ship = {k: [parse_int(x) for x in row] for k, row in (get("s") or {}).items()}
    b.corridor = {k: parse_int(v) for k, v in (get("c") or {}).items()}
    b.country = {k: parse_int(v) for k, v in (get("x") or {}).items()}
    b.deliv = {k: [parse_int(x) for x in row] for k, row in (get("d") or {}).items()}
    b.output = {
        tuple(k.split("|", 1)): parse_int(v)  # type: ignore[misc]
        for k, v in (get("o") or {}).items()
    }
    if not thin:
        b.trucks = {region: _truck_ids(ids) for region, ids in (get("t") or {}).items()}
        b.dc = {
            (r[0], r[1]): (parse_int(r[2]), r[3], parse_int(r[4]), parse_int(r[5]))
            for r in (get("l") or ())
        }


def _stringify_big(x: Any) -> Any:
    """``x`` with every int outside orjson's range written as a decimal string."""
    if type(x) is int:
        return str(x) if x < INT64_MIN or x > UINT64_MAX else x
    if isinstance(x, dict):
        return {k: _stringify_big(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_stringify_big(v) for v in x]
    return x


def encode_entry(second: int, ingest: int, b: Bucket) -> bytes:
    """One ``[second, ingest, bucket]`` entry as JSON bytes (``[.., .., .., 1]`` when the
    bucket holds ints wider than 64 bits)."""
    obj = bucket_to_obj(b)
    try:
        return orjson.dumps([second, ingest, obj])
    except orjson.JSONEncodeError:
        return orjson.dumps([second, ingest, _stringify_big(obj), 1])


def decode_entry(item: list[Any], *, thin: bool = False) -> Entry:
    return item[0], item[1], bucket_from_obj(item[2], big=len(item) > 3, thin=thin)


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class BucketMessage:
    """A sealer's message about one source partition ``src`` ("topic:partition").

    ``kind`` SEALED: ``entries`` are complete buckets of the seconds in ``[start, through)``
    (non-empty ones only); every second below ``through`` is final for ``src``. ``start``
    None means "from the beginning". ``empty``: the partition has never held a record, so it
    does not hold the watermark back.

    ``kind`` PROVISIONAL: ``entries`` are *deltas*: the events the session ``sid`` added to
    still open seconds since its previous provisional message.

    ``hi``: greatest ``ts`` of the counted events seen; ``wm``: how far the partition's
    data has come (ingest time, ms) when the message was made (for provisional values; the
    sealed ``through`` is what counts for final ones); ``partitions``: the greatest partition
    count of ``src``'s topic that its producers' progress markers stated (None: none seen),
    so the finalizer waits for a partition added at run time (``pulseboard.progress``)."""

    kind: str
    src: str
    sid: str
    start: int | None
    through: int | None
    empty: bool
    hi: int | None
    wm: int | None
    entries: list[Entry]
    partitions: int | None = None
    ended: bool = False  # the partition's input has ended (``pulseboard.progress``)


def message_key(kind: str, src: str = "") -> bytes:
    return (kind + "|" + src).encode()


def _header(
    kind: str,
    src: str,
    sid: str,
    start: int | None,
    through: int | None,
    empty: bool,
    hi: int | None,
    wm: int | None,
    partitions: int | None,
    ended: bool = False,
) -> bytes:
    obj = {
        "k": kind,
        "src": src,
        "sid": sid,
        "from": start,
        "through": through,
        "empty": empty,
        "hi": hi,
        "wm": wm,
    }
    if partitions:
        obj["n"] = partitions
    if ended:
        obj["end"] = True
    head = orjson.dumps(obj)
    return head[:-1] + b',"b":['


def encode_message(
    kind: str,
    src: str,
    sid: str,
    *,
    start: int | None,
    through: int | None,
    empty: bool = False,
    hi: int | None = None,
    wm: int | None = None,
    entries: Iterable[bytes] = (),
    partitions: int | None = None,
    ended: bool = False,
) -> bytes:
    """A message from already encoded entries (``encode_entry``)."""
    head = _header(kind, src, sid, start, through, empty, hi, wm, partitions, ended)
    return head + b",".join(entries) + b"]}"


def chunk_entries(
    encoded: list[tuple[int, bytes]], max_bytes: int
) -> Iterator[list[tuple[int, bytes]]]:
    """Split (second, entry bytes) pairs, in second order, into runs of at most ``max_bytes``
    (a single larger entry forms a run of its own)."""
    run: list[tuple[int, bytes]] = []
    size = 0
    for item in encoded:
        n = len(item[1]) + 1
        if run and size + n > max_bytes:
            yield run
            run, size = [], 0
        run.append(item)
        size += n
    if run:
        yield run


def decode_message(raw: bytes, *, thin_before: int | None = None) -> BucketMessage:
    """A sealed or provisional message. Buckets of seconds below ``thin_before`` are decoded
    without trucks and dc readings."""
    obj = orjson.loads(raw)
    items = obj.get("b") or ()
    if thin_before is None:
        entries = [decode_entry(it) for it in items]
    else:
        entries = [decode_entry(it, thin=it[0] < thin_before) for it in items]
    return BucketMessage(
        kind=obj["k"],
        src=obj["src"],
        sid=obj["sid"],
        start=obj.get("from"),
        through=obj.get("through"),
        empty=bool(obj.get("empty")),
        hi=obj.get("hi"),
        wm=obj.get("wm"),
        entries=entries,
        partitions=obj.get("n"),
        ended=bool(obj.get("end")),
    )


def encode_json(obj: Any) -> bytes:
    """Any other internal JSON (checkpoints): ints wider than 64 bits become strings."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return orjson.dumps(_stringify_big(obj))
