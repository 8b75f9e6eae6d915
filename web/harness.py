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
    settings: ServeSettings, config: Config | None, metrics: WebMetrics | None = None
) -> AsyncIterator[PushServer]:
    """Listen, follow the indicators topic (none if ``config`` is None: the caller feeds
    ``server.ingest`` itself), and close both on exit."""
    server = PushServer(settings, metrics)
    await server.start()
    feed = None
    if config is not None:
        sink = FeedSink(server.ingest, server.mark_ready, server.bad_record)
        feed = asyncio.create_task(follow_forever(config, sink), name="pulseboard-web-feed")
    try:
        yield server
    finally:
        if feed is not None:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
        await server.close()
