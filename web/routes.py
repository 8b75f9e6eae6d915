"""HTTP answers for everything that is not the websocket: the page, its assets, health,
readiness and metrics, each with strict security headers; and the websocket admission
rules (path, origin allow-list, connection limit)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from web.assets import StaticAssets
from web.metrics import WebMetrics

log = logging.getLogger("pulseboard.web")

WS_PATH: Final = "/ws"

# No inline script or style, nothing from another origin; the websocket is same-origin
# ('self' covers ws: and wss: to the same host in CSP Level 3).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=()"),
)


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """Which pages may open the websocket. Browsers always send Origin; tools that send
    none (benchmarks, probes) are allowed since the data is what the wall shows anyway."""

    allowed: frozenset[str]
    allow_any: bool = False

    @classmethod
    def localhost(cls, port: int, extra: tuple[str, ...] = ()) -> OriginPolicy:
        local = {f"http://{h}:{port}" for h in ("localhost", "127.0.0.1", "[::1]")}
        extra_set = {o.rstrip("/") for o in extra if o != "*"}
        return cls(frozenset(local | extra_set), allow_any="*" in extra)

    def permits(self, origin: str | None) -> bool:
        return origin is None or self.allow_any or origin in self.allowed


def add_security_headers(headers: Headers) -> None:
    """Stamp the security headers on a response, replacing any of the same name (also used
    for the errors websockets writes itself, which never reach the router)."""
    for name, value in SECURITY_HEADERS:
        if name in headers:
            del headers[name]
        headers[name] = value


def _response(
    status: HTTPStatus,
    body: bytes,
    content_type: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> Response:
    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    for name, value in SECURITY_HEADERS + extra:
        headers[name] = value
    return Response(status.value, status.phrase, headers, body)


def without_body(response: Response) -> Response:
    # A HEAD answer keeps the GET answer's headers (Content-Length included) but no body:
    # bytes after the head would be read by the client as the start of another response.
    return Response(response.status_code, response.reason_phrase, response.headers, b"")


def json_response(status: HTTPStatus, body: bytes) -> Response:
    return _response(status, body, "application/json", (("Cache-Control", "no-store"),))


def text_response(status: HTTPStatus, text: str) -> Response:
    return _response(
        status, text.encode(), "text/plain; charset=utf-8", (("Cache-Control", "no-store"),)
    )


@dataclass(slots=True)
class Router:
    assets: StaticAssets
    metrics: WebMetrics
    origins: OriginPolicy
    max_clients: int
    is_ready: Callable[[], bool]
    client_count: Callable[[], int]

    def route(self, request: Request, peer: str) -> Response | None:
        """A response, or None to let the websocket handshake proceed."""
        method = getattr(request, "method", "GET")
        if method not in ("GET", "HEAD"):
            return _response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                b"read-only\n",
                "text/plain; charset=utf-8",
                (("Allow", "GET, HEAD"), ("Cache-Control", "no-store")),
            )
        response = self._get(request, peer)
        if method == "HEAD" and response is not None:
            return without_body(response)
        return response

    def _get(self, request: Request, peer: str) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            return self._admit(request, peer)
        if path == "/healthz":
            return text_response(HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self.is_ready():
                return text_response(HTTPStatus.OK, "ready\n")
            return text_response(
                HTTPStatus.SERVICE_UNAVAILABLE, "not ready: reading the indicator state\n"
            )
        if path == "/metrics":
            return _response(
                HTTPStatus.OK,
                generate_latest(self.metrics.registry),
                CONTENT_TYPE_LATEST,
                (("Cache-Control", "no-store"),),
            )
        return self._static(request, path)

    def _admit(self, request: Request, peer: str) -> Response | None:
        if "upgrade" not in request.headers.get("Connection", "").lower():
            return text_response(HTTPStatus.UPGRADE_REQUIRED, "websocket only\n")
        origin = request.headers.get("Origin")
        if not self.origins.permits(origin):
            self.metrics.rejected.labels("origin").inc()
            log.warning(
                "refused websocket from %s: origin %r is not allowed (allowed: %s; add it "
                "with --allow-origin)",
                peer,
                origin,
                ", ".join(sorted(self.origins.allowed)),
            )
            return text_response(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if self.client_count() >= self.max_clients:
            self.metrics.rejected.labels("limit").inc()
            log.warning(
                "refused websocket from %s: %d clients connected, the limit is %d "
                "(raise it with --max-clients)",
                peer,
                self.client_count(),
                self.max_clients,
            )
            return text_response(HTTPStatus.SERVICE_UNAVAILABLE, "too many clients\n")
        return None

    def _static(self, request: Request, path: str) -> Response:
        asset = self.assets.get(path)
        if asset is None:
            return text_response(HTTPStatus.NOT_FOUND, "not found\n")
        cache = (("Cache-Control", "no-cache"), ("ETag", asset.etag), ("Vary", "Accept-Encoding"))
        if request.headers.get("If-None-Match") == asset.etag:
            response = _response(HTTPStatus.NOT_MODIFIED, b"", asset.content_type, cache)
            del response.headers["Content-Length"]
            return response
        accepts = request.headers.get("Accept-Encoding", "")
        if asset.gzipped is not None and "gzip" in accepts:
            return _response(
                HTTPStatus.OK,
                asset.gzipped,
                asset.content_type,
                (*cache, ("Content-Encoding", "gzip")),
            )
        return _response(HTTPStatus.OK, asset.body, asset.content_type, cache)
