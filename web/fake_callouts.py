"""Call-outs for development and the docs' picture, without the detector: creates the live
anomalies topic of a prefix if it is missing and writes anomaly records to it, as the
detector would (the format: pulseboard/anomalies.py).

    .venv/bin/python -m web.fake_callouts           # three sample call-outs, opened now
    .venv/bin/python -m web.fake_callouts --close   # and closed again"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

import orjson
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from pulseboard.config import TOPIC_ANOMALIES, Config, config_from_env
from pulseboard.kafka_client import kafka_admin, kafka_producer
from pulseboard.packs import RegionPack


def anomalies_topic(config: Config) -> str:
    """The live session's anomalies topic (the one the push server and its index read)."""
    return config.kafka.topic_prefix + TOPIC_ANOMALIES


async def ensure_anomalies_topic(config: Config, partitions: int = 1) -> str:
    topic = anomalies_topic(config)
    admin = kafka_admin(config, "pulseboard-fake-callouts")
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            # Created meanwhile by someone else: as good.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(topic, partitions, config.kafka.replication_factor)]
                )
    finally:
        await admin.close()
    return topic


async def publish_anomalies(config: Config, records: list[dict[str, Any]]) -> None:
    """Write anomaly records keyed ``name|key`` and wait until the broker has them all."""
    producer = kafka_producer(config, "pulseboard-fake-callouts", linger_ms=5)
    await producer.start()
    try:
        topic = anomalies_topic(config)
        sent = [
            await producer.send(topic, orjson.dumps(r), key=f"{r['name']}|{r['key']}".encode())
            for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def sample(pack: RegionPack, t: int, state: str = "opened") -> list[dict[str, Any]]:
    """A closed corridor, a quiet region and a busy area: one of each kind of place, on the
    pack's own codes (its default closure target, or its first two regions)."""
    regions = [r.code for r in pack.regions]
    corridor = pack.incident_targets.get("corridor_closure", f"{regions[0]}>{regions[-1]}")

    def rec(name: str, key: str, value: float, expected: float, score: float) -> dict[str, Any]:
        return {
            "t": t, "name": name, "key": key, "value": value, "expected": expected,
            "low": expected * 0.7, "high": expected * 1.3, "score": score, "state": state,
        }  # fmt: skip

    return [
        rec("corridor_shipments_15m", corridor, 3, 17, -4.5),
        rec("freight_value_1h", regions[len(regions) // 2], 9_000_000, 30_000_000, -3.2),
        rec("shipments_1m", pack.province.code, 380, 260, 2.6),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--close", action="store_true", help="close the sample call-outs")
    args = parser.parse_args(argv)
    config = config_from_env()

    async def run() -> None:
        await ensure_anomalies_topic(config)
        await publish_anomalies(
            config, sample(config.pack, int(time.time()), "closed" if args.close else "opened")
        )

    asyncio.run(run())
    print(f"wrote {len(sample(config.pack, 0))} call-outs to {anomalies_topic(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
