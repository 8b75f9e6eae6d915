"""The wall page in real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; no browser is ever downloaded), served by the push server on the real broker
with the fake indicator feed."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, async_playwright, expect
from support import serve_settings
from wall_browser import Feed, open_wall

from pulseboard.config import Config
from pulseboard.topics import ensure_topics
from web.assets import STATIC_DIR
from web.chromium import CHROMIUM, CHROMIUM_ARGS
from web.fake_feed import publish, run_feed
from web.harness import serving
from web.protocol import Timing
from web.server import PushServer, ServeSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def browser(static_dir: Path) -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/setup --test does)"
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        await b.close()


@pytest.fixture
async def topic_config(kafka_config: Config) -> Config:
    prefix = f"wall-{uuid.uuid4().hex[:8]}."
    config = replace(kafka_config, kafka=replace(kafka_config.kafka, topic_prefix=prefix))
    await ensure_topics(config)
    return config


async def wait_live(page: Page, samples: int = 5) -> None:
    await expect(page.locator("#badge")).to_have_attribute("data-state", "live", timeout=20_000)
    # A few seconds of data so charts and sparklines (a sample a second) have a shape.
    # (wait_for_function would need 'unsafe-eval', which the page's CSP rightly refuses.)
    spark = page.locator("[data-kpi=shipments_1m] polyline")
    pattern = re.compile(rf"^(\S+ ){{{samples - 1},}}\S+$")
    await expect(spark).to_have_attribute("points", pattern, timeout=20_000)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: a temporary folder (docs/screenshot.png is refreshed by
    scripts/screenshot, never by a test)."""
    return tmp_path_factory.mktemp("screenshots")


async def screenshot(page: Page, target: Path, width: int, height: int) -> None:
    """A screenshot of the page, checked to be a PNG of the viewport's size."""
    await page.screenshot(path=str(target))
    png = target.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    size = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))  # IHDR
    assert size == (width, height)


def settings(port: int = 0) -> ServeSettings:
    return serve_settings(STATIC_DIR, port=port, timing=Timing(4, 1, 10))


@contextlib.asynccontextmanager
async def wall_server(config: Config, port: int = 0) -> AsyncIterator[PushServer]:
    async with serving(settings(port), config) as server:
        await asyncio.wait_for(server.ready_event.wait(), 30)
        yield server


async def test_the_wall_goes_live_follows_the_feed_and_survives_a_restart(
    browser, topic_config, shots
):
    feed = Feed(topic_config)
    feed.start()
    async with wall_server(topic_config) as server:
        port = server.port
        page, watch = await open_wall(browser, port, "?lang=en&stale=2", 1920, 1080)
        await wait_live(page)
        assert await page.locator("h1").text_content() == "Guizhou Pulse"
        freight = page.locator("[data-kpi=freight_value_today] .value")
        await expect(freight).to_have_text(re.compile(r"^¥\d"))
        await expect(page.locator(".corridors li").first).to_contain_text("→")
        await screenshot(page, shots / "wall-1920x1080-en.png", 1920, 1080)

        # A value published to Kafka shows up on the wall, animated to its exact figure.
        later = int(time.time()) + 3600  # newer than anything the feed will send
        await publish(
            topic_config,
            [{"t": later, "name": "shipments_1m", "key": "520000", "value": 4321,
              "final": False}],
        )  # fmt: skip
        tile = page.locator("[data-kpi=shipments_1m] .value")
        await expect(tile).to_have_attribute("data-target", "4321", timeout=10_000)
        await expect(tile).to_have_text("4,321", timeout=5_000)

        # The feed stops: the badge says so.
        await feed.halt()
        await expect(page.locator("#badge")).to_have_attribute("data-state", "stale",
                                                               timeout=10_000)  # fmt: skip
        assert watch.errors == [] and watch.external == []

    # The server goes away and comes back on the same port; the feed resumes.
    await expect(page.locator("#badge .detail")).to_have_text("reconnecting", timeout=10_000)
    async with wall_server(topic_config, port):
        feed.start()
        try:
            # At least one fresh snapshot after the restart: the server accepts the page
            # while it is still reading Kafka (a not-ready snapshot), then sends another
            # once it is ready, so it may be two.
            await expect(page.locator("body")).to_have_attribute(
                "data-snapshots", re.compile(r"^([2-9]|\d{2,})$"), timeout=30_000
            )
            await expect(page.locator("#badge")).to_have_attribute("data-state", "live",
                                                                   timeout=15_000)  # fmt: skip
            await expect(tile).to_have_text("4,321")
        finally:
            await feed.halt()
    # While the server was down, Chromium logs each refused reconnection attempt.
    refused = re.compile(rf"WebSocket connection to 'ws://127\.0\.0\.1:{port}/ws' failed")
    assert [e for e in watch.errors if not refused.search(e)] == []
    assert watch.external == []
    await page.context.close()


