"""Take docs/screenshot.png from the running local broker (see scripts/screenshot);
``--callouts`` takes docs/wall-callouts.png: the same wall with three sample call-outs
(web/fake_callouts.py) written to the anomalies topic, as the detector would."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

from playwright.async_api import async_playwright, expect

from pulseboard.config import config_from_env
from pulseboard.topics import ensure_topics
from web.assets import STATIC_DIR, build_frontend
from web.chromium import CHROMIUM, CHROMIUM_ARGS
from web.fake_callouts import ensure_anomalies_topic, publish_anomalies, sample
from web.fake_feed import run_feed
from web.harness import serving
from web.protocol import Timing
from web.server import ServeSettings

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "screenshot.png"
CALLOUTS_TARGET = ROOT / "docs" / "wall-callouts.png"


async def take(
    target: Path, width: int, height: int, lang: str = "en", callouts: bool = False
) -> None:
    config = config_from_env()
    # Topics of their own, so a running pipeline's indicators do not mix in.
    prefix = f"screenshot-{uuid.uuid4().hex[:8]}."
    config = replace(config, kafka=replace(config.kafka, topic_prefix=prefix))
    await ensure_topics(config)
    if callouts:
        await ensure_anomalies_topic(config)
        await publish_anomalies(config, sample(config.pack, int(time.time())))
    build_frontend()
    stop = asyncio.Event()
    feed = asyncio.create_task(run_feed(config, rate_hz=4, stop=stop))
    settings = ServeSettings(
        port=0, static_dir=STATIC_DIR, timing=Timing(4, 1, 10), pack=config.pack
    )
    try:
        async with serving(settings, config) as server, async_playwright() as pw:
            await asyncio.wait_for(server.ready_event.wait(), 30)
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            try:
                page = await browser.new_page(viewport={"width": width, "height": height})
                await page.goto(f"http://127.0.0.1:{server.port}/?lang={lang}")
                badge = page.locator("#badge")
                await expect(badge).to_have_attribute("data-state", "live", timeout=30_000)
                # Some seconds of data, so the sparklines and charts have a shape.
                spark = page.locator("[data-kpi=shipments_1m] polyline")
                shape = re.compile(r"^(\S+ ){9,}\S+$")
                await expect(spark).to_have_attribute("points", shape, timeout=30_000)
                if callouts:
                    listed = page.locator(".callout-list")
                    await expect(listed).to_have_attribute("data-callouts", "3", timeout=30_000)
                await page.screenshot(path=str(target))
            finally:
                await browser.close()
    finally:
        stop.set()
        await feed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help=f"default {TARGET} ({CALLOUTS_TARGET})")
    parser.add_argument("--callouts", action="store_true", help="with three sample call-outs")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument(
        "--lang", default="en", help="the page's language (default en; else the area's first)"
    )
    args = parser.parse_args()
    # The area is PULSEBOARD_REGION's, e.g. PULSEBOARD_REGION=morocco scripts/screenshot
    # --lang ar --out docs/wall-morocco-ar.png
    out = args.out or (CALLOUTS_TARGET if args.callouts else TARGET)
    asyncio.run(take(out, args.width, args.height, args.lang, args.callouts))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
