"""A stand-in for the aggregator: plausible indicator records on the `indicators` topic.

For developing and testing the wall before the real pipeline exists, and for benchmarks.
Values follow bounded random walks around figures of a plausible size, for the regions,
sectors and partners of the configured region pack (``--region``); the whole area's rows are
the sums (or weighted means) of the regions so the page looks consistent.

    python -m web.fake_feed --rate 4            # until Ctrl-C, local broker

Like the services it waits for an unreachable cluster (for ever unless --connect-timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from pulseboard import packs, spec
from pulseboard.cli_support import cluster_options, load_config, unreachable
from pulseboard.config import Config, ConfigError
from pulseboard.connect import wait_for_cluster
from pulseboard.kafka_client import kafka_producer
from pulseboard.logs import configure_logging
from pulseboard.packs import RegionPack

log = logging.getLogger("pulseboard.fake_feed")

Record = dict[str, Any]

# The shape of an area's economy, made up from its pack so no area is written here: the
# regions in the pack's order weigh 1.0, then less and less (a pack lists its capital
# region first); the four heaviest host the data centres, the export partners in the
# pack's order get less and less, and the sectors a level each.
_DC_MW = (320.0, 160.0, 40.0, 25.0)
_SECTOR_1H = (9e6, 1.2e7, 6e6, 7e6, 2.2e7, 2.6e7, 1.1e7, 1.4e7, 2.4e7, 1.8e7, 1.5e7, 8e6)


def region_weights(pack: RegionPack) -> dict[str, float]:
    """Relative freight of each region: 1.0 for the pack's first, then a slow decline."""
    return {r.code: round(1.0 / (1 + 0.35 * i) ** 0.9, 3) for i, r in enumerate(pack.regions)}


_COUNTS = frozenset({"shipments_1m", "shipments_today", "active_trucks_5m", "deliveries_1h"})
_SUMS = frozenset(
    {"tonnage_1h", "freight_value_1h", "freight_value_today", "export_value_1h",
     "output_value_1h", "dc_power_mw_5m"}
)  # fmt: skip


def indicator_key(name: str, key: str) -> bytes:
    return f"{name}|{key}".encode()


def encode(record: Record) -> bytes:
    return orjson.dumps(record)


