"""A /metrics endpoint for services that have no HTTP server of their own."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from pulseboard.config import ConfigError


def serve_metrics(
    registry: CollectorRegistry, port: int, host: str = "127.0.0.1"
) -> WSGIServer | None:
    """Serve `registry` on host:port in a background thread; port 0 disables it."""
    if port == 0:
        return None
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        # A port taken by another process is a setting to fix, not a crash to restart.
        raise ConfigError(
            f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); "
            "choose a free port with --metrics-port (0 disables metrics)"
        ) from None
    return server
