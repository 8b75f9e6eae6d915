"""Raw-socket helpers for the web abuse tests: requests and websocket frames that no
well-behaved client library would send."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from web.harness import serving
from web.server import PushServer, ServeSettings

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 0x0, 0x1, 0x2, 0x8, 0x9


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int | None  # None: the server closed without answering
    headers: dict[str, str]  # lower-case names; the last of repeated ones
    body: bytes
    names: tuple[str, ...] = ()  # every header line's lower-case name, repeats included


def parse_response(raw: bytes) -> RawResponse:
    if not raw.startswith(b"HTTP/"):
        return RawResponse(None, {}, raw)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    names = []
    for line in lines:
        name, _, value = line.partition(":")
        names.append(name.strip().lower())
        headers[names[-1]] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body, tuple(names))


async def exchange(port: int, data: bytes, timeout: float = 10.0) -> RawResponse:
    """Send ``data`` as is, read until the server closes (bounded by ``timeout``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = b""
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout(timeout):
                raw = await reader.read()
    finally:
        writer.close()
    return parse_response(raw)


def request(method: str, target: str, *headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def http(port: int, target: str, *headers: str, method: str = "GET") -> RawResponse:
    return await exchange(port, request(method, target, *headers))


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True, length: int = -1
) -> bytes:
    """One client frame. ``length`` overrides the declared payload length; the masking
    key is zero, which is legal and leaves the payload bytes as they are."""
    n = len(payload) if length < 0 else length
    first = (0x80 if fin else 0) | opcode
    mask = 0x80 if masked else 0
    if n < 126:
        head = bytes([first, mask | n])
    elif n < 1 << 16:
        head = bytes([first, mask | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([first, mask | 127]) + n.to_bytes(8, "big")
    return head + (b"\0\0\0\0" if masked else b"") + payload


def _handshake() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return request(
        "GET",
        "/ws",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    )


async def raw_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A completed websocket handshake on a bare socket."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
    writer.write(_handshake())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def stuck_websocket(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A websocket client that never reads anything, not even the handshake's answer.
    A bare non-blocking socket (asyncio's StreamReader would keep reading into its own
    buffer) with a tiny receive buffer, so the server's sends back up quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, _handshake())
    return sock


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame (servers never mask): (opcode, payload)."""
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return first & 0x0F, await reader.readexactly(n)


async def close_code(reader: asyncio.StreamReader, timeout: float = 10.0) -> int | None:
    """Read frames until the server's close frame; its code, or None if the connection
    ended without one."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                opcode, payload = await read_frame(reader)
                if opcode == OP_CLOSE:
                    return int.from_bytes(payload[:2], "big") if payload else None
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


@contextlib.asynccontextmanager
async def ready_server(settings: ServeSettings) -> AsyncIterator[PushServer]:
    """A push server with no Kafka feed, marked ready: the target of the abuse tests, which
    feed it indicators directly."""
    async with serving(settings, None) as s:
        s.mark_ready()
        yield s
