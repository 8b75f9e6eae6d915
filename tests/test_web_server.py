"""`pulseboard serve` against the real broker: compacted state first, then live deltas."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import uuid
from dataclasses import replace

import orjson
import pytest
from support import free_port, rows_of, serve_settings
from websockets.asyncio.client import connect

from pulseboard.config import Config
from pulseboard.topics import ensure_topics
from web import command
from web.fake_feed import FakeIndicators, publish
from web.harness import serving
from web.protocol import Timing

pytestmark = pytest.mark.integration


@pytest.fixture
async def topic_config(kafka_config: Config) -> Config:
    prefix = f"web-{uuid.uuid4().hex[:8]}."
    config = replace(kafka_config, kafka=replace(kafka_config.kafka, topic_prefix=prefix))
    await ensure_topics(config)
    return config


def rec(name: str, key: str, value: float | None, t: int, final: bool = False, **extra):
    return {"t": t, "name": name, "key": key, "value": value, "final": final, **extra}


async def recv(ws) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 15))


async def until(ws, predicate) -> dict:
    while True:
        msg = await recv(ws)
        if predicate(msg):
            return msg


async def test_snapshot_of_the_compacted_state_then_live_deltas(topic_config, static_dir):
    t = 1_764_000_000
    model = FakeIndicators(seed=7)
    retained = model.all_records(t)
    # Older, newer and equal-t records for one key: the greatest t wins, then the last.
    retained += [
        rec("shipments_1m", "520100", 5, t + 10),
        rec("shipments_1m", "520100", 4, t + 9),
        rec("shipments_1m", "520100", 6, t + 10, final=True),
    ]
    await publish(topic_config, retained)
    settings = serve_settings(static_dir, timing=Timing(4, 1, 10))
    async with serving(settings, topic_config) as server:
        await asyncio.wait_for(server.ready_event.wait(), 30)
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            snap = await until(ws, lambda m: m["type"] == "snapshot")
            # Numbered as the last broadcast it includes (pings may have gone out before).
            assert snap["ready"] is True and isinstance(snap["seq"], int)
            ids: dict[int, tuple[str, str]] = {}
            values = {
                (n, r[0]): r for n, rows in rows_of(snap, "values", ids).items() for r in rows
            }
            assert len(values) == len({(r["name"], r["key"]) for r in retained})
            assert values[("shipments_1m", "520100")] == ["520100", 6, t + 10, True]
            assert values[("freight_value_today", "520000")][1] > 0

            await publish(
                topic_config,
                [
                    rec("shipments_1m", "520000", 4321, t + 20, ingest_ts=1),
                    rec("shipments_1m", "520000", 4322, t + 21),
                    rec("on_time_rate_1h", "520300", None, t + 20),
                ],
            )
            seen: dict[tuple[str, str], list] = {}
            last_seq = snap["seq"]
            while seen.get(("shipments_1m", "520000"), [None, None])[1] != 4322:
                msg = await recv(ws)
                assert msg["seq"] == last_seq + 1
                last_seq = msg["seq"]
                if msg["type"] == "delta":
                    for name, rows in rows_of(msg, "changes", ids).items():
                        seen.update({(name, r[0]): r for r in rows})
            assert seen[("on_time_rate_1h", "520300")][1] is None
        metrics = server.metrics.registry
        assert metrics.get_sample_value("pulseboard_web_ready") == 1
        assert metrics.get_sample_value("pulseboard_web_messages_sent_total", {"type": "delta"})


async def test_the_serve_command_runs_until_stopped(topic_config, static_dir):
    """`pulseboard serve`'s arguments and loop: it listens where told, serves a snapshot of
    the topic's state, stops cleanly on SIGTERM and leaves no signal handler behind."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    with pytest.raises(SystemExit):
        command.settings_from_args(parser.parse_args(["--coalesce-hz", "0"]))
    port = free_port()
    args = parser.parse_args(["--port", str(port), "--coalesce-hz", "8", "--allow-origin", "*"])
    settings = command.settings_from_args(args)
    assert settings.timing.coalesce_hz == 8 and settings.allow_origins == ("*",)
    assert settings.host == "127.0.0.1"
    t = 1_764_000_000
    await publish(topic_config, [rec("shipments_1m", "520100", 17, t)])
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    task = asyncio.create_task(command.serve_until_stopped(settings, topic_config))
    ws = await connect_when_listening(f"ws://127.0.0.1:{port}/ws", task)
    try:
        snap = await until(ws, lambda m: m["type"] == "snapshot" and m["ready"])
        assert rows_of(snap, "values")["shipments_1m"] == [["520100", 17, t, False]]
    finally:
        await ws.close()
    assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]  # ours, not the default
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 15)  # returns: stopped by the signal, no error
    assert {sig: signal.getsignal(sig) for sig in before} == before


async def connect_when_listening(url: str, server: asyncio.Task):
    """A websocket to ``url`` as soon as the server accepts one (it binds after reading its
    settings); fails at once if the server task ends instead."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            return await connect(url)
        except OSError:
            if server.done():
                server.result()  # its error, if any
                raise
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.wait({server}, timeout=0.05)
