"""The wall page's memory over a long run at 20x simulated speed.

    .venv/bin/python benchmarks/bench_page_memory.py [--minutes 30] [--speed 20]

Runs the whole system as a user would (`pulseboard up --speed S`: its own broker in a
throwaway state folder, producer, aggregator, push server) and opens the wall in Debian's
headless Chromium at 1920x1080. Every minute it forces a garbage collection in the page and
reads the JS heap in use (the least of four readings, because the charts animate without
pause), the resident memory of its renderer process (native memory included), the DOM
node count and the event-listener count (Chrome DevTools Protocol). The
figure the issue asks for: the heap after --minutes compared with the heap after 5 minutes.
Results go to stdout and bench-results/page-memory.json."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import CDPSession, Page, async_playwright  # noqa: E402

from benchmarks.common import free_port, machine, save_report  # noqa: E402
from web.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

MARK = f"--pulseboard-bench={uuid.uuid4().hex}"  # finds this benchmark's browser in /proc


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("pulseboard up exited before the screen was ready")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the screen was not ready within {timeout} s")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def renderer_rss_bytes() -> int:
    """Resident memory of the page's renderer process(es): the JS heap plus everything
    native (DOM, layout, canvas and font caches) that the JS heap figure leaves out."""
    roots = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if MARK.encode() in (proc / "cmdline").read_bytes():
                roots.append(int(proc.name))
        except OSError:
            pass
    total, todo, seen = 0, roots, set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += _children(pid)
        try:
            if b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


async def measure(page: Page, cdp: CDPSession) -> dict:
    heaps = []
    for _ in range(4):
        await cdp.send("HeapProfiler.collectGarbage")
        heaps.append((await cdp.send("Runtime.getHeapUsage"))["usedSize"])
        await asyncio.sleep(0.25)
    counters = await cdp.send("Memory.getDOMCounters")
    return {
        "js_heap_used_bytes": min(heaps),
        "renderer_rss_bytes": renderer_rss_bytes(),
        "dom_nodes": counters["nodes"],
        "js_event_listeners": counters["jsEventListeners"],
        "seq": int(await page.locator("body").get_attribute("data-seq") or 0),
        "badge": await page.locator("#badge").get_attribute("data-state"),
    }


async def watch_page(web_port: int, minutes: float, every_s: float) -> list[dict]:
    samples: list[dict] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[MARK, *CHROMIUM_ARGS])
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"http://127.0.0.1:{web_port}/?lang=zh")
        cdp = await context.new_cdp_session(page)
        await cdp.send("HeapProfiler.enable")
        t0 = time.monotonic()
        n = 0
        while True:
            n += 1
            await asyncio.sleep(max(0.0, t0 + n * every_s - time.monotonic()))
            sample = {"minute": round((time.monotonic() - t0) / 60, 2), **await measure(page, cdp)}
            sample["console_errors"] = len(errors)
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            if sample["minute"] >= minutes:
                break
        await browser.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per real second")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--port", type=int, default=19496, help="local broker port")
    opts = parser.parse_args()
    web_port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="pulseboard-bench-") as state:
        env = {**os.environ, "PULSEBOARD_STATE_DIR": state}
        up = subprocess.Popen(
            [sys.executable, "-m", "pulseboard.cli", "up", "--kafka-port", str(opts.port),
             "--speed", str(opts.speed), "--rate", str(opts.rate), "--web-port",
             str(web_port), "--metrics-port", str(metrics_port)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        load0 = os.getloadavg()
        try:
            wait_ready(web_port, up, 300)
            samples = asyncio.run(watch_page(web_port, opts.minutes, opts.every))
        finally:
            up.send_signal(signal.SIGINT)  # what Ctrl-C does: everything stops, broker too
            try:
                up.wait(timeout=120)
            except subprocess.TimeoutExpired:
                up.kill()
    at5 = min(samples, key=lambda s: abs(s["minute"] - 5))
    last = samples[-1]
    report = {
        "machine": machine(
            load0,
            chromium=subprocess.run(
                [CHROMIUM, "--version"], capture_output=True, text=True
            ).stdout.strip(),
        ),
        "conditions": f"pulseboard up --speed {opts.speed} --rate {opts.rate}; page at "
        "1920x1080, lang=zh; heap after forced GC, least of 4 readings",
        "heap_at_5_min_bytes": at5["js_heap_used_bytes"],
        f"heap_at_{opts.minutes:g}_min_bytes": last["js_heap_used_bytes"],
        "heap_change_pct": round(
            100 * (last["js_heap_used_bytes"] / at5["js_heap_used_bytes"] - 1), 2
        ),
        "renderer_rss_at_5_min_bytes": at5["renderer_rss_bytes"],
        f"renderer_rss_at_{opts.minutes:g}_min_bytes": last["renderer_rss_bytes"],
        "renderer_rss_change_pct": round(
            100 * (last["renderer_rss_bytes"] / at5["renderer_rss_bytes"] - 1), 2
        ),
        "dom_nodes_5_vs_last": [at5["dom_nodes"], last["dom_nodes"]],
        "listeners_5_vs_last": [at5["js_event_listeners"], last["js_event_listeners"]],
        "console_errors": last["console_errors"],
        "samples": samples,
    }
    save_report("page-memory", report, hide=("samples",))


if __name__ == "__main__":
    main()
