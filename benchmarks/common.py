"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import os
import platform
import socket


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
