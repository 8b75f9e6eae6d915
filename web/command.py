"""`pulseboard serve`: the push server and the wall page on one port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

from pulseboard.config import Config
from pulseboard.logs import configure_logging, log_start, log_stop, public_settings
from web.assets import STATIC_DIR, AssetsMissing, build_frontend
from web.harness import serving
from web.protocol import Limits, Timing
from web.server import ServeSettings

log = logging.getLogger("pulseboard.web")
_ERROR = {"event": "error"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d, lim, tim = ServeSettings(), Limits(), Timing()
    parser.add_argument(
        "--host",
        default=d.host,
        help=f"address to bind (default {d.host}; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port", type=int, default=d.port, help=f"HTTP and websocket port (default {d.port})"
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept websockets from pages at this origin, e.g. "
        "http://wall.example:8080 (repeatable; '*' for any). "
        "Default: this server on localhost only",
    )
    parser.add_argument(
        "--coalesce-hz",
        type=float,
        default=tim.coalesce_hz,
        help=f"most deltas per second to each client (default {tim.coalesce_hz})",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=tim.ping_interval_s,
        help=f"seconds between server pings (default {tim.ping_interval_s})",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=tim.stale_after_s,
        help=f"seconds without data before the page shows 'stale' (default {tim.stale_after_s})",
    )
    parser.add_argument(
        "--max-clients",
        type=int,
        default=d.max_clients,
        help=f"most concurrent websocket clients (default {d.max_clients})",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=lim.max_message_bytes,
        help=f"largest client message (default {lim.max_message_bytes})",
    )
    parser.add_argument(
        "--max-queue-frames",
        type=int,
        default=lim.max_queue_frames,
        help="frames queued for a slow client before it gets a snapshot "
        f"instead (default {lim.max_queue_frames})",
    )
    parser.add_argument(
        "--send-timeout",
        type=float,
        default=d.send_timeout_s,
        help=f"seconds a send may block before the client is dropped (default {d.send_timeout_s})",
    )
    parser.add_argument(
        "--client-timeout",
        type=float,
        default=lim.client_timeout_s,
        help="seconds without a client heartbeat before it is dropped; 0: never "
        f"(default {lim.client_timeout_s})",
    )
    parser.add_argument(
        "--socket-send-buffer",
        type=int,
        default=d.socket_send_buffer,
        help="kernel send buffer per client in bytes; bounds what a stalled client holds "
        f"(default {d.socket_send_buffer}; 0: the kernel's autotuning)",
    )
    parser.add_argument(
        "--compression",
        action="store_true",
        help="permessage-deflate (costs CPU per client; off by default)",
    )
    parser.add_argument(
        "--static-dir", type=Path, default=STATIC_DIR, help="the built page (default web/static)"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    for name in ("coalesce_hz", "ping_interval", "stale_after", "send_timeout"):
        if getattr(args, name) <= 0:
            raise SystemExit(f"pulseboard serve: --{name.replace('_', '-')} must be > 0")
    if not 0 <= args.port < 65536:
        raise SystemExit("pulseboard serve: --port must be 0..65535")
    return ServeSettings(
        host=args.host,
        port=args.port,
        timing=Timing(args.coalesce_hz, args.ping_interval, args.stale_after),
        limits=Limits(
            max_queue_frames=args.max_queue_frames,
            max_message_bytes=args.max_message_bytes,
            client_timeout_s=args.client_timeout,
        ),
        max_clients=args.max_clients,
        allow_origins=tuple(args.allow_origin),
        send_timeout_s=args.send_timeout,
        static_dir=args.static_dir,
        compression=args.compression,
        socket_send_buffer=args.socket_send_buffer,
    )


async def serve_until_stopped(settings: ServeSettings, config: Config) -> None:
    """Serve until SIGINT or SIGTERM (or the feed stops for good). The handlers that were
    there before are put back on the way out, so a caller's loop is left as it was."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        before = signal.getsignal(sig)
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
            previous[sig] = before
    try:
        async with serving(settings, config, stop=stop):
            await stop.wait()
    finally:
        for sig, before in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, before)


def run(args: argparse.Namespace, config: Config) -> int:
    configure_logging(config, args.log_level)
    # One line per websocket handshake is noise at a thousand clients.
    logging.getLogger("pulseboard.web.websockets").setLevel(logging.WARNING)
    settings = replace(settings_from_args(args), pack=config.pack)
    log_start(log, "serve", config, settings=public_settings(settings))
    if not (settings.static_dir / "index.html").is_file() and settings.static_dir == STATIC_DIR:
        try:
            build_frontend()
        except (AssetsMissing, subprocess.CalledProcessError) as exc:
            log.error("pulseboard serve: cannot build the wall page: %s", exc, extra=_ERROR)
            return 2
    try:
        asyncio.run(serve_until_stopped(settings, config))
    except AssetsMissing as exc:
        log.error("pulseboard serve: %s", exc, extra=_ERROR)
        return 2
    except OSError as exc:
        log.error(
            "pulseboard serve: cannot listen on %s:%d: %s",
            settings.host,
            settings.port,
            exc,
            extra=_ERROR,
        )
        return 2
    log_stop(log, "serve")
    return 0
