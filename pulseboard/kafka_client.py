"""Connection settings shared by every aiokafka client of the project."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import murmur2

from pulseboard.config import Config


def kafka_producer(
    config: Config,
    client_id: str,
    producer_class: type[AIOKafkaProducer] = AIOKafkaProducer,
    **settings: Any,
) -> AIOKafkaProducer:
    """A producer for the configured cluster, its metadata retries paced (``paced``)."""
    return paced(producer_class(**client_kwargs(config, client_id), **settings))


def kafka_consumer(config: Config, client_id: str, **settings: Any) -> AIOKafkaConsumer:
    """A consumer for the configured cluster, its metadata retries paced (``paced``)."""
    return paced(AIOKafkaConsumer(**client_kwargs(config, client_id), **settings))


def kafka_admin(config: Config, client_id: str) -> AIOKafkaAdminClient:
    """An admin client for the configured cluster, its metadata retries paced."""
    return paced(AIOKafkaAdminClient(**client_kwargs(config, client_id)))


def client_kwargs(config: Config, client_id: str) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured cluster, SASL/TLS included.

    The API version is left to negotiation: pinning an old one breaks on Kafka 4.x."""
    k = config.kafka
    kwargs: dict[str, Any] = {
        "bootstrap_servers": config.bootstrap_servers,
        "client_id": client_id,
        "security_protocol": k.security_protocol,
    }
    if k.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(
            cafile=k.ssl_cafile, certfile=k.ssl_certfile, keyfile=k.ssl_keyfile
        )
    if k.security_protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = k.sasl_mechanism
        kwargs["sasl_plain_username"] = k.sasl_username
        kwargs["sasl_plain_password"] = k.sasl_password
    return kwargs


def default_partition(key: bytes, count: int) -> int:
    """The partition Kafka's default partitioner (Java's and aiokafka's) gives a key."""
    return (murmur2(key) & 0x7FFFFFFF) % count


class KeyPartitioner:
    """``default_partition``, remembered: aiokafka's murmur2 is pure Python (microseconds a
    key) and keys repeat (trucks, data centres, indicators). Bounded: emptied when full."""

    def __init__(self, limit: int = 65_536) -> None:
        self._seen: dict[tuple[bytes, int], int] = {}
        self._limit = limit

    def __call__(self, key: bytes, count: int) -> int:
        p = self._seen.get((key, count))
        if p is None:
            if len(self._seen) >= self._limit:
                self._seen.clear()
            p = self._seen[(key, count)] = default_partition(key, count)
        return p


METADATA_RETRY_FIRST_S = 0.1
METADATA_RETRY_MAX_S = 2.0

_Client = TypeVar("_Client")


def paced(owner: _Client, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> _Client:
    """`owner` (an aiokafka producer, consumer or admin client), with exponential backoff
    between failed metadata refreshes; returns it.

    aiokafka retries a failed refresh as soon as it is asked again, and while the cluster is
    unreachable its sender and fetcher ask in a loop: thousands of attempts and ERROR lines
    a second, and a busy core, for as long as an outage lasts (seen in tests/test_faults.py:
    175,000 log lines from one producer in a 20 s outage). Java clients back off
    (`retry.backoff.ms` up to `retry.backoff.max.ms`, with jitter); this does the same, from
    0.1 s to 2 s, reset by the first refresh that succeeds. It wraps a private method of
    aiokafka's client, so it is guarded: if a release renames it, nothing is changed."""
    client = getattr(owner, "client", None) or getattr(owner, "_client", None)
    update = getattr(client, "_metadata_update", None)
    if update is None or getattr(update, "_pulseboard_paced", False):
        return owner
    delay = METADATA_RETRY_FIRST_S

    async def paced_update(*args: Any, **kwargs: Any) -> Any:
        nonlocal delay
        ok = await update(*args, **kwargs)
        if ok:
            delay = METADATA_RETRY_FIRST_S
        else:
            # Waiting here holds aiokafka's one metadata task, so every caller waits too.
            await sleep(delay * random.uniform(0.8, 1.2))
            delay = min(METADATA_RETRY_MAX_S, delay * 2)
        return ok

    paced_update._pulseboard_paced = True  # type: ignore[attr-defined]
    client._metadata_update = paced_update  # type: ignore[union-attr]
    return owner


async def topic_partitions(config: Config, topics: list[str]) -> dict[str, list[int]]:
    """Partition ids of each existing topic among `topics` (missing topics are left out)."""
    admin = kafka_admin(config, "pulseboard-metadata")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t in existing]
        described = await admin.describe_topics(wanted) if wanted else []
        return {
            d["topic"]: sorted(p["partition"] for p in d["partitions"])
            for d in described
            if d["error_code"] == 0
        }
    finally:
        await admin.close()
