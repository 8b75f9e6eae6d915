"""Connection settings shared by every aiokafka client of the project."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from pulseboard.config import Config


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


async def topic_partitions(config: Config, topics: list[str]) -> dict[str, list[int]]:
    """Partition ids of each existing topic among `topics` (missing topics are left out)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_kwargs(config, "pulseboard-metadata"))
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
