"""The wall page in Chromium for the browser tests: the fake aggregator started and stopped
at will, and a page that records (and refuses) anything it should not do."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from playwright.async_api import Browser

from pulseboard.config import Config
from web.fake_feed import run_feed


@dataclass
class Feed:
    """The fake aggregator, started and stopped at will."""

    config: Config
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    def start(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run_feed(self.config, rate_hz=4, stop=self.stop))

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


@dataclass
class Watch:
    """Everything the page did that it should not have."""

    port: int
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def local(self, url: str) -> bool:
        return url.startswith((f"http://127.0.0.1:{self.port}/", f"ws://127.0.0.1:{self.port}/"))


async def open_wall(browser: Browser, port: int, query: str, width: int, height: int):
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    watch = Watch(port)
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))
    page.on("websocket", lambda ws: None if watch.local(ws.url) else watch.external.append(ws.url))

    async def outside(route) -> None:
        watch.external.append(route.request.url)
        await route.abort()

    # Anything not from this server is recorded and refused (data: URLs never get here).
    await context.route(re.compile(rf"^(?!http://127\.0\.0\.1:{port}/)"), outside)
    await page.goto(f"http://127.0.0.1:{port}/{query}")
    return page, watch
