"""Time travel on the wall in real headless Chromium (Debian's, via web/chromium.py) against
the real push server: a generated event log stored as a history session by
`pulseboard replay LOG --to-history demo` into the test broker, indexed by the server and
served by the SPEC section 9 API, while the fake feed keeps the live table moving.

The page's figures are checked against the API's own answer for the second the page says
it shows; seeking is timed; playing at 100x is measured; live values must not reach the
screen while it shows the past; "back to live" brings them back. Screenshots (1920x1080
and 3840x2160, Chinese and English) go to a temporary folder, and are copied to
$PULSEBOARD_SCREENSHOT_DIR when that is set (never into the work tree)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from support import serve_settings
from wall_browser import Feed, open_wall
from web_raw import http

from producers.command import write_log
from producers.simulation import SimConfig, Simulation
from pulseboard import packs
from pulseboard.config import Config
from web.chromium import CHROMIUM, CHROMIUM_ARGS
from web.fake_feed import publish
from web.harness import serving
from web.protocol import Timing
from web.server import PushServer

pytestmark = pytest.mark.integration

# 2026-12-03 09:00 CST; 0.5 events per simulated second for 48,000 events: about 25 hours,
# so the second day's first hour can be compared with the same moment the day before.
START_MS = 1_796_259_600_000
AT = 1_796_347_800  # 2026-12-04T09:30:00+08:00
HEADLINES = (
    "freight_value_today",
    "shipments_1m",
    "active_trucks_5m",
    "on_time_rate_1h",
    "export_value_1h",
    "digital_share_1h",
)
RATES = {"on_time_rate_1h", "avg_transit_min_1h", "digital_share_1h", "dc_utilization_5m"}


@pytest.fixture(scope="module")
async def browser(static_dir: Path) -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/setup --test does)"
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        await b.close()


async def api(port: int, target: str) -> dict:
    response = await http(port, target)
    assert response.status == 200, (target, response.body[:300])
    return orjson.loads(response.body)


async def state(port: int, t: int) -> dict[str, object]:
    return (await api(port, f"/api/history/state?session=demo&t={t}"))["values"]


def value(values: dict[str, object], name: str, key: str) -> float | None:
    """SPEC section 9: an absent key is 0 for counts and sums, null for rates and means."""
    v = values.get(f"{name}|{key}")
    if v is None:
        return None if name in RATES else 0
    assert isinstance(v, int | float)
    return v


async def shown(page: Page) -> dict:
    """What the page shows, as the exact figures it keeps beside the formatted text."""
    return await page.evaluate(
        """(() => {
          const rows = (panel) => Object.fromEntries([...document.querySelectorAll(
            `[data-panel=${panel}] .bar-row:not([hidden])`)].map((r) => [r.dataset.code,
            {value: r.dataset.value,
             chg: [...r.querySelectorAll('.chg')].map((c) => c.textContent)}]));
          return {
            t: document.body.dataset.shownT,
            state: document.body.dataset.shownState,
            kpis: Object.fromEntries([...document.querySelectorAll('[data-kpi]')].map((k) =>
              [k.dataset.kpi, {target: k.querySelector('.value').dataset.target,
                chg: [...k.querySelectorAll('.changes .chg')].map((c) => c.textContent)}])),
            sectors: rows('sectors'),
            prefectures: rows('prefectures'),
            local: document.querySelector('.local .count').dataset.value,
            routes: [...document.querySelectorAll('.corridors li:not([hidden])')]
              .map((li) => li.dataset.key),
            badge: document.querySelector('#badge').textContent,
          };
        })()"""
    )


def pct_text(now: float, past: float) -> tuple[str, float]:
    """The independent model of a change: arrow and percent, to compare with the page."""
    pct = (now - past) / abs(past) * 100
    return ("▲" if pct > 0 else "▼"), abs(pct)


def assert_change(text: str, now: float | None, past: float | None, ratio: bool = False) -> None:
    if now is None or past is None:
        assert text == "—", (text, now, past)
        return
    if abs(now - past) <= max(1e-9 * max(abs(now), abs(past)), 1e-6):
        assert text in (("0 pp", "0个百分点") if ratio else ("0%",)), (text, now, past)
        return
    if ratio:  # percentage points
        m = re.fullmatch(r"([▲▼]) (<0\.1|\d+(?:\.\d)?)(?: pp|个百分点)", text)
        assert m and m.group(1) == ("▲" if now > past else "▼"), (text, now, past)
        pts = abs(now - past) * 100
        assert pts < 0.05 if m.group(2) == "<0.1" else abs(float(m.group(2)) - pts) <= 0.5
        return
    if past == 0:
        assert text in (("▲ new", "▲ 新增") if now > 0 else ("▼",)), (text, now, past)
        return
    arrow, pct = pct_text(now, past)
    m = re.fullmatch(r"([▲▼]) (<0\.1|[\d,]+(?:\.\d)?)%", text)
    assert m, (text, now, past)
    assert m.group(1) == arrow, (text, now, past)
    if m.group(2) == "<0.1":
        assert pct < 0.05
    else:
        shown_pct = float(m.group(2).replace(",", ""))
        assert abs(shown_pct - pct) <= (0.05 if pct < 10 else 0.5) + 1e-9, (text, pct)


async def assert_screen_is_the_api_state(page: Page, port: int, start: int) -> int:
    """Every checked figure on screen is the API's final value at the second shown, and
    each change is that value against the API's value 86,400 s earlier ("—" before the
    session's first second ``start``)."""
    # A seek shows its second first and the comparisons a moment later: wait for both.
    await expect(page.locator("body")).to_have_attribute("data-shown-state", "full")
    s = await shown(page)
    assert s["state"] == "full"
    t = int(s["t"])
    now = await state(port, t)
    day = await state(port, t - 86_400) if t - 86_400 >= start else {}

    def past(name: str, key: str) -> float | None:
        return value(day, name, key) if day else None

    for name in HEADLINES:
        want = value(now, name, "520000")
        target = s["kpis"][name]["target"]
        assert (None if target == "" else float(target)) == want, (t, name, target, want)
        chg = s["kpis"][name]["chg"]
        assert_change(chg[0], want, past(name, "520000"), ratio=name in RATES)
        assert chg[1] == "—"  # the session has no week before
    for code in packs.load("guizhou").sector_codes:
        want = value(now, "sector_value_1h", f"520000|{code}")
        assert float(s["sectors"][code]["value"]) == want, (t, code)
        was = past("sector_value_1h", f"520000|{code}")
        assert_change(s["sectors"][code]["chg"][0], want, was)
    for code in (r.code for r in packs.load("guizhou").regions):
        want = value(now, "freight_value_1h", code)
        assert float(s["prefectures"][code]["value"]) == want, (t, code)
        assert_change(s["prefectures"][code]["chg"][0], want, past("freight_value_1h", code))
    local = sum(
        v
        for k, v in now.items()
        if k.startswith("corridor_shipments_15m|") and len(set(k.split("|")[1].split(">"))) == 1
    )
    assert int(s["local"]) == local
    assert all(a != b for a, b in (r.split(">") for r in s["routes"])), s["routes"]
    return t