@dataclass(slots=True)
class FakeIndicators:
    """Deterministic for a seed. ``step(t)`` advances one tick and returns the records of
    every value that changed; ``all_records(t)`` is the full table."""

    seed: int = 0
    final_every: int = 0  # every Nth step is marked final (0: never)
    pack: RegionPack = field(default_factory=lambda: packs.load(packs.DEFAULT_PACK))
    _rng: random.Random = field(init=False)
    _level: dict[tuple[str, str], float] = field(init=False)
    _weight: dict[str, float] = field(init=False)
    _dc_mw: dict[str, float] = field(init=False)
    _sectors: dict[str, float] = field(init=False)
    _steps: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._level = {}
        self._weight = region_weights(self.pack)
        self._dc_mw = dict(zip(self._weight, _DC_MW, strict=False))
        self._sectors = {
            code: _SECTOR_1H[i % len(_SECTOR_1H)] for i, code in enumerate(self.pack.sector_codes)
        }
        partners = self.pack.export_partners
        countries = {cc: 9.0 / (1 + 0.25 * i) for i, cc in enumerate(partners)}
        for code, w in self._weight.items():
            self._level[("ship", code)] = 60.0 * w
            self._level[("value", code)] = 8.0e7 * w
            self._level[("trucks", code)] = 900.0 * w
            self._level[("ontime", code)] = 0.9
            self._level[("transit", code)] = 90.0 + 120 * (1 - w)
            self._level[("digital", code)] = 0.25 + 0.15 * w
            for sector, level in self._sectors.items():
                self._level[("sector", f"{code}|{sector}")] = level * w / 4.5
        for code, mw in self._dc_mw.items():
            self._level[("dc", code)] = mw
            self._level[("dcu", code)] = 0.7
        for cc, w in countries.items():
            self._level[("country", cc)] = 1.6e6 * w
        for origin, w in self._weight.items():
            for dest in (*self._weight, *(e.code for e in self.pack.exits)):
                if dest != origin:
                    self._level[("corridor", f"{origin}>{dest}")] = 40.0 * w * self._rng.random()

    def _day_fraction(self, t: int) -> float:
        """How much of the area's local day (SPEC section 6) has passed at epoch second t."""
        local = datetime.fromtimestamp(t, ZoneInfo(self.pack.time_zone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return (local - midnight).total_seconds() / 86400

    def _walk(self, what: str, key: str, spread: float, lo: float, hi: float) -> float:
        v = self._level[(what, key)] * (1 + self._rng.uniform(-spread, spread))
        v = min(max(v, lo), hi)
        self._level[(what, key)] = v
        return v

    def all_records(self, t: int, ingest_ms: int | None = None) -> list[Record]:
        return list(self._records(t, ingest_ms, every=True))

    def step(self, t: int, ingest_ms: int | None = None) -> list[Record]:
        self._steps += 1
        return list(self._records(t, ingest_ms, every=False))

    def _records(self, t: int, ingest_ms: int | None, *, every: bool) -> Iterator[Record]:
        final = self.final_every > 0 and self._steps % self.final_every == 0
        rng = self._rng
        p = self.pack.province.code
        digital_sectors = self.pack.digital_sectors

        def rec(name: str, key: str, value: float | int | None) -> Record:
            r: Record = {"t": t, "name": name, "key": key, "value": value, "final": final}
            if ingest_ms is not None:
                r["ingest_ts"] = ingest_ms
            return r

        def emit() -> bool:
            # The aggregator publishes changes only: most values move most ticks.
            return every or rng.random() < 0.7

        sums: dict[str, float] = {}
        day_fraction = self._day_fraction(t)
        for code, w in self._weight.items():
            ship = self._walk("ship", code, 0.08, 5, 400 * w)
            value = self._walk("value", code, 0.03, 5e6, 6e8 * w)
            trucks = self._walk("trucks", code, 0.02, 50, 4000 * w)
            ontime = self._walk("ontime", code, 0.01, 0.7, 0.995)
            transit = self._walk("transit", code, 0.02, 30, 400)
            digital = self._walk("digital", code, 0.01, 0.1, 0.6)
            values: dict[str, float | int] = {
                "shipments_1m": round(ship),
                "shipments_today": round(ship * 60 * 24 * day_fraction) + round(ship),
                "tonnage_1h": round(ship * 60 * 11.5, 1),
                "freight_value_1h": round(value, 2),
                "freight_value_today": round(value * 24 * day_fraction + value, 2),
                "export_value_1h": round(value * 0.12, 2),
                "active_trucks_5m": round(trucks),
                "deliveries_1h": round(ship * 55),
                "on_time_rate_1h": round(ontime, 4),
                "avg_transit_min_1h": round(transit, 1),
            }
            sector_total = 0.0
            digital_total = 0.0
            for sector in self._sectors:
                sv = self._walk("sector", f"{code}|{sector}", 0.03, 1e5, 1e9)
                sums[sector] = sums.get(sector, 0.0) + sv
                sector_total += sv
                if sector in digital_sectors:
                    digital_total += sv
                if emit():
                    yield rec("sector_value_1h", f"{code}|{sector}", round(sv, 2))
            values["output_value_1h"] = round(sector_total, 2)
            values["digital_share_1h"] = round(digital_total / sector_total, 4)
            del digital
            if code in self._dc_mw:
                values["dc_power_mw_5m"] = round(self._walk("dc", code, 0.02, 5, 900), 2)
                values["dc_utilization_5m"] = round(self._walk("dcu", code, 0.02, 0.3, 0.97), 4)
            for name, v in values.items():
                sums[name] = sums.get(name, 0.0) + v
                if emit():
                    yield rec(name, code, v)
        n = len(self._weight)
        province: dict[str, float | int | None] = {
            name: sums[name]
            for name in (
                "shipments_1m", "shipments_today", "tonnage_1h", "freight_value_1h",
                "freight_value_today", "export_value_1h", "active_trucks_5m", "deliveries_1h",
                "output_value_1h", "dc_power_mw_5m",
            )
        }  # fmt: skip
        province["on_time_rate_1h"] = round(sums["on_time_rate_1h"] / n, 4)
        province["avg_transit_min_1h"] = round(sums["avg_transit_min_1h"] / n, 1)
        province["dc_utilization_5m"] = round(sums["dc_utilization_5m"] / len(self._dc_mw), 4)
        digital = sum(sums[s] for s in digital_sectors)
        province["digital_share_1h"] = round(digital / sum(sums[s] for s in self._sectors), 4)
        for name, v in province.items():
            if name in _COUNTS:
                v = round(v or 0)
            elif name in _SUMS:
                v = round(v or 0.0, 2)
            yield rec(name, p, v)
        for sector in self._sectors:
            yield rec("sector_value_1h", f"{p}|{sector}", round(sums[sector], 2))
        for cc in self.pack.export_partners:
            if emit():
                v = self._walk("country", cc, 0.04, 1e5, 5e7)
                yield rec("export_value_by_country_1h", cc, round(v, 2))
        for (what, key), _level in list(self._level.items()):
            if what == "corridor" and (every or rng.random() < 0.3):
                v = self._walk("corridor", key, 0.1, 0, 400)
                yield rec("corridor_shipments_15m", key, round(v))


async def publish(config: Config, records: Iterable[Record]) -> int:
    """Publish records (keyed name|key) and wait until the broker has them all."""
    producer = kafka_producer(config, "pulseboard-fake-feed", linger_ms=5)
    await producer.start()
    try:
        return await publish_with(producer, config, records)
    finally:
        await producer.stop()


async def publish_with(
    producer: AIOKafkaProducer, config: Config, records: Iterable[Record]
) -> int:
    topic = config.kafka.topic(spec.TOPIC_INDICATORS)
    sent = [
        await producer.send(topic, encode(r), key=indicator_key(r["name"], r["key"]))
        for r in records
    ]
    await asyncio.gather(*sent)
    return len(sent)


async def run_feed(
    config: Config,
    rate_hz: float = 4.0,
    duration_s: float | None = None,
    seed: int = 0,
    stop: asyncio.Event | None = None,
) -> int:
    """Publish the full table once, then ``rate_hz`` steps a second; returns steps made."""
    model = FakeIndicators(seed=seed, final_every=int(rate_hz * 5) or 1, pack=config.pack)
    topic = config.kafka.topic(spec.TOPIC_INDICATORS)
    if await wait_for_cluster(config, [topic], "fake-feed", log, stop) is None:
        return 0
    producer = kafka_producer(config, "pulseboard-fake-feed", linger_ms=5)
    await producer.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    steps = 0
    try:
        now_ms = time.time_ns() // 1_000_000
        await publish_with(producer, config, model.all_records(now_ms // 1000, now_ms))
        while not stop.is_set():
            if duration_s is not None and loop.time() - started >= duration_s:
                break
            now_ms = time.time_ns() // 1_000_000
            await publish_with(producer, config, model.step(now_ms // 1000, now_ms))
            steps += 1
            deadline = started + steps / rate_hz
            delay = max(0.0, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    finally:
        await producer.stop()
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m web.fake_feed", parents=[cluster_options()], description=__doc__
    )
    parser.add_argument("--rate", type=float, default=4.0, help="steps per second (default 4)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if not args.rate > 0:  # wrong arguments fail at once, never after waiting
            raise ConfigError(f"--rate must be > 0 (got {args.rate})")
        config = load_config(args)
        configure_logging(config)
        steps = asyncio.run(run_feed(config, args.rate, args.duration, args.seed))
    except ConfigError as exc:
        print(f"fake_feed: error: {exc}", file=sys.stderr)
        return 2
    except KafkaConnectionError as exc:
        print(f"fake_feed: error: {unreachable(config.bootstrap_servers, exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(f"published {steps} steps of fake indicators")
    return 0


if __name__ == "__main__":
    sys.exit(main())
