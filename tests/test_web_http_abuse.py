"""HTTP abuse against the real push server: paths that try to leave the build, methods it
does not serve, oversized and malformed requests, and slowloris handshakes. After each the
server must still serve a normal client."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import orjson
import pytest
from support import rows_of, serve_settings
from web_raw import exchange, http, ready_server, request
from websockets.asyncio.client import connect

from web.indicators import Indicator
from web.routes import SECURITY_HEADERS


def assert_secured(headers: dict[str, str]) -> None:
    for name, value in SECURITY_HEADERS:
        assert headers.get(name.lower()) == value, (name, headers)


async def assert_healthy(port: int) -> None:
    answer = await http(port, "/healthz")
    assert (answer.status, answer.body) == (200, b"ok\n")


# ------------------------------------------------------------------------ paths


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A build with a secret next to it, and symlinks pointing out of it and within it."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>x</title>")
    (site / "ok.txt").write_text("fine")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    (site / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (site / "outside").symlink_to(tmp_path, target_is_directory=True)
    (site / "alias.txt").symlink_to(site / "ok.txt")
    return site


def traversal_targets(root: Path) -> list[str]:
    secret = root / "secret.txt"
    return [
        "/%2e%2e%2fsecret.txt",
        "/%2E%2E/secret.txt",
        "/%252e%252e%252fsecret.txt",  # double encoding
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/./../secret.txt",
        "/ok.txt/../../secret.txt",
        ";/../secret.txt",
        str(secret),  # absolute file system path
        "/" + str(secret),
        "/%2f" + str(secret).lstrip("/").replace("/", "%2f"),
        f"http://127.0.0.1{secret}",  # absolute-form request target
        f"file://{secret}",
        "/leak.txt",  # a symlink out of the build
        "/outside/secret.txt",  # a directory symlink out of the build
        "/outside/site/ok.txt",
        "/ok.txt\x00",  # a raw NUL byte
        "/ok.txt%00.html",
        "/etc/passwd",
        "*",
    ]


async def test_no_path_reaches_outside_the_build(site):
    async with ready_server(serve_settings(site)) as s:
        ok = await http(s.port, "/ok.txt")
        assert (ok.status, ok.body) == (200, b"fine")
        # A symlink that stays inside the build is just another name for a file in it.
        assert (await http(s.port, "/alias.txt")).body == b"fine"
        for target in traversal_targets(site.parent):
            answer = await http(s.port, target)
            assert answer.status in (None, 400, 404), (target, answer)
            assert b"SECRET" not in answer.body and b"root:" not in answer.body, target
            if answer.status is not None:
                assert_secured(answer.headers)
        await assert_healthy(s.port)


# ---------------------------------------------------------------------- methods


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "get"]
)
async def test_other_methods_get_405_with_allow(static_dir, method):
    async with ready_server(serve_settings(static_dir)) as s:
        for target in ("/", "/healthz", "/ws", "/nope"):
            answer = await http(s.port, target, method=method)
            assert answer.status == 405, (method, target, answer)
            assert answer.headers["allow"] == "GET, HEAD"
            assert_secured(answer.headers)
        connect_answer = await exchange(s.port, request("CONNECT", "127.0.0.1:22"))
        assert connect_answer.status == 405


async def test_requests_with_a_body_are_closed_without_an_answer(static_dir):
    """websockets reads no request bodies; it closes instead of leaving the body to be
    parsed as the next request (request smuggling)."""
    async with ready_server(serve_settings(static_dir)) as s:
        for raw in (
            request("POST", "/", "Content-Length: 5") + b"hello",
            request("POST", "/", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n",
            request("GET", "/", "Content-Length: 5", "Content-Length: 0") + b"hello",
        ):
            answer = await exchange(s.port, raw)
            assert answer.status is None and answer.body == b"", raw
        await assert_healthy(s.port)


async def test_head_answers_headers_without_a_body(static_dir):
    async with ready_server(serve_settings(static_dir)) as s:
        get = await http(s.port, "/app.js")
        head = await http(s.port, "/app.js", method="HEAD")
        assert head.status == 200 and head.body == b""
        assert head.headers["content-length"] == str(len(get.body))
        assert head.headers["etag"] == get.headers["etag"]
        assert_secured(head.headers)


# ------------------------------------------------------------ malformed and large


async def test_oversized_request_lines_and_headers_are_refused(static_dir):
    async with ready_server(serve_settings(static_dir)) as s:
        long_line = await http(s.port, "/" + "a" * 10_000)
        assert long_line.status == 414
        long_header = await http(s.port, "/", "X-Big: " + "b" * 10_000)
        assert long_header.status == 431
        many = await http(s.port, "/", *(f"X-{i}: {i}" for i in range(200)))
        assert many.status == 431
        for answer in (long_line, long_header, many):
            assert_secured(answer.headers)
            assert answer.headers["connection"] == "close"
        await assert_healthy(s.port)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS ClientHello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # HTTP/2 preface
        b"GET /\r\n\r\n",  # HTTP/0.9
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",  # not ASCII
        b"\r\n\r\n\r\n",
        b"G",  # and nothing more
    ],
)
async def test_malformed_requests_are_closed_and_the_server_carries_on(static_dir, raw):
    """Closed at once, or (a request line that never ends) at the open timeout."""
    async with ready_server(serve_settings(static_dir, open_timeout_s=1.0)) as s:
        answer = await exchange(s.port, raw, timeout=5.0)
        assert answer.status in (None, 400), answer
        if answer.status is not None:
            assert_secured(answer.headers)
        await assert_healthy(s.port)


# -------------------------------------------------------------------- slowloris


async def test_slowloris_is_cut_off_and_normal_clients_are_served_meanwhile(static_dir):
    open_timeout = 2.0
    async with ready_server(serve_settings(static_dir, open_timeout_s=open_timeout)) as s:
        loop = asyncio.get_running_loop()

        async def trickle(target: str) -> float:
            """Send a request a byte at a time and never finish it; seconds until the
            server hangs up."""
            reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
            opened = loop.time()
            endless = request("GET", target, "Upgrade: websocket")[:-2] + b"X-Pad: " + b"a" * 10**6
            try:
                for byte in endless:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    # The short read paces the trickle and notices the hang-up at once.
                    with contextlib.suppress(TimeoutError):
                        if await asyncio.wait_for(reader.read(1), 0.05) == b"":
                            break
            except ConnectionError:
                pass
            finally:
                writer.close()
            return loop.time() - opened

        async def silent() -> float:
            """Open TCP and send nothing at all."""
            reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
            opened = loop.time()
            with contextlib.suppress(ConnectionError):
                await reader.read()
            writer.close()
            return loop.time() - opened

        attackers = [asyncio.create_task(trickle(t)) for t in ("/", "/ws") * 10]
        attackers += [asyncio.create_task(silent()) for _ in range(10)]

        # A normal page load and a websocket client, while all of them hang on.
        page = await http(s.port, "/")
        assert page.status == 200
        async with connect(f"ws://127.0.0.1:{s.port}/ws") as ws:
            assert orjson.loads(await ws.recv())["type"] == "snapshot"
            ids: dict[int, tuple[str, str]] = {}
            s.ingest(Indicator("shipments_1m", "520000", 7, 100, False))
            while (msg := orjson.loads(await ws.recv()))["type"] != "delta":
                pass
            assert rows_of(msg, "changes", ids)["shipments_1m"] == [["520000", 7, 100, False]]
            assert not any(a.done() for a in attackers), "served only after they were cut off"

            held = await asyncio.wait_for(asyncio.gather(*attackers), open_timeout + 10)
            # Cut off by the open timeout: not before it, and not long after it (the slack
            # is for a loaded 2-core machine).
            assert min(held) >= open_timeout * 0.9, held
            assert max(held) <= open_timeout + 3, held
            # The websocket client, whose handshake finished, is not subject to it.
            s.ingest(Indicator("shipments_1m", "520000", 8, 101, False))
            while (msg := orjson.loads(await ws.recv()))["type"] != "delta":
                pass
            assert rows_of(msg, "changes", ids)["shipments_1m"][0][1] == 8
        await assert_healthy(s.port)
