"""Websocket abuse against the real push server: malformed, oversized and unmasked frames,
message floods, ping floods, a flood of connections past the limit, and a client that never
reads. During each, a normal client keeps getting its snapshot and every delta in order."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from support import rows_of, serve_settings
from web_raw import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    close_code,
    frame,
    raw_websocket,
    ready_server,
    stuck_websocket,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from web.indicators import Indicator
from web.protocol import Limits, Timing
from web.server import UNREAD_REPLIES_LIMIT, PushServer, ServeSettings

# websockets' own flow control: what it lets sit in a transport before send() waits.
WRITE_LIMIT = 32 * 1024


def settings(static_dir: Path, **kw) -> ServeSettings:
    return serve_settings(static_dir, **{"timing": Timing(50, 5, 10), **kw})


@dataclass
class Watcher:
    """A well-behaved display client that checks every sequence number."""

    server: PushServer
    ws: ClientConnection
    seq: int = 0
    values: dict[str, object] = field(default_factory=dict)
    ids: dict[int, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    async def open(cls, server: PushServer) -> Watcher:
        ws = await connect(f"ws://127.0.0.1:{server.port}/ws")
        watcher = cls(server, ws)
        assert (await watcher.next())["type"] == "snapshot"
        return watcher

    async def next(self) -> dict:
        """The next message, checked as the page checks it: a snapshot carries the number
        of the last broadcast it includes, and every other message is the one after."""
        msg = orjson.loads(await asyncio.wait_for(self.ws.recv(), 10))
        if msg["type"] != "snapshot":
            assert msg["seq"] == self.seq + 1, "a gap in the sequence"
        self.seq = msg["seq"]
        # Learn the value ids as a page does: a snapshot starts them afresh.
        if msg["type"] == "snapshot":
            self.ids = {}
        rows_of(msg, "values" if msg["type"] == "snapshot" else "changes", self.ids)
        return msg

    async def sees(self, key: str, value: int) -> None:
        """Publish one value and wait for the delta that carries it."""
        self.server.ingest(Indicator("shipments_1m", key, value, value, False))
        while True:
            msg = await self.next()
            if msg["type"] == "delta":
                rows = rows_of(msg, "changes", self.ids).get("shipments_1m", [])
                if [key, value, value, False] in rows:
                    return


GARBAGE = [
    b"not json",
    b"[1, 2]",
    b"null",
    b'"heartbeat"',
    b'{"type": 5}',
    b'{"type": "resync"',  # truncated
    b"{}",
    b"[" * 4000,  # deeper than the JSON parser goes
    b'{"type": "heartbeat", "type": ["x"]}',
    b"\x00\x01\x02",
    b'{"\\ud800": 1}',
]

ABUSE = {
    "garbage text frames": ([frame(OP_TEXT, g) for g in GARBAGE], 1008),
    "binary frames": ([frame(OP_BINARY, b"\x00\xff" * 8)] * 11, 1008),
    "invalid UTF-8 in a text frame": ([frame(OP_TEXT, b'{"type":"\xff\xfe"}')], 1007),
    "a frame above max size": ([frame(OP_TEXT, b"x" * 4097)], 1009),
    "fragments adding up to above max size": (
        [frame(OP_TEXT, b"x" * 3000, fin=False), frame(OP_CONT, b"x" * 3000)],
        1009,
    ),
    "a frame header declaring 2**62 bytes": ([frame(OP_TEXT, length=1 << 62)], 1009),
    "an unmasked frame": ([frame(OP_TEXT, b'{"type":"heartbeat"}', masked=False)], 1002),
    "a reserved opcode": ([frame(0x3, b"?")], 1002),
    "a continuation with nothing to continue": ([frame(OP_CONT, b"x")], 1002),
    "a control frame above 125 bytes": ([frame(OP_PING, b"p" * 126)], 1002),
    "a message flood": ([frame(OP_TEXT, b'{"type":"heartbeat"}')] * 200, 1008),
}


@pytest.mark.parametrize("abuse", list(ABUSE))
async def test_abusive_frames_close_only_the_abuser(static_dir, abuse):
    frames, expected = ABUSE[abuse]
    async with ready_server(settings(static_dir)) as s:
        watcher = await Watcher.open(s)
        await watcher.sees("520000", 1)
        reader, writer = await raw_websocket(s.port)
        writer.write(b"".join(frames))
        await watcher.sees("520000", 2)  # while the abuser is being dealt with
        assert await close_code(reader) == expected
        writer.close()
        await asyncio.wait_for(s.wait_for_clients(1), 10)
        await watcher.sees("520000", 3)
        await watcher.ws.close()


async def test_a_flood_of_connections_past_the_limit(static_dir, caplog):
    """Thirty simultaneous handshakes for two free places: exactly two get in, every
    other one is refused with a log line, and the clients already there notice nothing."""
    caplog.set_level(logging.WARNING, "pulseboard.web")
    async with ready_server(settings(static_dir, max_clients=4)) as s:
        url = f"ws://127.0.0.1:{s.port}/ws"
        watchers = [await Watcher.open(s) for _ in range(2)]

        async def attempt() -> ClientConnection | None:
            try:
                ws = await connect(url)
            except InvalidStatus as refused:
                assert refused.response.status_code == 503
                return None
            try:
                assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
            except ConnectionClosed as closed:
                # Refused after a handshake that raced with the others: try again later.
                assert closed.rcvd is not None and closed.rcvd.code == 1013
                return None
            return ws

        results = await asyncio.gather(*(attempt() for _ in range(30)))
        admitted = [ws for ws in results if ws is not None]
        assert len(admitted) == 2
        assert s.client_count == 4
        refused = s.metrics.registry.get_sample_value(
            "pulseboard_web_connections_rejected_total", {"reason": "limit"}
        )
        assert refused == 28
        assert caplog.text.count("the limit is 4 (raise it with --max-clients)") == 28
        for value, w in enumerate(watchers, start=1):
            await w.sees("520100", value)
        # A place that frees up is taken by the next client.
        await admitted[0].close()
        await asyncio.wait_for(s.wait_for_clients(3), 10)
        late = await Watcher.open(s)
        await late.sees("520200", 1)
        for ws in [*admitted[1:], late.ws, *(w.ws for w in watchers)]:
            await ws.close()


async def test_a_client_that_never_reads_costs_a_bounded_amount(static_dir):
    """Its frames wait in a queue of at most max_queue_frames / max_queue_bytes (then it
    is owed a snapshot instead), and websockets' flow control holds at most its write
    limit plus one frame in the transport; the reader next to it gets every delta."""
    limits = Limits(max_queue_frames=4, max_queue_bytes=64 * 1024)
    opts = settings(
        static_dir,
        limits=limits,
        send_timeout_s=60,  # keep it connected: it is the memory bound under test
        socket_send_buffer=16384,
        timing=Timing(200, 5, 10),
    )
    async with ready_server(opts) as s:
        stuck = await stuck_websocket(s.port)
        await asyncio.wait_for(s.wait_for_clients(1), 10)
        watcher = await Watcher.open(s)
        pad = "x" * 1000  # big keys make frames big, so the stuck socket fills fast
        most_frames = most_bytes = most_unsent = 0
        for v in range(1, 201):
            await watcher.sees(pad + str(v % 40), v)
            for b in s.client_backlogs():
                most_frames = max(most_frames, b.queued_frames)
                most_bytes = max(most_bytes, b.queued_bytes)
                most_unsent = max(most_unsent, b.unsent_bytes)
        assert most_frames <= limits.max_queue_frames
        assert most_bytes <= limits.max_queue_bytes
        # The largest frame is a snapshot of the 40 padded keys.
        assert most_unsent <= WRITE_LIMIT + 40 * (len(pad) + 64) + 4096
        dropped = s.metrics.registry.get_sample_value("pulseboard_web_updates_dropped_total")
        assert dropped > 0, "the stuck client never fell behind: the test proves nothing"
        stuck.close()
        await watcher.ws.close()


async def test_a_ping_flood_that_never_reads_its_pongs_is_cut_off(static_dir, caplog):
    """websockets answers every ping without flow control; a client that floods pings
    and reads nothing is dropped before its pongs pile up in the server."""
    async with ready_server(settings(static_dir, socket_send_buffer=16384)) as s:
        watcher = await Watcher.open(s)
        flooder = await stuck_websocket(s.port)
        await asyncio.wait_for(s.wait_for_clients(2), 10)
        loop = asyncio.get_running_loop()
        burst = frame(OP_PING, b"p" * 125) * 256
        most_unsent = 0
        cut_off = False
        sent = 0
        while sent < 64 << 20 and not cut_off:
            try:
                await asyncio.wait_for(loop.sock_sendall(flooder, burst), 10)
            except ConnectionError:
                cut_off = True
            sent += len(burst)
            most_unsent = max([most_unsent, *(b.unsent_bytes for b in s.client_backlogs())])
            cut_off = cut_off or s.client_count == 1
        assert cut_off, f"still connected after {sent} bytes of pings"
        assert most_unsent <= UNREAD_REPLIES_LIMIT + 2 * WRITE_LIMIT + len(burst)
        assert "pongs unread (ping flood)" in caplog.text
        closed = s.metrics.registry.get_sample_value(
            "pulseboard_web_connections_closed_by_server_total", {"reason": "ping flood"}
        )
        assert closed == 1
        flooder.close()
        await watcher.sees("520000", 1)
        await watcher.ws.close()
