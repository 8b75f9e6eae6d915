"""Call-outs through the real broker: anomaly records written to the anomalies topic reach a
websocket client (in the snapshot, then as deltas, sequence numbers unbroken), and the
history index answers which were active at a past second."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import orjson
import pytest
from support import anomaly, create_anomalies_topic, publish_anomalies, serve_settings
from web_raw import http
from websockets.asyncio.client import connect

from pulseboard.anomalies import parse_anomaly
from pulseboard.config import Config
from pulseboard.history.codec import Begin, End
from pulseboard.history.writer import SessionWriter, history_topic
from pulseboard.kafka_client import kafka_producer
from pulseboard.topics import ensure_topics
from web.harness import serving
from web.protocol import Timing

pytestmark = pytest.mark.integration

# An hour ago: live history older than the retention (30 days) is pruned at once.
T = int(time.time()) - 3600
CORRIDOR = ("corridor_shipments_15m", "520300>520100")  # Zunyi -> Guiyang
DC = ("dc_power_mw_5m", "520900")  # Gui'an


@pytest.fixture
async def topic_config(kafka_config: Config, tmp_path) -> Config:
    prefix = f"co-{uuid.uuid4().hex[:8]}."
    config = replace(
        kafka_config,
        kafka=replace(kafka_config.kafka, topic_prefix=prefix),
        history_dir=tmp_path / "history",
    )
    await ensure_topics(config)
    await create_anomalies_topic(config)
    return config


async def recv(ws) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 15))


def brief(callouts: list[dict]) -> list[tuple]:
    return [(c["name"], c["key"], c["t"], c["since"], c["score"]) for c in callouts]


async def test_anomaly_records_reach_a_websocket_client_and_the_history(topic_config, static_dir):
    # Retained before the server starts: one call-out opened and updated, one opened and closed.
    await publish_anomalies(
        topic_config,
        [
            anomaly("opened", T, *CORRIDOR, -4.2, 3, 17),
            anomaly("opened", T + 5, *DC, 3.1, 30, 20),
            anomaly("ongoing", T + 10, *CORRIDOR, -5.5, 3, 17),
            anomaly("closed", T + 20, *DC, 0.5, 21, 20),
        ],
    )
    settings = serve_settings(static_dir, timing=Timing(20, 1, 10))
    async with serving(settings, topic_config) as server:
        await asyncio.wait_for(server.ready_event.wait(), 30)
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            # The anomalies feed may trail the indicators' readiness by a moment: the
            # snapshot carries what was read, a delta the rest, in sequence.
            msg = await recv(ws)
            assert msg["type"] == "snapshot"
            seq, callouts = msg["seq"], msg["callouts"]  # the broadcasts it includes
            while brief(callouts) != [(*CORRIDOR, T + 10, T, -5.5)]:
                msg = await recv(ws)
                assert msg["seq"] == seq + 1
                seq = msg["seq"]
                callouts = msg.get("callouts", callouts)
            assert msg.get("callouts", callouts)[0]["expected"] == 17

            await publish_anomalies(topic_config, [anomaly("opened", T + 30, *DC, -9.0, 2, 20)])
            while True:
                msg = await recv(ws)
                assert msg["seq"] == seq + 1
                seq = msg["seq"]
                if "callouts" in msg:
                    break
            assert msg["type"] == "delta"
            assert brief(msg["callouts"]) == [
                (*DC, T + 30, T + 30, -9.0),
                (*CORRIDOR, T + 10, T, -5.5),
            ]
        registry = server.metrics.registry
        assert registry.get_sample_value("pulseboard_web_callouts_active") == 2

        # Time travel: the index took the same records (live needs a range: two values).
        producer = kafka_producer(topic_config, "test-history")
        await producer.start()
        try:
            w = SessionWriter(producer, history_topic(topic_config), "live")
            shipments = [(T, "shipments_1m", "520000", 5), (T + 40, "shipments_1m", "520000", 6)]
            await w.records(shipments, None)
            await w.close()
        finally:
            await producer.stop()

        async def live_to() -> int | None:
            r = await http(server.port, "/api/history/sessions")
            if r.status != 200:
                return None  # not ready yet
            return {s["name"]: s["to"] for s in orjson.loads(r.body)["sessions"]}.get("live")

        answered: list[int | None] = [None]

        async def ask() -> None:
            answered[0] = await live_to()

        deadline = asyncio.get_running_loop().time() + 30
        while answered[0] != T + 40:
            assert asyncio.get_running_loop().time() < deadline, "the index did not read live"
            await ask()
            await asyncio.sleep(0.2)  # the index follows the topic: polled, with a deadline
        got = {}
        for t in (T, T + 6, T + 20, T + 40):
            r = await http(server.port, f"/api/history/callouts?session=live&t={t}")
            assert r.status == 200, r.body
            got[t] = brief(orjson.loads(r.body)["callouts"])
        assert got == {
            T: [(*CORRIDOR, T, T, -4.2)],
            T + 6: [(*CORRIDOR, T, T, -4.2), (*DC, T + 5, T + 5, 3.1)],
            T + 20: [(*CORRIDOR, T + 10, T, -5.5)],
            T + 40: [(*DC, T + 30, T + 30, -9.0), (*CORRIDOR, T + 10, T, -5.5)],
        }
        r = await http(server.port, f"/api/history/callouts?session=live&t={T - 1}")
        assert r.status == 400 and b"outside session" in r.body

        # A replayed session's call-outs travel on the history topic in its generation.
        producer = kafka_producer(topic_config, "test-history")
        await producer.start()
        try:
            w = SessionWriter(producer, history_topic(topic_config), "day")
            await w.control(Begin("g1"))
            await w.records([(T, "shipments_1m", "520000", 5)], "g1")
            opened = parse_anomaly(None, orjson.dumps(anomaly("opened", T + 2, *DC, 6.5, 40, 20)))
            await w.anomalies([opened], "g1")
            await w.control(End("g1", T, T + 10, 1))
            await w.close()
        finally:
            await producer.stop()
        deadline = asyncio.get_running_loop().time() + 30
        while (
            r := await http(server.port, f"/api/history/callouts?session=day&t={T + 5}")
        ).status != 200:
            assert asyncio.get_running_loop().time() < deadline, r.body
            await asyncio.sleep(0.2)  # until the index has the session: polled, with a deadline
        assert brief(orjson.loads(r.body)["callouts"]) == [(*DC, T + 2, T + 2, 6.5)]
