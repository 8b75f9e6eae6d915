"""`pulseboard produce` as a user runs it."""

from __future__ import annotations

import contextlib
import gzip
import re
import signal
import subprocess
import time
import urllib.request

import pytest
from support import Child, free_port, run_cli

ARGS = ["--count", "3000", "--seed", "5", "--start", "2026-11-20T08:00:00+08:00"]


def _produce(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(env or {}, "produce", *argv, timeout=120)


def test_to_file_gives_the_same_file_twice(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    assert _produce("--to-file", str(first), *ARGS).returncode == 0
    assert _produce("--to-file", str(second), *ARGS).returncode == 0
    again = tmp_path / "a2.jsonl"
    assert _produce("--to-file", str(again), *ARGS).returncode == 0
    assert first.read_bytes() == again.read_bytes()
    assert len(first.read_bytes().splitlines()) == 3000
    assert gzip.decompress(second.read_bytes()) == first.read_bytes()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--start", "2026-11-20T08:00:00"], "has no UTC offset"),
        (["--start", "yesterday"], "is not an ISO 8601 time"),
        (["--rate", "0"], "--rate must be > 0"),
        (["--invalid-fraction", "1.5"], "invalid_fraction"),
    ],
)
def test_wrong_options_fail_fast(tmp_path, argv, fragment):
    result = _produce("--to-file", str(tmp_path / "x.jsonl"), "--count", "10", *argv)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("pulseboard_producer_events_total{"):
            out[line.split(" ")[0]] = float(line.split(" ")[1])
    return out


@pytest.mark.integration
def test_sigterm_flushes_and_exits_cleanly_with_metrics(isolated):
    _, kafka_env = isolated
    port = free_port()
    child = Child(kafka_env, "produce", "--rate", "2000", "--metrics-port", str(port))
    try:
        # Records must reach Kafka within moments even at a low rate (no waiting for a
        # batch to fill), so the deadline is short.
        deadline = time.monotonic() + 20
        acked = 0.0
        while time.monotonic() < deadline and acked < 500:
            with contextlib.suppress(OSError):  # the endpoint is not up yet
                acked = sum(_scrape(port).values())
            if child.poll() is not None:
                break
            time.sleep(0.2)  # polling a condition with a deadline, not a fixed wait
        assert acked >= 500, child.stderr() if child.poll() is not None else "no events"
    finally:
        code, err = child.end(signal.SIGTERM)
    assert code == 0, err
    summary = re.search(r"published (\d+) of (\d+) records", err)
    assert summary, err
    acked_n, sent_n = summary.groups()
    assert acked_n == sent_n and int(acked_n) >= 500
