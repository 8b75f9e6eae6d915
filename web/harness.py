"""A push server with its Kafka reader, as one async context: for `pulseboard serve`,
the tests and the benchmark alike."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from pulseboard.config import Config
from web.feed import FeedSink, follow_forever
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
    feed = None
    if config is not None:
        sink = FeedSink(server.ingest, server.mark_ready, server.bad_record)
        feed = asyncio.create_task(follow_forever(config, sink), name="pulseboard-web-feed")
        if stop is not None:
            feed.add_done_callback(lambda _: stop.set())
    failure: BaseException | None = None
    try:
        yield server
    finally:
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
