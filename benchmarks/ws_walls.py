"""Cheap simulated walls for bench_ws.py: thousands of websocket connections in one process.

A wall's browser parses every frame in full; a benchmark that simulates ten thousand walls
on the same two cores as the server cannot, or the clients, not the server, set the
latency. What a simulated wall must still check is the sequence number of every frame (a
gap is a lost update) and the latency stamp of every delta. So each connection does the
websocket handshake once and then reads only frame headers and the first ``HEAD_BYTES`` of
each payload (where the server puts ``seq``, ``type``, ``server_time`` and ``ingest_ts``),
skipping the rest without copying it; every ``WHOLE_EVERY``-th frame of a connection is
kept whole and parsed as JSON, to check that the header read agrees with the message.

Decisions (``FrameReader``, ``SequenceCheck``) are pure; ``run_walls`` is the I/O: a bare
``epoll`` loop over non-blocking sockets, one ``recv`` per readable socket, no task or
future per connection."""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from websockets.utils import accept_key, apply_mask, generate_key

HEAD_BYTES = 128
WHOLE_EVERY = 100
HEADER = re.compile(
    rb'^\{"seq":(?P<seq>\d+),"type":"(?P<type>\w+)"(?:,"server_time":\d+)?'
    rb'(?:,"ingest_ts":(?P<ingest>\d+|null))?'
)
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
RECV_BYTES = 256 * 1024


class ProtocolError(ValueError):
    """The server sent something a pulseboard push server never sends."""


class FrameReader:
    """Splits a server's byte stream into websocket frames. A frame is returned as
    ``(opcode, head, length)``: ``head`` is the whole payload for control frames and for
    every ``whole_every``-th data frame (the first included), else its first ``keep``
    bytes; the rest of a payload is skipped, never copied."""

    __slots__ = ("_count", "_pending", "_skip", "keep", "whole_every")

    def __init__(self, keep: int = HEAD_BYTES, whole_every: int = WHOLE_EVERY) -> None:
        if keep < 1 or whole_every < 1:
            raise ValueError("keep and whole_every must be at least 1")
        self.keep = keep
        self.whole_every = whole_every
        self._pending = b""  # the start of a frame whose header or head is incomplete
        self._skip = 0  # bytes of the current payload still to discard
        self._count = 0  # data frames so far

    def feed(self, data: bytes) -> list[tuple[int, bytes, int]]:
        frames: list[tuple[int, bytes, int]] = []
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return frames
            data = data[self._skip :]
            self._skip = 0
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pos, end = 0, len(data)
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            if b0 & 0x70:
                raise ProtocolError("reserved bits set: no extension was negotiated")
            if not b0 & 0x80:
                raise ProtocolError("a fragmented frame: the server sends whole messages")
            if b1 & 0x80:
                raise ProtocolError("a masked frame from the server")
            opcode, length, start = b0 & 0x0F, b1 & 0x7F, pos + 2
            if length == 126:
                if end - pos < 4:
                    break
                length, start = int.from_bytes(data[start : start + 2], "big"), start + 2
            elif length == 127:
                if end - pos < 10:
                    break
                length, start = int.from_bytes(data[start : start + 8], "big"), start + 8
            if opcode >= 8:
                if length > 125:
                    raise ProtocolError("a control frame longer than 125 bytes")
                want = length
            elif self._count % self.whole_every == 0:
                want = length
            else:
                want = min(length, self.keep)
            if end - start < want:
                break
            frames.append((opcode, data[start : start + want], length))
            if opcode < 8:
                self._count += 1
            pos = start + length
        if pos > end:
            self._skip = pos - end
        elif pos < end:
            self._pending = data[pos:]
        return frames


@dataclass(slots=True)
class Tally:
    """What all the walls of one process saw."""

    connected: int = 0
    received: int = 0
    gaps: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    t: array = field(default_factory=lambda: array("d"))  # arrival, epoch ms, of a delta
    lat: array = field(default_factory=lambda: array("d"))  # its latency, ms

    def as_message(self) -> dict:
        return {"connected": self.connected, "received": self.received, "gaps": self.gaps,
                **self.kinds, "errors": self.errors, "t": self.t.tobytes(),
                "lat": self.lat.tobytes()}  # fmt: skip


class SequenceCheck:
    """One wall's check of the frames it receives: consecutive broadcast numbers (a
    snapshot carries the number of the last broadcast in it, so it may jump), and for each
    delta the time from the publication of its oldest change (``ingest_ts``) to arrival."""

    __slots__ = ("expected", "tally")

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.expected: int | None = None

    def frame(self, head: bytes, length: int, now_ms: float) -> None:
        match = HEADER.match(head)
        if match is None:
            raise ProtocolError(f"not a pulseboard frame: {head[:80]!r}")
        seq, kind = int(match["seq"]), match["type"].decode()
        if len(head) == length:  # kept whole: the header must say what the message says
            msg = orjson.loads(head)
            if msg.get("seq") != seq or msg.get("type") != kind:
                raise ProtocolError(f"frame header disagrees with its message: {head[:80]!r}")
        tally = self.tally
        tally.received += 1
        if self.expected is not None and seq != self.expected and kind != "snapshot":
            tally.gaps += 1
        self.expected = seq + 1
        tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
        ingest = match["ingest"]
        if kind == "delta" and ingest is not None and ingest != b"null":
            tally.t.append(now_ms)
            tally.lat.append(now_ms - int(ingest))


def handshake_request(host: str, port: int, path: str, key: bytes) -> bytes:
    return (
        b"GET %b HTTP/1.1\r\nHost: %b:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %b\r\nSec-WebSocket-Version: 13\r\n\r\n"
        % (path.encode(), host.encode(), port, key)
    )


