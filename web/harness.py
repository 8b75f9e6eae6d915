"""A push server with its Kafka reader, as one async context: for `pulseboard serve`,
the tests and the benchmark alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pulseboard.config import Config
from pulseboard.history.indexer import IndexStatus, follow_history_forever
from web.anomaly_feed import AnomalySink, follow_anomalies_forever
from web.feed import FeedSink, follow_forever
from web.history_api import HistoryApi
from web.metrics import WebMetrics
from web.server import PushServer, ServeSettings


@contextlib.asynccontextmanager
async def serving(
    settings: ServeSettings,
    config: Config | None,
    metrics: WebMetrics | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[PushServer]:
    """Listen, follow the indicators topic (none if ``config`` is None: the caller feeds
    ``server.ingest`` itself), and close both on exit.

    The reader retries an unreachable cluster by itself; if it stops for good (a missing
    topic, refused credentials, ``--connect-timeout`` spent) ``stop`` is set and its error
    is raised on exit, so `pulseboard serve` fails with a message instead of serving an
    empty wall for ever."""
    server = PushServer(settings, metrics)
    await server.start()
    feed = history = anomalies = None
    if config is not None:
        sink = FeedSink(server.ingest, server.mark_ready, server.bad_record)
        feed = asyncio.create_task(follow_forever(config, sink), name="pulseboard-web-feed")
        if stop is not None:
            feed.add_done_callback(lambda _: stop.set())
        # The history index (docs/history.md). If it cannot run (e.g. no history topic on
        # an older cluster), the wall still shows the present; the API says why not.
        status = IndexStatus()
        server.history = HistoryApi(config.history_index_dir, status.not_ready)
        history = asyncio.create_task(
            follow_history_forever(config, config.history_index_dir, status),
            name="pulseboard-web-history",
        )
        history.add_done_callback(lambda task: _history_stopped(task, status))
        # The call-outs (docs/push-protocol.md): without them the wall still shows levels.
        anomalies = asyncio.create_task(
            follow_anomalies_forever(
                config, AnomalySink(server.ingest_anomaly, server.bad_anomaly)
            ),
            name="pulseboard-web-anomalies",
        )
    failure: BaseException | None = None
    try:
        yield server
    finally:
        if anomalies is not None:
            anomalies.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await anomalies
        if history is not None:
            history.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await history
        if server.history is not None:
            server.history.close()
        if feed is not None:
            if feed.done():
                failure = None if feed.cancelled() else feed.exception()
            else:
                feed.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed
        await server.close()
    if failure is not None:
        raise failure


def _history_stopped(task: asyncio.Task[None], status: IndexStatus) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        status.ready = False
        status.why = f"the history index stopped: {exc}"
        logging.getLogger("pulseboard.history").error(
            "history: %s; the wall still serves the present", exc, extra={"event": "error"}
        )