def cst(t: int) -> str:
    """Second t as the page writes it in the URL: ISO 8601 in China Standard Time."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + 8 * 3600)) + "+08:00"


def keep(path: Path) -> None:
    """Screenshots are artifacts of the run: copied out only where asked for."""
    target = os.environ.get("PULSEBOARD_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)


@pytest.fixture
async def history_wall(
    isolated, tmp_path, cli, static_dir: Path
) -> AsyncIterator[tuple[PushServer, Config]]:
    config, env = isolated
    log = tmp_path / "two-days.jsonl"
    sim = Simulation(SimConfig(seed=5, start_ms=START_MS, events_per_sim_second=0.5))
    await asyncio.to_thread(write_log, sim, str(log), 48_000)
    done = await asyncio.to_thread(cli, env, "replay", str(log), "--to-history", "demo")
    assert done.returncode == 0, done.stderr
    config = replace(config, history_dir=tmp_path / "index")
    settings = serve_settings(static_dir, timing=Timing(4, 1, 10))
    feed = Feed(config)
    feed.start()
    try:
        async with serving(settings, config) as server:
            await asyncio.wait_for(server.ready_event.wait(), 30)
            deadline = time.monotonic() + 60
            while True:  # the index follows the history topic
                r = await http(server.port, "/api/history/sessions")
                if r.status == 200 and b'"demo"' in r.body:
                    break
                assert time.monotonic() < deadline, r.body
                await asyncio.sleep(0.1)
            yield server, config
    finally:
        await feed.halt()


async def test_scrub_play_and_back_to_live_show_exact_history(browser, history_wall):
    server, config = history_wall
    port = server.port
    session = (await api(port, "/api/history/sessions"))["sessions"]
    demo = next(s for s in session if s["name"] == "demo")
    page, watch = await open_wall(
        browser, port, f"?lang=en&session=demo&at={AT}&controls=1", 1920, 1080
    )
    body = page.locator("body")
    await expect(body).to_have_attribute("data-shown-t", str(AT), timeout=20_000)
    await expect(page.locator("#badge")).to_have_text("REPLAY 12-04 09:30:00 PAUSEDSESSION demo")
    assert await assert_screen_is_the_api_state(page, port, demo["from"]) == AT

    # Live values keep arriving underneath but never reach the past on screen.
    later = int(time.time()) + 3600
    await publish(config, [{"t": later, "name": "shipments_1m", "key": "520000",
                            "value": 4321, "final": False}])  # fmt: skip
    tile = page.locator("[data-kpi=shipments_1m] .value")
    want = value(await state(port, AT), "shipments_1m", "520000")
    await asyncio.sleep(1.5)  # several live deltas' worth (4 a second)
    assert float(await tile.get_attribute("data-target") or "nan") == want

    # Scrub by dragging the time bar's thumb: real drags, timed from the release to the
    # new second's figures on screen, each screen checked against the API. The median of
    # five must be within 300 ms (one stall on a busy machine must not decide), every one
    # within a second.
    scrub = page.locator(".tb-scrub")
    box = await scrub.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2

    def x_of(t: int) -> float:  # the thumb's centre for second t
        assert box is not None
        return box["x"] + 8 + (t - demo["from"]) / (demo["to"] - demo["from"]) * (box["width"] - 16)

    seeks = []
    for end in (0.6, 0.97, 0.3, 0.9, 0.97):
        before = int(await body.get_attribute("data-shown-t") or "0")
        await page.evaluate("delete document.body.dataset.seekMs")
        await page.mouse.move(x_of(before), y)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] * (end - 0.01), y, steps=8)
        await page.mouse.move(box["x"] + box["width"] * end, y, steps=2)
        await page.mouse.up()
        await expect(body).to_have_attribute("data-seek-ms", re.compile(r"^\d+$"))
        seeks.append(int(await body.get_attribute("data-seek-ms") or "0"))
        dragged = await assert_screen_is_the_api_state(page, port, demo["from"])
        assert abs(dragged - before) > 3600, (before, dragged)  # it did move, far
    assert sorted(seeks)[2] <= 300 and max(seeks) <= 1000, seeks
    assert demo["from"] + 86_400 <= dragged <= demo["to"]
    # The address bar follows to where the drag ended (a bookmark of that second).
    await expect(page).to_have_url(re.compile(re.escape(f"at={cst(dragged)}")))

    # ±1 s, ±1 min, and "this time yesterday" (from the second day back into the first).
    for action, delta in (("fwd1s", 1), ("back1m", -60), ("back1s", -1)):
        before = int(await body.get_attribute("data-shown-t") or "0")
        await page.locator(f"[data-action={action}]").click()
        await expect(body).to_have_attribute("data-shown-t", str(before + delta))
    stepped = int(await body.get_attribute("data-shown-t") or "0")
    await assert_screen_is_the_api_state(page, port, demo["from"])
    await page.locator("[data-action=yesterday]").click()
    await expect(body).to_have_attribute("data-shown-t", str(stepped - 86_400))

    # Play at 100x: T advances at about 100 seconds a second, the URL and badge say so.
    await page.locator(".tb-speed").select_option("100")
    await page.locator("[data-action=playPause]").click()
    await expect(page.locator("#badge .state")).to_have_text(re.compile(r"^REPLAY .* ×100$"))
    await expect(body).not_to_have_attribute("data-shown-t", str(stepped - 86_400))
    t0, w0 = int(await body.get_attribute("data-shown-t") or "0"), time.monotonic()
    await asyncio.sleep(3)
    t1, w1 = int(await body.get_attribute("data-shown-t") or "0"), time.monotonic()
    rate = (t1 - t0) / (w1 - w0)
    assert 60 <= rate <= 130, rate
    query = parse_qs(urlsplit(page.url).query)
    assert query["session"] == ["demo"] and query["speed"] == ["100"]
    await page.locator("[data-action=playPause]").click()  # pause: a still, exact screen
    await expect(page.locator("#badge .state")).to_have_text(re.compile(r"PAUSED$"))
    await asyncio.sleep(0.3)
    paused = await assert_screen_is_the_api_state(page, port, demo["from"])

    # The bookmark: the same address on another wall opens the same second, paused.
    await expect(page).to_have_url(re.compile(re.escape(f"at={cst(paused)}")))
    other, other_watch = await open_wall(browser, port, "?" + urlsplit(page.url).query, 1280, 720)
    await expect(other.locator("body")).to_have_attribute("data-shown-t", str(paused))
    await expect(other.locator("#badge .state")).to_have_text(re.compile(r"PAUSED$"))
    assert other_watch.errors == []
    await other.context.close()

    # Back to live: the live badge, the URL without the moment, the live value.
    await page.locator("[data-action=live]").click()
    await expect(page.locator("#badge")).to_have_attribute("data-state", "live")
    await expect(tile).to_have_attribute("data-target", "4321")
    assert "session=" not in page.url and "at=" not in page.url

    # The blemishes, live: a prefecture's deliveries to itself are no corridor (however
    # busy) but counted as local; nine small data-centre loads do not overlap at 1080p.
    regions = [r.code for r in packs.load("guizhou").regions]
    await publish(
        config,
        [{"t": later, "name": "corridor_shipments_15m", "key": "520100>520100", "value": 9999,
          "final": False}]
        + [{"t": later, "name": "dc_power_mw_5m", "key": code, "value": 0.1 * (i + 1),
            "final": False} for i, code in enumerate(regions)],
    )  # fmt: skip
    local = page.locator(".local .count")
    await expect(local).to_have_attribute("data-value", re.compile(r"^(9999|[1-9]\d{4,})$"))
    assert "520100>520100" not in (await shown(page))["routes"]
    dc_rows = page.locator("[data-panel=dc] .bar-row:not([hidden])")
    await expect(dc_rows).to_have_count(9)
    await asyncio.sleep(1)  # the rows' move to their places (0.8 s)
    boxes = await page.evaluate(
        """[...document.querySelectorAll('[data-panel=dc] .bar-row:not([hidden]) span')]
          .filter((e) => e.classList.contains('name') || e.classList.contains('val'))
          .map((e) => { const r = e.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom, e.textContent]; })"""
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)
    assert watch.errors == [] and watch.external == []
    await page.context.close()


async def test_screenshots_of_a_replayed_moment(browser, history_wall, tmp_path):
    server, _ = history_wall
    demo = next(
        s
        for s in (await api(server.port, "/api/history/sessions"))["sessions"]
        if s["name"] == "demo"
    )
    for (width, height), lang in [(size, lang) for size in ((1920, 1080), (3840, 2160))
                                  for lang in ("zh", "en")]:  # fmt: skip
        page, watch = await open_wall(
            browser, server.port, f"?lang={lang}&session=demo&at={AT}&controls=1", width, height
        )
        await expect(page.locator("body")).to_have_attribute("data-shown-t", str(AT),
                                                             timeout=20_000)  # fmt: skip
        await expect(page.locator("#badge")).to_have_attribute("data-state", "replay")
        await assert_screen_is_the_api_state(page, server.port, demo["from"])
        # Laid out at the real size: the time bar scales with the wall's rem.
        bar = await page.locator("#timebar").bounding_box()
        assert bar is not None and bar["width"] > 0.9 * width
        await asyncio.sleep(1)  # the map's first draw
        shot = tmp_path / f"wall-history-{width}x{height}-{lang}.png"
        await page.screenshot(path=str(shot))
        keep(shot)
        assert watch.errors == [] and watch.external == []
        await page.context.close()