def check_handshake(response: bytes, key: bytes) -> None:
    """Raise unless ``response`` (the headers, up to the blank line) accepts ``key``."""
    lines = response.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 101"):
        raise ProtocolError(f"handshake refused: {lines[0][:80]!r}")
    accept = accept_key(key.decode()).encode()
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-accept":
            if value.strip() != accept:
                raise ProtocolError("wrong Sec-WebSocket-Accept")
            return
    raise ProtocolError("no Sec-WebSocket-Accept in the handshake")


def masked_frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """A client's frame (clients must mask), for the pongs and the close."""
    if len(payload) > 125:
        raise ValueError("only short control frames are sent")
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + apply_mask(payload, mask)


# -- the I/O ---------------------------------------------------------------------------

_CONNECTING, _HANDSHAKE, _OPEN = 0, 1, 2


class _Wall:
    __slots__ = ("check", "key", "reader", "response", "sock", "state")

    def __init__(self, sock: socket.socket, tally: Tally) -> None:
        self.sock = sock
        self.state = _CONNECTING
        self.key = generate_key().encode()
        self.response = b""
        self.reader = FrameReader()
        self.check = SequenceCheck(tally)


def run_walls(
    host: str,
    port: int,
    count: int,
    *,
    ready: Callable[[], None],
    stopped: Callable[[Tally], bool],
    path: str = "/ws",
    concurrency: int = 50,
) -> Tally:
    """Open ``count`` websocket connections (at most ``concurrency`` handshakes at once),
    call ``ready`` once all have opened or failed, then read until ``stopped(tally)``
    returns true (asked every 0.2 s, with what the walls saw so far). A connection that
    fails or is closed by the server is an error in the tally, not an exception: a
    dropped wall is a result."""
    tally = Tally()
    poll = select.epoll()
    walls: dict[int, _Wall] = {}
    to_open, opening, settled, announced = count, 0, 0, False
    # One receive buffer for every socket: recv(n) would allocate n bytes per call (and a
    # buffer this size is mmapped and unmapped each time), then copy out what arrived.
    buffer = bytearray(RECV_BYTES)
    view = memoryview(buffer)
    next_check = time.monotonic() + 0.2

    def drop(wall: _Wall, reason: str) -> None:
        nonlocal settled, opening
        if wall.state != _OPEN:
            settled += 1
            opening -= 1
        tally.errors.append(reason)
        poll.unregister(wall.sock.fileno())
        del walls[wall.sock.fileno()]
        wall.sock.close()

    def open_more() -> None:
        nonlocal to_open, opening
        while to_open and opening < concurrency:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, f"cannot connect to {host}:{port}: {os.strerror(err)}")
            wall = _Wall(sock, tally)
            walls[sock.fileno()] = wall
            poll.register(sock.fileno(), select.EPOLLOUT)
            to_open -= 1
            opening += 1

    try:
        open_more()
        while True:
            if not announced and settled == count:
                announced = True
                ready()
            for fd, _events in poll.poll(0.2):
                wall = walls.get(fd)
                if wall is None:
                    continue
                if wall.state == _OPEN:
                    try:
                        received = wall.sock.recv_into(buffer)
                    except OSError as exc:
                        drop(wall, f"recv: {exc!r}")
                        continue
                    if not received:
                        drop(wall, "closed by the server without a close frame")
                        continue
                    data = view[:received].tobytes()
                    now_ms = time.time() * 1000
                    try:
                        _frames(wall, wall.reader.feed(data), now_ms)
                    except (ProtocolError, orjson.JSONDecodeError, OSError) as exc:
                        drop(wall, repr(exc))
                elif wall.state == _CONNECTING:
                    err = wall.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        drop(wall, f"connect: {os.strerror(err)}")
                        open_more()
                        continue
                    try:
                        wall.sock.send(handshake_request(host, port, path, wall.key))
                    except OSError as exc:
                        drop(wall, f"handshake: {exc!r}")
                        open_more()
                        continue
                    wall.state = _HANDSHAKE
                    poll.modify(fd, select.EPOLLIN)
                else:
                    try:
                        data = view[: wall.sock.recv_into(buffer)].tobytes()
                    except OSError:
                        data = b""  # reset during the handshake: the same as closed
                    if not data:
                        drop(wall, "closed during the handshake")
                        open_more()
                        continue
                    wall.response += data
                    head, sep, rest = wall.response.partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    try:
                        check_handshake(head, wall.key)
                    except ProtocolError as exc:
                        drop(wall, repr(exc))
                        open_more()
                        continue
                    wall.state, wall.response = _OPEN, b""
                    tally.connected += 1
                    settled += 1
                    opening -= 1
                    open_more()
                    if rest:
                        try:
                            _frames(wall, wall.reader.feed(rest), time.time() * 1000)
                        except (ProtocolError, orjson.JSONDecodeError, OSError) as exc:
                            drop(wall, repr(exc))
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.2
                if stopped(tally):
                    break
    finally:
        for wall in walls.values():
            wall.sock.close()
        poll.close()
    return tally


def _frames(wall: _Wall, frames: list[tuple[int, bytes, int]], now_ms: float) -> None:
    for opcode, head, length in frames:
        if opcode == OP_TEXT:
            wall.check.frame(head, length, now_ms)
        elif opcode == OP_PING:  # the server's keepalive: answer, or it closes us
            wall.sock.send(masked_frame(OP_PONG, head, os.urandom(4)))
        elif opcode == OP_CLOSE:
            code = int.from_bytes(head[:2], "big") if len(head) >= 2 else None
            raise ProtocolError(f"closed by the server: {code} {head[2:]!r}")
        elif opcode != OP_PONG:
            raise ProtocolError(f"unexpected opcode {opcode}")
