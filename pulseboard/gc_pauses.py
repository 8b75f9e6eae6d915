"""The cyclic garbage collector in long-running services: one freeze at start-up, and the
pause of every collection timed into a histogram.

A full (generation 2) collection traverses every tracked object and stops the event loop
while it runs; its pause is what a service's latency tail is made of, so it is measured,
per generation, as ``pulseboard_gc_pause_seconds``."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

GC_PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


def freeze_start_up() -> None:
    """Collect once, then move every object alive now (modules, functions, classes, the
    configuration) to the permanent generation, which later collections never traverse.

    Call it ONCE, after imports and configuration and before any long-lived state exists.
    Objects made later are collected as usual. Never call it again in a running service:
    cyclic garbage among frozen objects is never freed, which a process that runs for weeks
    cannot afford."""
    gc.collect()
    gc.freeze()


def gc_pause_histogram(registry: CollectorRegistry) -> Histogram:
    """``pulseboard_gc_pause_seconds{generation}``, fed by ``watch_gc_pauses``."""
    return Histogram(
        "pulseboard_gc_pause_seconds",
        "Pause of the cyclic garbage collector, by generation (2: a full collection)",
        ["generation"],
        buckets=GC_PAUSE_BUCKETS,
        registry=registry,
    )


@contextmanager
def watch_gc_pauses(histogram: Histogram) -> Iterator[None]:
    """Time every collection into ``histogram`` while the block runs (``gc.callbacks`` is
    process-wide, so the callback is removed on the way out)."""
    # Children resolved now: ``labels()`` takes a lock while it allocates, and a collection
    # triggered inside it would run this callback and wait for that lock forever.
    children = [histogram.labels(str(g)) for g in range(3)]
    started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)
    try:
        yield
    finally:
        gc.callbacks.remove(on_gc)
