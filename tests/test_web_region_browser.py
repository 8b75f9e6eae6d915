"""The Moroccan wall (SPEC section 10, the morocco pack) in real headless Chromium at
1920x1080, in French and in Arabic: the push server on the real broker with the fake
indicator feed of that pack. Screenshots go to the test's temporary folder and, when
PULSEBOARD_ARTIFACTS names a folder, there too."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from support import serve_settings
from wall_browser import Feed, open_wall

from pulseboard import packs
from pulseboard.config import Config
from pulseboard.history.codec import HistoryRecord
from pulseboard.history.writer import (
    SessionWriter,
    finish_session,
    history_topic,
    replace_session,
)
from pulseboard.kafka_client import kafka_producer
from pulseboard.topics import ensure_topics
from web.assets import STATIC_DIR
from web.chromium import CHROMIUM, CHROMIUM_ARGS
from web.harness import serving
from web.protocol import Timing
from web.server import PushServer

pytestmark = pytest.mark.integration

MOROCCO = packs.load("morocco")
W, H = 1920, 1080


@pytest.fixture(scope="module")
async def browser(static_dir: Path) -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/setup --test does)"
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        await b.close()


@pytest.fixture
async def morocco_config(kafka_config: Config) -> Config:
    prefix = f"wall-ma-{uuid.uuid4().hex[:8]}."
    config = replace(
        kafka_config, region="morocco", kafka=replace(kafka_config.kafka, topic_prefix=prefix)
    )
    await ensure_topics(config)
    return config


@contextlib.asynccontextmanager
async def moroccan_wall(config: Config) -> AsyncIterator[PushServer]:
    feed = Feed(config)
    feed.start()
    settings = serve_settings(STATIC_DIR, timing=Timing(4, 1, 10), pack=MOROCCO)
    try:
        async with serving(settings, config) as server:
            await asyncio.wait_for(server.ready_event.wait(), 30)
            yield server
    finally:
        await feed.halt()


async def wait_live(page: Page) -> None:
    await expect(page.locator("#badge")).to_have_attribute("data-state", "live", timeout=20_000)
    # A few seconds of data, so the sparklines and charts have a shape.
    spark = page.locator("[data-kpi=shipments_1m] polyline")
    await expect(spark).to_have_attribute("points", re.compile(r"^(\S+ ){4,}\S+$"), timeout=20_000)


async def keep_screenshot(page: Page, folder: Path, name: str) -> Path:
    """A PNG of the viewport (checked), in ``folder`` and in $PULSEBOARD_ARTIFACTS if set."""
    target = folder / name
    await page.screenshot(path=str(target))
    png = target.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (W, H)
    artifacts = os.environ.get("PULSEBOARD_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, Path(artifacts) / name)
    return target


def casablanca_minutes() -> set[str]:
    """The Moroccan wall clock's date and minute now and a minute ago ("dd/mm/yyyy HH:MM",
    with the zone as "UTC+1"), from this machine's tz database (Debian's tzdata), not the
    browser's."""
    zone = ZoneInfo(MOROCCO.time_zone)
    now = datetime.now(UTC)
    out = set()
    for back in (60, 0):
        local = (now - timedelta(seconds=back)).astimezone(zone)
        offset = local.utcoffset() or timedelta(0)
        hours = int(offset.total_seconds() // 3600)
        out.add(f"{local:%d/%m/%Y %H:%M} UTC{'+' if hours >= 0 else '−'}{abs(hours)}")
    return out


async def common_checks(page: Page, lang: str) -> None:
    """What both languages must show: the 12 regions on the map, the pack's names, MAD."""
    names = {r.code: r.names[lang] for r in MOROCCO.regions}
    chart = page.locator(".map-panel .chart")
    await expect(chart).to_have_attribute("data-map", "morocco")
    await expect(chart).to_have_attribute("data-regions-mapped", "12")
    await expect(page.locator(".map-credit")).to_have_text(MOROCCO.map_attribution)
    # The freight panel lists the regions (9 rows) by their names in this language.
    rows = page.locator("[data-panel=prefectures] .bar-row:not([hidden])")
    await expect(rows).to_have_count(9, timeout=10_000)
    for row in await rows.all():
        code = await row.get_attribute("data-code")
        assert code in names
        assert (await row.locator(".name").inner_text()).lstrip("★ ") == names[code]
    # Sectors by their names in this language.
    sectors = {s.names[lang] for s in MOROCCO.sectors}
    shown = await page.locator(
        "[data-panel=sectors] .bar-row:not([hidden]) .name"
    ).all_inner_texts()
    assert shown and {s.lstrip("★ ") for s in shown} <= sectors
    # The clock shows the time in Casablanca, whatever the time zone of the machine or the
    # age of the browser's tz data (Chromium 156's puts Casablanca at UTC+0 in late 2026).
    time_text = await page.locator(".clock .time").inner_text()
    zone_text = await page.locator(".clock .zone").inner_text()
    shown = f"{time_text[-19:-3]} {zone_text}"  # "dd/mm/yyyy HH:MM UTC+1"
    assert shown in casablanca_minutes(), (time_text, zone_text)


async def test_the_moroccan_wall_in_french(browser, morocco_config, tmp_path):
    async with moroccan_wall(morocco_config) as server:
        # No ?lang: the pack's first language, French.
        page, watch = await open_wall(browser, server.port, "", W, H)
        await wait_live(page)
        assert await page.evaluate("[document.documentElement.lang, document.dir]") == ["fr", "ltr"]
        assert await page.locator("h1").text_content() == "Pouls économique · Maroc"
        assert await page.title() == "Pouls économique · Maroc"
        await expect(page.locator("#badge .state")).to_have_text("EN DIRECT")
        # Money in dirhams, French style: "1,23 Md MAD" (comma decimals, Md for milliard).
        value = page.locator("[data-kpi=freight_value_today] .value")
        await expect(value).to_have_text(re.compile(r"^\d{1,3}(,\d{1,2})?$"))
        await expect(page.locator("[data-kpi=freight_value_today] .unit")).to_have_text(
            re.compile(r"^(k |M |Md )?MAD$")
        )
        await expect(page.locator("[data-kpi=on_time_rate_1h] .value")).to_have_text(
            re.compile(r"^\d{2},\d$")
        )
        await common_checks(page, "fr")
        await expect(page.locator(".corridors li").first).to_contain_text("→")
        await keep_screenshot(page, tmp_path, "wall-morocco-1920x1080-fr.png")
        assert watch.errors == [] and watch.external == []
        await page.context.close()


async def test_the_moroccan_wall_in_arabic_reads_right_to_left(browser, morocco_config, tmp_path):
    async with moroccan_wall(morocco_config) as server:
        page, watch = await open_wall(browser, server.port, "?lang=ar", W, H)
        await wait_live(page)
        assert await page.evaluate("[document.documentElement.lang, document.dir]") == ["ar", "rtl"]
        assert await page.locator("h1").text_content() == "نبض اقتصاد المغرب"
        await expect(page.locator("#badge .state")).to_have_text("مباشر")
        # Dirhams as Arabic writes them, with Latin digits that read well across a room.
        await expect(page.locator("[data-kpi=freight_value_today] .unit")).to_have_text(
            re.compile(r"^((ألف|مليون|مليار) )?د\.م\.$")
        )
        await expect(page.locator("[data-kpi=shipments_1m] .value")).to_have_text(
            re.compile(r"^[0-9][0-9,]*$")
        )
        await common_checks(page, "ar")
        await expect(page.locator(".corridors li").first).to_contain_text("←")
        # Mirrored: the sector and region panels stand on the right, the exports on the left.
        boxes = await page.evaluate(
            "['.col.left', '.map-panel', '.col.right'].map((s) =>"
            " document.querySelector(s).getBoundingClientRect().x)"
        )
        assert boxes[0] > boxes[1] > boxes[2], boxes
        # Arabic letters in the font served with the page (a wall without it installed).
        used = await page.evaluate(
            "document.fonts.ready.then(() => [...document.fonts]"
            ".filter((f) => f.family.includes('Wall Arabic') && f.status === 'loaded').length)"
        )
        assert used >= 1
        await keep_screenshot(page, tmp_path, "wall-morocco-1920x1080-ar.png")
        assert watch.errors == [] and watch.external == []
        await page.context.close()


# 2026-02-15 02:30 UTC: 02:30 in Casablanca, half an hour after it went from UTC+1 to UTC+0
# for Ramadan (tzdata); the same moment a day before was 03:30 local, at UTC+1.
T1 = 1_771_122_600
T_DAY = T1 - 86_400


async def write_session(config: Config, name: str, records: list[HistoryRecord]) -> None:
    producer = kafka_producer(config, "test-history-writer")
    await producer.start()
    try:
        writer = SessionWriter(producer, history_topic(config), name)

        async def chunks() -> AsyncIterator[list[HistoryRecord]]:
            yield records

        generation, _ = await replace_session(writer, chunks())
        await finish_session(writer, generation, records[0][0], records[-1][0])
    finally:
        await producer.stop()


async def test_travel_in_time_on_the_moroccan_wall_keeps_casablanca_time(
    browser, morocco_config, tmp_path
):
    config = replace(morocco_config, history_dir=tmp_path / "index")
    await write_session(
        config,
        "ma-demo",
        # Every headline tile's indicator (the page asks for their sparklines).
        [
            (t, name, "MA", value)
            for t, day in ((T_DAY, 0), (T1, 1))
            for name, value in (
                ("freight_value_today", (1.2e9, 1.5e9)[day]),
                ("shipments_1m", (100, 120)[day]),
                ("active_trucks_5m", 4000),
                ("on_time_rate_1h", 0.9),
                ("export_value_1h", 5e7),
                ("digital_share_1h", 0.2),
            )
        ],
    )
    settings = serve_settings(STATIC_DIR, timing=Timing(4, 1, 10), pack=MOROCCO)
    async with serving(settings, config) as server:
        await asyncio.wait_for(server.ready_event.wait(), 30)
        page, watch = await open_wall(
            browser, server.port, f"?session=ma-demo&at={T1}&controls=1", W, H
        )
        body = page.locator("body")
        await expect(body).to_have_attribute("data-shown-t", str(T1), timeout=20_000)
        # The badge and the time bar in Casablanca's time (UTC+0 that night), in French.
        await expect(page.locator("#badge")).to_have_text(
            "RELECTURE 02-15 02:30:00 EN PAUSESESSION ma-demo"
        )
        await expect(page.locator(".tb-time")).to_have_text("2026-02-15 02:30:00")
        # The second's figures, and "vs yesterday" against the same moment a day before.
        freight = page.locator("[data-kpi=freight_value_today]")
        await expect(freight.locator(".value")).to_have_text("1,50")
        await expect(freight.locator(".unit")).to_have_text("Md MAD")
        shipments = page.locator("[data-kpi=shipments_1m]")
        await expect(shipments.locator(".value")).to_have_text("120")
        await expect(shipments.locator(".changes .chg").first).to_have_text("▲ 20%")
        await expect(freight.locator(".changes .chg").first).to_have_text("▲ 25%")
        # A step writes the moment into the URL with the offset then in force: UTC+0 that
        # night, UTC+1 the night before ("this time yesterday").
        await page.keyboard.press("ArrowLeft")
        await expect(body).to_have_attribute("data-shown-t", str(T1 - 1), timeout=10_000)
        await expect(page).to_have_url(re.compile(r"at=2026-02-15T02:29:59(\+|%2B)00:00"))
        await page.keyboard.press("ArrowRight")
        await expect(body).to_have_attribute("data-shown-t", str(T1), timeout=10_000)
        await page.keyboard.press("y")
        await expect(body).to_have_attribute("data-shown-t", str(T_DAY), timeout=10_000)
        await expect(page).to_have_url(re.compile(r"at=2026-02-14T03:30:00(\+|%2B)01:00"))
        await expect(page.locator(".tb-time")).to_have_text("2026-02-14 03:30:00")
        await expect(shipments.locator(".value")).to_have_text("100")
        assert watch.errors == [] and watch.external == []
        await page.context.close()
