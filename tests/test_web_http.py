"""The push server over real sockets, fed directly (no Kafka): HTTP routes, security
headers, static files, websocket admission, slow and misbehaving clients."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections.abc import AsyncIterator

import orjson
import pytest
from support import rows_of, serve_settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from web.assets import StaticAssets
from web.harness import serving
from web.indicators import Indicator
from web.protocol import Limits, Timing
from web.routes import CONTENT_SECURITY_POLICY
from web.server import PushServer, ServeSettings


@contextlib.asynccontextmanager
async def server(settings: ServeSettings, ready: bool = True) -> AsyncIterator[PushServer]:
    async with serving(settings, None) as s:
        if ready:
            s.mark_ready()
        yield s


async def http_get(
    port: int, target: str, headers: dict[str, str] | None = None, method: str = "GET"
):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(status_line.split()[1]), hdrs, body


async def test_the_page_and_its_assets_are_served_with_strict_headers(static_dir):
    async with server(serve_settings(static_dir)) as s:
        status, headers, body = await http_get(s.port, "/?lang=en")
        assert status == 200 and b'<script src="/app.js" defer></script>' in body
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        assert "http" not in CONTENT_SECURITY_POLICY  # no remote origin anywhere
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        status, headers, body = await http_get(s.port, "/app.js", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-encoding"] == "gzip"
        assert headers["content-type"].startswith("text/javascript")
        app = gzip.decompress(body)
        assert app == (static_dir / "app.js").read_bytes()
        status, _, _ = await http_get(s.port, "/app.js", {"If-None-Match": headers["etag"]})
        assert status == 304
        status, headers, _ = await http_get(s.port, "/style.css")
        assert status == 200 and headers["content-type"] == "text/css; charset=utf-8"
        assert headers["server"] == "pulseboard"  # no version banner
        assert (await http_get(s.port, "/", method="POST"))[0] == 405


async def test_health_readiness_and_metrics(static_dir):
    async with server(serve_settings(static_dir), ready=False) as s:
        assert (await http_get(s.port, "/healthz"))[0] == 200
        status, _, body = await http_get(s.port, "/readyz")
        assert status == 503 and b"not ready" in body
        s.mark_ready()
        assert (await http_get(s.port, "/readyz"))[0] == 200
        status, headers, body = await http_get(s.port, "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        for name in (
            "pulseboard_web_clients_connected", "pulseboard_web_messages_sent_total",
            "pulseboard_web_sent_bytes_total", "pulseboard_web_snapshots_sent_total",
            "pulseboard_web_updates_coalesced_total", "pulseboard_web_updates_dropped_total",
            "pulseboard_web_end_to_end_latency_seconds_bucket", "pulseboard_web_ready 1.0",
        ):  # fmt: skip
            assert name.encode() in body


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "//secret.txt",
        "/static/../../secret.txt",
        "/.build-stamp",
        "/index.html/..",
        "/app.js%00.html",
        "/C:\\secret.txt",
    ],
)
async def test_static_files_cannot_escape_the_build(tmp_path, target):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>x</title>")
    (site / ".build-stamp").write_text("x")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    async with server(serve_settings(site)) as s:
        status, _, body = await http_get(s.port, target)
        assert status in (400, 404)
        assert b"SECRET" not in body


async def test_websocket_origin_allow_list_and_connection_limit(static_dir, caplog):
    async with server(
        serve_settings(static_dir, max_clients=2, allow_origins=("http://wall:9",))
    ) as s:
        url = f"ws://127.0.0.1:{s.port}/ws"
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, origin="http://evil.example")
        assert refused.value.response.status_code == 403
        assert "origin 'http://evil.example' is not allowed" in caplog.text
        a = await connect(url, origin=f"http://localhost:{s.port}")
        b = await connect(url, origin="http://wall:9")
        assert orjson.loads(await a.recv())["type"] == "snapshot"
        assert orjson.loads(await b.recv())["type"] == "snapshot"
        with pytest.raises(InvalidStatus) as full:
            await connect(url)
        assert full.value.response.status_code == 503
        assert "the limit is 2" in caplog.text
        await a.close()
        await b.close()


async def test_snapshot_deltas_pings_and_resync_over_a_real_socket(static_dir):
    timing = Timing(coalesce_hz=20, ping_interval_s=0.3, stale_after_s=10)
    async with server(serve_settings(static_dir, timing=timing)) as s:
        s.ingest(Indicator("shipments_1m", "520000", 1, 100, False))
        async with connect(f"ws://127.0.0.1:{s.port}/ws") as ws:
            snap = orjson.loads(await ws.recv())
            first = snap["seq"]  # the last broadcast (a ping) it includes
            ids: dict[int, tuple[str, str]] = {}
            assert rows_of(snap, "values", ids) == {"shipments_1m": [["520000", 1, 100, False]]}
            s.ingest(Indicator("shipments_1m", "520000", 2, 101, False, 5))
            seen = [orjson.loads(await ws.recv()) for _ in range(2)]
            kinds = {m["type"]: m for m in seen}
            assert rows_of(kinds["delta"], "changes", ids) == {
                "shipments_1m": [["520000", 2, 101, False]]
            }
            assert kinds["delta"]["ingest_ts"] == 5
            assert "ping" in kinds
            assert [m["seq"] for m in seen] == [first + 1, first + 2]
            await ws.send('{"type":"heartbeat"}')
            await ws.send("garbage")
            await ws.send('{"type":"resync"}')
            while (msg := orjson.loads(await ws.recv()))["type"] != "snapshot":
                pass
            assert rows_of(msg, "values")["shipments_1m"][0][1] == 2


async def test_abusive_clients_are_closed_and_the_server_stays_up(static_dir):
    limits = Limits(max_message_bytes=256, max_invalid_messages=2)
    async with server(serve_settings(static_dir, limits=limits)) as s:
        url = f"ws://127.0.0.1:{s.port}/ws"
        async with connect(url) as big:
            await big.recv()
            await big.send("x" * 10_000)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await big.recv()
            assert closed.value.rcvd.code == 1009
        async with connect(url) as noisy:
            await noisy.recv()
            for _ in range(3):
                await noisy.send(b"\x00\x01")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await noisy.recv()
            assert closed.value.rcvd.code == 1008
        async with connect(url) as fine:
            assert orjson.loads(await fine.recv())["type"] == "snapshot"


async def test_compressed_and_plain_clients_of_one_server_get_the_same_deltas(static_dir):
    """In-step clients are written a frame encoded once for all; one that negotiated
    compression is written through websockets' encoder. Both get every delta whole."""
    async with server(serve_settings(static_dir, compression=True)) as s:
        url = f"ws://127.0.0.1:{s.port}/ws"
        async with (
            connect(url, compression="deflate") as packed,
            connect(url, compression=None) as plain,
        ):
            assert packed.protocol.extensions and not plain.protocol.extensions
            walls = {"packed": packed, "plain": plain}
            ids = {name: {} for name in walls}
            for name, ws in walls.items():
                rows_of(orjson.loads(await ws.recv()), "values", ids[name])
            for v in range(1, 4):
                s.ingest(Indicator("shipments_1m", "520000", v, 100 + v, False, 7))
                for name, ws in walls.items():
                    msg = orjson.loads(await ws.recv())
                    while msg["type"] != "delta":
                        msg = orjson.loads(await ws.recv())
                    got = rows_of(msg, "changes", ids[name])
                    assert got == {"shipments_1m": [["520000", v, 100 + v, False]]}, name
                    assert msg["ingest_ts"] == 7
        # each of the three deltas was one timed pass over the clients
        passes = s.metrics.registry.get_sample_value("pulseboard_web_broadcast_seconds_count")
        assert passes >= 3


