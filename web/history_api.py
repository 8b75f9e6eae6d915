"""``GET /api/history/...`` (SPEC section 9): read-only JSON answers from the local history
index. Parameters are checked by pulseboard/history/params.py; queries run on a small pool
of threads (each with its own read-only connection) so the websocket pump never waits for
the disk. Too many queries at once get a 503, as a full server gets one for a websocket."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

import orjson
from websockets.http11 import Request, Response

from pulseboard.history import params
from pulseboard.history.params import ApiError
from pulseboard.history.store import HistoryReader, index_path
from web.routes import json_response

log = logging.getLogger("pulseboard.history")

PREFIX: Final = "/api/history/"
ENDPOINTS: Final = ("sessions", "state", "series", "callouts")


def answer(reader: HistoryReader, endpoint: str, query: str) -> dict[str, Any]:
    """The JSON object for one request, or ``ApiError``."""
    if endpoint == "sessions":
        params.parse_query(query, ())
        return {
            "sessions": [
                {"name": s.name, "from": s.t_from, "to": s.t_to, "records": s.records}
                for s in reader.sessions()
            ]
        }
    if endpoint == "state":
        q = params.parse_state(query)
        sid, info = _session(reader, q.session)
        params.check_in_range(info, q.t)
        return {"session": q.session, "t": q.t, "values": reader.state(sid, q.t)}
    if endpoint == "callouts":
        # The call-outs active at t (docs/history.md), with the parameters of a state.
        q = params.parse_state(query)
        sid, info = _session(reader, q.session)
        params.check_in_range(info, q.t)
        return {"session": q.session, "t": q.t, "callouts": reader.callouts(sid, q.t)}
    if endpoint == "series":
        s = params.parse_series(query)
        sid, info = _session(reader, s.session)
        params.check_in_range(info, s.t_from, "from")
        params.check_in_range(info, s.t_to, "to")
        nk = reader.series_id(sid, s.name, s.key)
        if nk is None:
            raise ApiError(404, f"unknown indicator {s.name}|{s.key[:64]} in session {s.session!r}")
        ts, vs = reader.series(sid, nk, s.name, s.t_from, s.t_to, s.step)
        return {"t": ts, "v": vs}
    raise ApiError(404, f"no such history request; use one of {', '.join(ENDPOINTS)}")


def _session(reader: HistoryReader, name: str) -> tuple[int, params.SessionRange]:
    found = reader.session(name)
    if found is None:
        raise params.unknown_session(name, [s.name for s in reader.sessions()])
    return found


class HistoryApi:
    """The history endpoints of one push server."""

    def __init__(
        self,
        directory: Path,
        is_ready: Callable[[], str | None],
        *,
        threads: int = 2,
        max_pending: int = 32,
    ) -> None:
        self.directory = directory
        # None when the index has caught up with the topic, else why it is not ready.
        self.is_ready = is_ready
        self.max_pending = max_pending
        self._pending = 0
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="pulseboard-history")
        self._readers: list[HistoryReader] = []
        self._lock = threading.Lock()

    def _reader(self) -> HistoryReader:
        # A rebuilt index is a new file: a connection to the old one would answer from it.
        inode = os.stat(index_path(self.directory)).st_ino
        reader = getattr(self._local, "reader", None)
        if reader is not None and self._local.inode != inode:
            with self._lock:
                self._readers.remove(reader)
            reader.close()
            reader = None
        if reader is None:
            reader = self._local.reader = HistoryReader(self.directory)
            self._local.inode = inode
            with self._lock:
                self._readers.append(reader)
        return reader

    def _answer(self, endpoint: str, query: str) -> tuple[int, dict[str, Any]]:
        try:
            return 200, answer(self._reader(), endpoint, query)
        except ApiError as exc:
            return exc.status, {"error": exc.message}
        except (OSError, sqlite3.Error) as exc:  # the index is being rebuilt, or the disk
            log.warning("history query failed: %s", exc)
            return 503, {"error": f"history index unavailable: {exc}"}

    async def respond(self, request: Request) -> Response:
        path, _, query = request.path.partition("?")
        endpoint = path[len(PREFIX) :]
        if endpoint not in ENDPOINTS:
            return _error(HTTPStatus.NOT_FOUND, f"no such history request {path[:80]!r}; "
                          f"use {', '.join(PREFIX + e for e in ENDPOINTS)}")  # fmt: skip
        why = self.is_ready()
        if why is None and not index_path(self.directory).exists():
            why = "the history index does not exist yet"
        if why is not None:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, f"history not ready: {why}")
        if self._pending >= self.max_pending:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "too many history requests at once")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            status, body = await loop.run_in_executor(self._pool, self._answer, endpoint, query)
        finally:
            self._pending -= 1
        return json_response(HTTPStatus(status), orjson.dumps(body))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()


def _error(status: HTTPStatus, message: str) -> Response:
    return json_response(status, orjson.dumps({"error": message}))
