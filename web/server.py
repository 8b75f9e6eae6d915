"""The asyncio layer of the push server: sockets, tasks and clocks around web/protocol.py.

One task (the pump) broadcasts coalesced deltas and pings; one writer task per client
sends what that client's session owes it. A slow client only ever blocks its own writer;
the pump never awaits a client."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from pulseboard import packs
from pulseboard.anomalies import Anomaly
from pulseboard.packs import RegionPack
from web.assets import STATIC_DIR, StaticAssets
from web.history_api import PREFIX as HISTORY_PREFIX
from web.history_api import HistoryApi
from web.indicators import Applied, Indicator, Removal
from web.metadata import ClientTiming, build_meta, page_pack
from web.metrics import WebMetrics
from web.protocol import (
    TRY_AGAIN_LATER,
    Broadcast,
    ClientSession,
    CloseRequest,
    Hub,
    Inbound,
    Limits,
    Offer,
    OutFrame,
    Timing,
)
from web.routes import OriginPolicy, Router, add_security_headers, json_response, without_body

log = logging.getLogger("pulseboard.web")

EXPIRY_CHECK_S = 1.0
# Automatic replies (pongs) a client may leave unread before it is dropped. websockets
# writes them without flow control, so a client that floods pings and never reads would
# otherwise grow the server's write buffer by as much as it sends.
UNREAD_REPLIES_LIMIT = 256 * 1024
# A client in step whose socket holds at most this much unsent is written to directly, in
# one pass with every other such client; above it, frames go through its bounded queue and
# its own writer, which waits for the socket (the slow-client isolation).
DIRECT_BUFFER_BYTES = 16 * 1024


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    timing: Timing = field(default_factory=Timing)
    limits: Limits = field(default_factory=Limits)
    max_clients: int = 2000
    allow_origins: tuple[str, ...] = ()
    # A send that cannot complete in this time means the client stopped reading.
    send_timeout_s: float = 10.0
    # From accepting a TCP connection to a complete HTTP request (and the websocket
    # handshake): a client that trickles its headers (slowloris) is cut off after this.
    open_timeout_s: float = 10.0
    static_dir: Path = STATIC_DIR
    compression: bool = False
    # Kernel send buffer per client. Left to autotuning, Linux lets one stalled client
    # hold up to 4 MiB; a wall's traffic is a few kB/s, so a small fixed buffer bounds
    # memory and makes a stuck client visible to the protocol's queue within seconds.
    socket_send_buffer: int = 64 * 1024
    # The area on the wall (Config.pack, --region); the start line logs the region's name.
    pack: RegionPack = field(default_factory=lambda: packs.load(packs.DEFAULT_PACK), repr=False)


@dataclass(frozen=True, slots=True)
class Backlog:
    queued_frames: int  # frames in the session's queue (bounded by Limits)
    queued_bytes: int
    unsent_bytes: int  # written to the transport, not yet taken by the kernel


@dataclass(slots=True, eq=False)
class _Client:
    ws: ServerConnection
    session: ClientSession
    peer: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False
    send_started: float | None = None  # loop time a still unfinished send began
    # Read for every client on every broadcast (the pump's hot loop): kept here rather
    # than reached through the connection and its protocol each time.
    transport: asyncio.Transport = field(init=False)
    protocol: ServerProtocol = field(init=False)
    compressed: bool = field(init=False)  # an extension was negotiated (permessage-deflate)

    def __post_init__(self) -> None:
        self.transport = self.ws.transport
        self.protocol = self.ws.protocol
        self.compressed = bool(self.ws.protocol.extensions)


class PushServer:
    def __init__(self, settings: ServeSettings, metrics: WebMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or WebMetrics()
        t = settings.timing
        pack, now = settings.pack, time.time()
        self.assets = StaticAssets.load(settings.static_dir, page_pack(pack, now))
        timing = ClientTiming(t.coalesce_hz, t.ping_interval_s, t.stale_after_s)
        self.hub = Hub(build_meta(timing, self.assets.build_id, pack, now), t)
        self._clients: set[_Client] = set()
        self._wake = asyncio.Event()
        self._server: Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._router: Router | None = None
        self.ready_event = asyncio.Event()
        self._clients_changed = asyncio.Condition()
        # The history API (SPEC section 9); None: this server keeps no history index.
        self.history: HistoryApi | None = None

    # -- feed side -------------------------------------------------------------------

    def ingest(self, record: Indicator | Removal) -> None:
        outcome = self.hub.ingest(record, asyncio.get_running_loop().time(), wall_ms())
        self.metrics.records.labels(outcome.applied.value).inc()
        if outcome.coalesced:
            self.metrics.coalesced.inc()
        if outcome.applied in (Applied.CHANGED, Applied.REMOVED) and self.hub.ready:
            self._wake.set()

    def ingest_anomaly(self, record: Anomaly) -> None:
        changed = self.hub.ingest_anomaly(record, asyncio.get_running_loop().time())
        self.metrics.anomaly_records.labels("changed" if changed else "same").inc()
        if changed:
            self.metrics.callouts.set(len(self.hub.callouts.active))
            if self.hub.ready:
                self._wake.set()

    def bad_anomaly(self, reason: str) -> None:
        self.metrics.anomaly_records.labels("bad_" + reason).inc()

    def bad_record(self, reason: str) -> None:
        self.metrics.records.labels("bad_" + reason).inc()

    def mark_ready(self) -> None:
        if self.hub.ready:
            return
        self.hub.mark_ready()
        self.ready_event.set()
        self.metrics.ready.set(1)
        # Clients that connected during catch-up saw a partial table: send them all of it.
        for client in self._clients:
            client.session.owe_snapshot("ready")
            client.wake.set()

    @property
    def ready(self) -> bool:
        return self.hub.ready

    # -- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.sockets[0].getsockname()[1]

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def client_backlogs(self) -> list[Backlog]:
        """What each connected client costs in memory right now (tests, debugging)."""
        return [
            Backlog(
                c.session.queued_frames,
                c.session.queued_bytes,
                c.ws.transport.get_write_buffer_size(),
            )
            for c in self._clients
        ]

    async def start(self) -> None:
        s = self.settings
        self._server = await serve(
            self._handle,
            s.host,
            s.port,
            process_request=self._process_request,
            create_connection=functools.partial(
                _HardenedConnection, on_flood=self.metrics.closed.labels("ping flood").inc
            ),
            open_timeout=s.open_timeout_s,
            compression="deflate" if s.compression else None,
            max_size=s.limits.max_message_bytes,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=5,
            logger=logging.getLogger("pulseboard.web.websockets"),
            server_header="pulseboard",
        )
        self._router = Router(
            assets=self.assets,
            metrics=self.metrics,
            origins=OriginPolicy.localhost(self.port, s.allow_origins),
            max_clients=s.max_clients,
            is_ready=lambda: self.hub.ready,
            client_count=lambda: len(self._clients),
        )
        self._pump_task = asyncio.create_task(self._pump(), name="pulseboard-web-pump")
        log.info("serving the wall on http://%s:%d/", s.host, self.port)

    async def close(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- HTTP ------------------------------------------------------------------------

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        assert self._router is not None
        method = getattr(request, "method", "GET")
        if request.path.startswith(HISTORY_PREFIX) and method in ("GET", "HEAD"):
            if self.history is None:
                response = json_response(
                    HTTPStatus.NOT_FOUND,
                    b'{"error":"this server keeps no history (see docs/history.md)"}',
                )
            else:
                response = await self.history.respond(request)
            return without_body(response) if method == "HEAD" else response
        return self._router.route(request, _peer(conn))

    # -- websocket clients -----------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        sock = ws.transport.get_extra_info("socket")
        if sock is not None and self.settings.socket_send_buffer > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.settings.socket_send_buffer)
        client = _Client(ws, ClientSession(self.settings.limits, loop.time()), _peer(ws))
        self._clients.add(client)
        self.metrics.clients.set(len(self._clients))
        self.metrics.connections.inc()
        await self._notify_clients_changed()
        writer = asyncio.create_task(self._write(client))
        try:
            async for message in ws:
                result = client.session.receive(message, loop.time())
                self.metrics.inbound.labels(result.value).inc()
                if result is Inbound.RESYNC:
                    client.wake.set()
                elif result is Inbound.CLOSE:
                    self._close(client)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            self.metrics.clients.set(len(self._clients))
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await self._notify_clients_changed()

    async def _notify_clients_changed(self) -> None:
        async with self._clients_changed:
            self._clients_changed.notify_all()

    async def wait_for_clients(self, count: int) -> None:
        """Return once exactly ``count`` clients are connected (tests, benchmarks)."""
        async with self._clients_changed:
            await self._clients_changed.wait_for(lambda: len(self._clients) == count)

    async def _write(self, client: _Client) -> None:
        session, ws = client.session, client.ws
        loop = asyncio.get_running_loop()
        while True:
            frame = session.next_frame(self.hub, wall_ms())
            if frame is None:
                if session.close is not None:
                    return
                client.wake.clear()
                await client.wake.wait()
                continue
            # A send returns at once unless the socket is backed up; the pump's watchdog
            # (cheaper than a timeout around every send) drops a client stuck here.
            client.send_started = loop.time()
            try:
                await ws.send(frame.data, text=True)
            except ConnectionClosed:
                return
            finally:
                client.send_started = None
            self._sent(frame)

    def _sent(self, frame: OutFrame) -> None:
        m = self.metrics
        m.message_sent(frame.kind).inc()
        m.bytes.inc(len(frame.data))
        if frame.kind == "snapshot":
            m.snapshot_sent(frame.reason or "connect").inc()
        elif frame.oldest_ingest_ms is not None:
            m.latency.observe(max(0.0, (wall_ms() - frame.oldest_ingest_ms) / 1000))

    def _close(self, client: _Client, *, abort: bool = False) -> None:
        """Close a client whose session asked to be closed; log once, never await it."""
        request = client.session.close
        if client.closing or request is None:
            return
        client.closing = True
        client.wake.set()
        self.metrics.closed.labels(request.reason).inc()
        log.warning("closing websocket %s: %s (%d)", client.peer, request.reason, request.code)
        if abort:
            # It stopped reading, so a closing handshake would only wait out its timeout.
            client.ws.transport.abort()
        else:
            asyncio.get_running_loop().create_task(client.ws.close(request.code, request.reason))

    # -- broadcasting ----------------------------------------------------------------

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        next_expiry = loop.time() + EXPIRY_CHECK_S
        while True:
            now = loop.time()
            flush_at = self.hub.flush_due() if self.hub.ready else None
            if flush_at is not None and flush_at <= now:
                delta = self.hub.flush(now, wall_ms())
                if delta is not None:
                    self._broadcast(delta)
            if self.hub.ping_due() <= now:
                self._broadcast(self.hub.ping(now, wall_ms()))
            if next_expiry <= now:
                next_expiry = now + EXPIRY_CHECK_S
                self._watch(now)
            flush_at = self.hub.flush_due() if self.hub.ready else None
            due = min(self.hub.ping_due(), next_expiry)
            if flush_at is not None:
                due = min(due, flush_at)
            self._wake.clear()
            if due > loop.time():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(due):
                        await self._wake.wait()

    def _watch(self, now: float) -> None:
        """Drop clients that went silent, or whose socket has not taken a frame for
        send_timeout_s (they stopped reading)."""
        for client in list(self._clients):
            started = client.send_started
            if started is not None and now - started > self.settings.send_timeout_s:
                client.session.close = CloseRequest(TRY_AGAIN_LATER, "send timed out")
                self._close(client, abort=True)
            elif client.session.expired(now):
                self._close(client)

    def _broadcast(self, frame: Broadcast) -> None:
        started = time.perf_counter()
        dropped = 0
        direct = 0
        framed: list[ServerConnection] = []  # connections with an extension (compression)
        # The frame is encoded once, by websockets' own encoder, for every uncompressed
        # client: a server's frames are not masked, so they are the same bytes for all.
        wire = Frame(Opcode.TEXT, frame.data).serialize(mask=False)
        limit, open_ = DIRECT_BUFFER_BYTES, State.OPEN
        for client in self._clients:
            transport = client.transport
            if (
                client.send_started is None
                and not client.closing
                and transport.get_write_buffer_size() <= limit
                and client.protocol.state is open_
                and client.session.take_direct(frame)
            ):
                # In step: written now, with no task switch. What websockets' broadcast()
                # would do, less its framing per connection; websockets keeps no state
                # about whole data frames a server sends, and this one never fragments.
                direct += 1
                if client.compressed:
                    framed.append(client.ws)
                elif not transport.is_closing():
                    transport.write(wire)
                continue
            result = client.session.offer(frame)
            if result.outcome is Offer.OVERFLOW:
                dropped += result.dropped_changes
                if client.session.close is not None:
                    self._close(client)
            elif result.outcome is Offer.SUPERSEDED:
                dropped += frame.changes
            client.wake.set()
        if framed:
            broadcast(framed, frame.data, text=True)
        if direct:
            self._sent_to_many(frame, direct)
        if dropped:
            self.metrics.dropped.inc(dropped)
        self.metrics.fan_out.observe(time.perf_counter() - started)

    def _sent_to_many(self, frame: Broadcast, clients: int) -> None:
        m = self.metrics
        m.message_sent(frame.kind).inc(clients)
        m.bytes.inc(len(frame.data) * clients)
        if frame.oldest_ingest_ms is not None:
            # One observation for the frame, not one per client: they all got it at once.
            m.latency.observe(max(0.0, (wall_ms() - frame.oldest_ingest_ms) / 1000))


class _HardenedConnection(ServerConnection):
    """A websockets connection with two holes closed: the error answers websockets writes
    itself (request line or headers too large, a malformed handshake: via
    ``ServerProtocol.reject``, never through ``process_request``) get the security headers,
    and a client that floods pings without reading the pongs is dropped."""

    def __init__(
        self,
        protocol: ServerProtocol,
        server: Server,
        *,
        on_flood: Callable[[], object] = lambda: None,
        **kwargs: object,
    ) -> None:
        super().__init__(protocol, server, **kwargs)  # type: ignore[arg-type]
        self._on_flood = on_flood
        reject = protocol.reject

        def reject_with_headers(status: object, text: str) -> Response:
            response = reject(status, text)  # type: ignore[arg-type]
            add_security_headers(response.headers)
            return response

        protocol.reject = reject_with_headers  # type: ignore[method-assign]
        self._unread_replies = 0

    def data_received(self, data: bytes) -> None:
        before = self.transport.get_write_buffer_size()
        super().data_received(data)
        if not self.paused:  # the transport's buffer is below its limit: the peer reads
            return
        self._unread_replies += max(0, self.transport.get_write_buffer_size() - before)
        if self._unread_replies > UNREAD_REPLIES_LIMIT and not self.transport.is_closing():
            log.warning(
                "closing websocket %s: it left %d bytes of pongs unread (ping flood)",
                _peer(self),
                self._unread_replies,
            )
            self._on_flood()
            self.transport.abort()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._unread_replies = 0


def _peer(conn: ServerConnection) -> str:
    address = conn.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
