"""Every HTTP answer of the push server carries the security headers: the page and its
assets, health, readiness, metrics, and every error (including the ones websockets writes
itself for malformed requests)."""

from __future__ import annotations

import re

from support import serve_settings
from web_raw import RawResponse, http
from websockets.asyncio.client import connect

from web.harness import serving
from web.routes import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

WS = ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13")
KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def test_the_policy_allows_nothing_inline_and_no_other_origin():
    csp = directives(CONTENT_SECURITY_POLICY)
    assert csp["default-src"] in (["'none'"], ["'self'"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    for name, sources in csp.items():
        for source in sources:
            # Only keywords, and data: for images; no scheme or host of any origin, no
            # inline or eval escape hatch.
            assert source in ("'self'", "'none'") or (name, source) == ("img-src", "data:"), (
                name,
                source,
            )
    # Scripts and styles: same origin only (no 'unsafe-inline', nonces or hashes).
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    headers = dict(SECURITY_HEADERS)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    # Every feature named is switched off for everyone.
    for feature in headers["Permissions-Policy"].split(","):
        assert re.fullmatch(r"\s*[a-z-]+=\(\)", feature), feature


def test_the_page_has_no_inline_script_style_or_remote_reference(static_dir):
    page = (static_dir / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script is a file
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


async def test_every_answer_carries_the_security_headers(static_dir):
    async with serving(serve_settings(static_dir, max_clients=1), None) as s:
        p = s.port
        answers: dict[str, RawResponse] = {"/readyz not ready": await http(p, "/readyz")}
        s.mark_ready()
        etag = (await http(p, "/app.js")).headers["etag"]
        answers |= {
            "/": await http(p, "/"),
            "/index.html": await http(p, "/index.html"),
            "/?lang=en": await http(p, "/?lang=en"),
            "/app.js": await http(p, "/app.js"),
            "/app.js gzip": await http(p, "/app.js", "Accept-Encoding: gzip"),
            "/app.js 304": await http(p, "/app.js", f"If-None-Match: {etag}"),
            "/style.css": await http(p, "/style.css"),
            "HEAD /": await http(p, "/", method="HEAD"),
            "/healthz": await http(p, "/healthz"),
            "/readyz": await http(p, "/readyz"),
            "/metrics": await http(p, "/metrics"),
            "404": await http(p, "/missing.js"),
            "405": await http(p, "/", method="DELETE"),
            "426 /ws without upgrade": await http(p, "/ws"),
            "403 origin": await http(p, "/ws", *WS, KEY, "Origin: http://evil.example"),
            "400 no key": await http(p, "/ws", *WS),
            "400 bad version": await http(p, "/ws", *WS[:2], KEY, "Sec-WebSocket-Version: 8"),
            "414": await http(p, "/" + "x" * 9000),
            "431": await http(p, "/", "X-Big: " + "y" * 9000),
        }
        async with connect(f"ws://127.0.0.1:{p}/ws") as ws:
            await ws.recv()
            answers["503 limit"] = await http(p, "/ws", *WS, KEY)
    statuses = {name: a.status for name, a in answers.items()}
    assert statuses == {
        "/readyz not ready": 503,
        "/": 200,
        "/index.html": 200,
        "/?lang=en": 200,
        "/app.js": 200,
        "/app.js gzip": 200,
        "/app.js 304": 304,
        "/style.css": 200,
        "HEAD /": 200,
        "/healthz": 200,
        "/readyz": 200,
        "/metrics": 200,
        "404": 404,
        "405": 405,
        "426 /ws without upgrade": 426,
        "403 origin": 403,
        "400 no key": 400,
        "400 bad version": 400,
        "414": 414,
        "431": 431,
        "503 limit": 503,
    }
    for name, answer in answers.items():
        for header, value in SECURITY_HEADERS:
            assert answer.headers.get(header.lower()) == value, (name, header, answer.headers)
            # One copy of each: browsers enforce every CSP they get, and some ignore an
            # X-Frame-Options that is repeated.
            assert answer.names.count(header.lower()) == 1, (name, header)
