"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import json
import os
import platform
import socket
import urllib.request
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "bench-results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x: how fast a backlog grows (0 when it is flat)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def machine(load_avg_at_start: tuple[float, float, float], **extra: object) -> dict:
    """What a result needs to be read: the machine and how busy it was when the run began."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **extra,
        "load_avg_at_start": load_avg_at_start,
    }


def save_report(name: str, report: dict, *, hide: tuple[str, ...] = ()) -> None:
    """Write ``bench-results/<name>.json`` whole, and print it without the ``hide`` keys
    (long sample lists)."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k not in hide}, indent=2))


def scrape(port: int) -> dict[str, float]:
    """A service's /metrics on 127.0.0.1: the sum of every pulseboard_* sample by metric
    name (labels summed over); empty if it does not answer."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.decode().splitlines():
        if line.startswith("pulseboard_"):
            name, _, value = line.rpartition(" ")
            key = name.split("{")[0]
            out[key] = out.get(key, 0.0) + float(value)
    return out