async def test_a_stuck_client_does_not_delay_the_others(static_dir):
    """A client that stops reading fills its socket, then its bounded queue; the others
    keep getting every delta on time, and the stuck one is dropped after send_timeout."""
    limits = Limits(max_queue_frames=4)
    opts = serve_settings(
        static_dir,
        limits=limits,
        send_timeout_s=1.0,
        socket_send_buffer=16384,
        timing=Timing(200, 5, 10),
    )
    async with server(opts) as s:
        url = f"ws://127.0.0.1:{s.port}/ws"
        # A tiny receive buffer and no reading: the server's sends block quickly.
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", s.port))
        stuck.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        async with connect(url) as good:
            ids: dict[int, tuple[str, str]] = {}
            rows_of(orjson.loads(await good.recv()), "values", ids)
            # Big keys make frames big, so the stuck socket fills fast; a key goes out once
            # (with its id), so every value has a new one.
            pad = "x" * 1000
            loop = asyncio.get_running_loop()
            worst = 0.0
            for v in range(1, 201):
                sent = loop.time()
                s.ingest(Indicator("shipments_1m", pad + str(v), v, 100 + v, False))
                msg = orjson.loads(await good.recv())
                while msg["type"] != "delta":
                    msg = orjson.loads(await good.recv())
                worst = max(worst, loop.time() - sent)
                assert rows_of(msg, "changes", ids)["shipments_1m"][0][1] == v
            assert worst < 0.5
            registry = s.metrics.registry
            assert registry.get_sample_value("pulseboard_web_updates_dropped_total") > 0
            # ...and it is dropped once a send has blocked for send_timeout_s.
            await asyncio.wait_for(s.wait_for_clients(1), 10)
            assert (
                registry.get_sample_value(
                    "pulseboard_web_connections_closed_by_server_total",
                    {"reason": "send timed out"},
                )
                == 1
            )
        stuck.close()


def test_the_build_id_follows_the_files(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "app.js").write_text("1")
    first = StaticAssets.load(tmp_path).build_id
    assert StaticAssets.load(tmp_path).build_id == first
    (tmp_path / "app.js").write_text("2")
    assert StaticAssets.load(tmp_path).build_id != first
