"""Call-outs on the wall in real headless Chromium (Debian's /usr/bin/chromium through
Playwright): anomaly records written to the anomalies topic are drawn where the thing is
(an outline on the prefecture, the corridor's line, a marker on the tile and the bar) with
their sentence, at most three and the most severe first, live and in time travel."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from support import anomaly, create_anomalies_topic, publish_anomalies, serve_settings
from wall_browser import Feed, open_wall
from web_raw import http

from pulseboard.config import Config
from pulseboard.history.writer import SessionWriter, history_topic
from pulseboard.kafka_client import kafka_producer
from pulseboard.topics import ensure_topics
from web.chromium import CHROMIUM, CHROMIUM_ARGS
from web.harness import serving
from web.protocol import Timing

pytestmark = pytest.mark.integration

HEADLINES = (
    "freight_value_today", "shipments_1m", "active_trucks_5m",
    "on_time_rate_1h", "export_value_1h", "digital_share_1h",
)  # fmt: skip

T0 = int(time.time()) - 600  # within the history's retention
CORRIDOR = ("corridor_shipments_15m", "520300>520100")  # Zunyi -> Guiyang
ZUNYI_FREIGHT = ("freight_value_1h", "520300")
PROVINCE_SHIPMENTS = ("shipments_1m", "520000")
GUIYANG_DC = ("dc_power_mw_5m", "520100")

# Four call-outs: the fourth (least severe) is not drawn while the other three are.
OPENED = [
    anomaly("opened", T0, *CORRIDOR, -4.5, 3, 17),  # (17 - 3) / 17: 82 % below
    anomaly("opened", T0, *ZUNYI_FREIGHT, -3.5, 1_000_000, 4_000_000),  # 75 % below
    anomaly("opened", T0 + 1, *PROVINCE_SHIPMENTS, 2.0, 60, 40),  # 50 % above
    anomaly("opened", T0 + 2, *GUIYANG_DC, 1.0, 26, 20),  # 30 % above
]
CLOSED = anomaly("closed", T0 + 50, *CORRIDOR, -0.2, 16, 17)
EN_THREE = [
    "Zunyi → Guiyang shipments 82% below usual",
    "Zunyi freight value 75% below usual",
    "Guizhou shipments 50% above usual",
]
EN_AFTER_CLOSE = [
    "Zunyi freight value 75% below usual",
    "Guizhou shipments 50% above usual",
    "Guiyang data-centre load 30% above usual",
]


@pytest.fixture(scope="module")
async def browser(static_dir: Path) -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/setup --test does)"
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        await b.close()


@pytest.fixture
async def topic_config(kafka_config: Config, tmp_path: Path) -> Config:
    prefix = f"cw-{uuid.uuid4().hex[:8]}."
    config = replace(
        kafka_config,
        kafka=replace(kafka_config.kafka, topic_prefix=prefix),
        history_dir=tmp_path / "index",
    )
    await ensure_topics(config)
    await create_anomalies_topic(config)
    return config


async def sentences(page: Page) -> list[str]:
    return await page.locator(".callout-list li:not([hidden]) .text").all_text_contents()


async def expect_sentences(page: Page, want: list[str]) -> None:
    texts = page.locator(".callout-list li:not([hidden]) .text")
    await expect(texts).to_have_text(want, timeout=20_000)


async def bbox(page: Page, selector: str) -> dict[str, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


async def check_drawn_in_place(page: Page) -> None:
    """The outline is Zunyi's: it holds the corridor line's start (Zunyi's seat, placed from
    the metadata's coordinates, not from the outline) and not its end (Guiyang's)."""
    outline = "path.callout-outline[data-code='520300']"
    route = "line.callout-route[data-key='520300>520100']"
    await expect(page.locator(outline)).to_have_count(1)
    await expect(page.locator(route)).to_have_count(1)
    assert await page.locator("path.callout-outline").count() == 1  # only the prefecture's
    line = page.locator(route)
    ends = [float(await line.get_attribute(a) or "nan") for a in ("x1", "y1", "x2", "y2")]
    svg = await bbox(page, "svg.callout-map")
    box = await bbox(page, outline)
    start = (svg["x"] + ends[0], svg["y"] + ends[1])
    end = (svg["x"] + ends[2], svg["y"] + ends[3])

    def inside(p: tuple[float, float]) -> bool:
        return box["x"] <= p[0] <= box["x"] + box["width"] and (
            box["y"] <= p[1] <= box["y"] + box["height"]
        )

    assert inside(start) and not inside(end), (box, start, end)
    # Zunyi is the north of the province: its outline lies above Guiyang's seat.
    assert box["y"] + box["height"] * 0.5 < end[1]


async def test_callouts_are_drawn_in_place_live_and_in_time_travel(
    browser, topic_config, static_dir, tmp_path
):
    # Live history for time travel (the live session's range), then the call-outs.
    producer = kafka_producer(topic_config, "test-history")
    await producer.start()
    try:
        w = SessionWriter(producer, history_topic(topic_config), "live")
        # Every headline (a jump in time draws their sparklines from the series).
        values = {n: 40 for n in HEADLINES} | {"on_time_rate_1h": 0.9, "digital_share_1h": 0.3}
        ts = range(T0 - 60, T0 + 120, 10)
        await w.records([(t, n, "520000", v) for t in ts for n, v in values.items()], None)
        await w.close()
    finally:
        await producer.stop()
    await publish_anomalies(topic_config, OPENED)

    feed = Feed(topic_config)
    feed.start()
    try:
        settings = serve_settings(static_dir, timing=Timing(4, 1, 10))
        async with serving(settings, topic_config) as server:
            await asyncio.wait_for(server.ready_event.wait(), 30)
            port = server.port
            page, watch = await open_wall(browser, port, "?lang=en", 1920, 1080)
            await expect(page.locator("#badge")).to_have_attribute(
                "data-state", "live", timeout=20_000
            )
            await expect_sentences(page, EN_THREE)
            await check_drawn_in_place(page)
            # Markers: the tile and the prefecture's bar, numbered by rank; not the fourth's.
            tile = page.locator(".tile[data-kpi='shipments_1m']")
            await expect(tile).to_have_attribute("data-callout", "3")
            bar = page.locator("[data-panel='prefectures'] .bar-row[data-code='520300']")
            await expect(bar).to_have_attribute("data-callout", "2")
            # The fourth (Guiyang's data centres) is neither listed nor marked.
            assert await page.locator("[data-panel='dc'] [data-callout]").count() == 0
            await page.screenshot(path=str(tmp_path / "callouts-live-en.png"))

            # The corridor's call-out closes: the fourth moves up, the outline stays.
            await publish_anomalies(topic_config, [CLOSED])
            await expect_sentences(page, EN_AFTER_CLOSE)
            await expect(page.locator("line.callout-route")).to_have_count(0)
            await expect(page.locator("path.callout-outline[data-code='520300']")).to_have_count(1)
            await expect(tile).to_have_attribute("data-callout", "2")
            dc = page.locator("[data-panel='dc'] .bar-row[data-code='520100']")
            await expect(dc).to_have_attribute("data-callout", "3")
            assert watch.errors == [] and watch.external == []

            # Time travel: at T0 + 5 the corridor was still called out; at T0 + 60 not.
            await wait_indexed(port)
            past, watch2 = await open_wall(
                browser, port, f"?lang=zh&session=live&at={T0 + 5}", 1920, 1080
            )
            await expect(past.locator("body")).to_have_attribute(
                "data-shown-t", str(T0 + 5), timeout=20_000
            )
            await expect_sentences(
                past,
                [
                    "遵义→贵阳 发运量 较平时低 82%",
                    "遵义 货值 较平时低 75%",
                    "贵州省 发运量 较平时高 50%",
                ],
            )
            await check_drawn_in_place(past)
            await past.screenshot(path=str(tmp_path / "callouts-history-zh.png"))
            await past.keyboard.press("Shift+ArrowRight")  # +1 min: T0 + 65
            await expect(past.locator("body")).to_have_attribute(
                "data-shown-t", str(T0 + 65), timeout=20_000
            )
            await expect_sentences(
                past,
                [
                    "遵义 货值 较平时低 75%",
                    "贵州省 发运量 较平时高 50%",
                    "贵阳 数据中心负荷 较平时高 30%",
                ],
            )
            await expect(past.locator("line.callout-route")).to_have_count(0)
            assert watch2.errors == [] and watch2.external == []
    finally:
        await feed.halt()


async def wait_indexed(port: int) -> None:
    """Until the index answers the close at T0 + 50 (it follows the topics)."""
    deadline = time.monotonic() + 30
    while True:
        r = await http(port, f"/api/history/callouts?session=live&t={T0 + 60}")
        if r.status == 200 and len(orjson.loads(r.body)["callouts"]) == 3:
            return
        assert time.monotonic() < deadline, r.body
        await asyncio.sleep(0.2)  # polled with a deadline: the index has no event to await