async def test_the_chinese_wall_at_4k(browser, topic_config, shots):
    feed = Feed(topic_config)
    feed.start()
    try:
        async with wall_server(topic_config) as server:
            page, watch = await open_wall(browser, server.port, "", 3840, 2160)
            await wait_live(page)
            assert await page.evaluate("document.documentElement.lang") == "zh-CN"
            assert await page.locator("h1").text_content() == "贵州经济脉搏"
            unit = page.locator("[data-kpi=freight_value_today] .unit")
            await expect(unit).to_have_text(re.compile("^(亿|万)?元$"))
            await expect(page.locator("#badge")).to_have_text("实时")
            # Laid out at the real size (no CSS zoom): twice the 1080p type, crisp canvases.
            assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") \
                == "32px"  # fmt: skip
            map_canvas = await page.evaluate(
                "(() => { const c = document.querySelector('.map-panel canvas');"
                " return [c.width, c.getBoundingClientRect().width]; })()"
            )
            # The map takes what the 30 rem side columns leave: about 1,740 px of 3,840.
            assert map_canvas[0] >= 1700 and map_canvas[0] == round(map_canvas[1])
            await screenshot(page, shots / "wall-3840x2160-zh.png", 3840, 2160)
            assert watch.errors == [] and watch.external == []
            await page.context.close()
    finally:
        await feed.halt()


async def test_a_gap_in_sequence_numbers_makes_the_page_resynchronise(browser, topic_config):
    feed = Feed(topic_config)
    feed.start()
    try:
        async with wall_server(topic_config) as server:
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            forwarded = {"count": 0}

            def intercept(ws: WebSocketRoute) -> None:
                upstream = ws.connect_to_server()

                def from_server(message: str | bytes) -> None:
                    forwarded["count"] += 1
                    if forwarded["count"] == 6:
                        return  # lose one message on the way
                    ws.send(message)

                upstream.on_message(from_server)
                ws.on_message(lambda message: upstream.send(message))

            await page.route_web_socket(re.compile(r".*/ws$"), intercept)
            await page.goto(f"http://127.0.0.1:{server.port}/?lang=en")
            await expect(page.locator("body")).to_have_attribute("data-gaps", "1", timeout=20_000)
            await expect(page.locator("body")).to_have_attribute("data-snapshots", "2",
                                                                 timeout=10_000)  # fmt: skip
            snapshots = server.metrics.registry.get_sample_value(
                "pulseboard_web_snapshots_sent_total", {"reason": "resync"}
            )
            assert snapshots == 1
            await context.close()
    finally:
        await feed.halt()


async def test_memory_and_dom_stay_flat_under_a_fast_feed(browser, topic_config):
    """Five times the normal update rate for a while: after garbage collection the JS
    heap and the number of DOM nodes are where they were once the page had warmed up."""
    stop = asyncio.Event()
    feed = asyncio.create_task(run_feed(topic_config, rate_hz=20, stop=stop))
    fast = replace(settings(), timing=Timing(20, 1, 10))
    try:
        async with serving(fast, topic_config) as server:
            await asyncio.wait_for(server.ready_event.wait(), 30)
            page, watch = await open_wall(browser, server.port, "?lang=en", 1920, 1080)
            cdp = await page.context.new_cdp_session(page)

            async def measure(lead: int, zeros: int) -> tuple[int, int]:
                # Wait for seq >= lead * 10**zeros (CSP forbids wait_for_function).
                at_least = re.compile(rf"^([{lead}-9]\d{{{zeros}}}|\d{{{zeros + 2},}})$")
                body = page.locator("body")
                await expect(body).to_have_attribute("data-seq", at_least, timeout=60_000)
                # Charts animate continuously, so one reading after GC is noisy: take the
                # least of a few.
                heaps = []
                for _ in range(4):
                    await cdp.send("HeapProfiler.collectGarbage")
                    heaps.append((await cdp.send("Runtime.getHeapUsage"))["usedSize"])
                    await asyncio.sleep(0.25)
                nodes = await page.evaluate("document.getElementsByTagName('*').length")
                return min(heaps), nodes

            warm_heap, warm_nodes = await measure(1, 2)  # ~5 s of deltas at 20 a second
            late_heap, late_nodes = await measure(5, 2)  # ~25 s: 500 deltas
            assert late_nodes == warm_nodes
            assert late_heap < warm_heap + 3_000_000, (warm_heap, late_heap)
            assert watch.errors == [] and watch.external == []
            await page.context.close()
    finally:
        stop.set()
        await feed
