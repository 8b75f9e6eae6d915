"""The SPEC topics, created idempotently on whichever cluster is configured."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import NewTopic

from pulseboard import spec
from pulseboard.config import (
    LIVE_SESSION,
    TOPIC_ANOMALIES,
    TOPIC_BUCKETS,
    TOPIC_HISTORY,
    Config,
    ConfigError,
)
from pulseboard.kafka_client import kafka_admin

# Per-topic settings that are part of the design, not tuning: record timestamps are the
# producer's (simulated) publish time, which runs ahead of the wall clock at --speed > 1, so
# the events topics accept timestamps up to a year ahead (Kafka 4 refuses more than an hour by
# default); indicators is a compacted table of latest values; the DLQ must accept whatever
# arrived, up to the broker maximum.
_EVENTS = {
    "message.timestamp.type": "CreateTime",
    "message.timestamp.after.max.ms": str(366 * 86400 * 1000),
}
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    spec.TOPIC_FREIGHT: _EVENTS,
    spec.TOPIC_SECTOR: _EVENTS,
    spec.TOPIC_INDICATORS: {
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.1",
        "segment.ms": "600000",
    },
    spec.TOPIC_DLQ: {
        "max.message.bytes": "10485760",
        "retention.ms": str(7 * 86400 * 1000),
        "message.timestamp.after.max.ms": str(366 * 86400 * 1000),
    },
    # The aggregator's stage 1 -> stage 2 messages (wall-clock timestamps). A finalizer
    # taking over re-reads at most the hour before its last checkpoint; two days leave room
    # for a long outage. Hourly segments let retention work at low rates too.
    TOPIC_BUCKETS: {
        "cleanup.policy": "delete",
        "retention.ms": str(2 * 86400 * 1000),
        "segment.ms": str(3600 * 1000),
        "max.message.bytes": "10485760",
    },
    # Final records per session (docs/history.md): deleted by age of writing (the record
    # timestamp is the wall clock when written, so a replayed old day is kept as long as
    # a live one); retention.ms comes from the configuration (``topic_configs``).
    TOPIC_HISTORY: {
        "cleanup.policy": "delete",
        "message.timestamp.type": "CreateTime",
        "segment.ms": str(6 * 3600 * 1000),
        "max.message.bytes": "10485760",
    },
    # Anomaly call-outs (docs/anomalies.md): a few per hour; one partition keeps them in
    # time order for a reader. Time travel shows a call-out beside the history it annotates,
    # so retention.ms is the history's (``topic_configs``): neither outlives the other.
    TOPIC_ANOMALIES: {
        "cleanup.policy": "delete",
    },
}


def topic_configs(config: Config, base: str) -> dict[str, str]:
    """The settings a topic is created with: the design's, plus configured retention."""
    settings = dict(TOPIC_CONFIGS[base])
    if base in (TOPIC_HISTORY, TOPIC_ANOMALIES):
        settings["retention.ms"] = str(int(config.history_retention_days * 86400 * 1000))
    return settings


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    partitions: int
    wanted: int


async def ensure_topics(config: Config) -> tuple[list[str], list[TopicInfo]]:
    """Create missing topics; return (created names, every SPEC topic as it now is)."""
    admin = kafka_admin(config, "pulseboard-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {config.kafka.topic(b): n for b, n in config.kafka.partitions().items()}
        missing = [
            NewTopic(
                name=config.kafka.topic(base),
                num_partitions=count,
                replication_factor=config.kafka.replication_factor,
                topic_configs=topic_configs(config, base),
            )
            for base, count in config.kafka.partitions().items()
            if config.kafka.topic(base) not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in getattr(response, "topic_errors", []):
                # 36 = TOPIC_ALREADY_EXISTS: another process won the race; that is fine.
                if code not in (0, 36):
                    raise RuntimeError(f"could not create topic {name}: Kafka error {code}")
        described = await admin.describe_topics(list(wanted))
        infos = [
            TopicInfo(t["topic"], len(t["partitions"]), wanted[t["topic"]])
            for t in described
            if t["error_code"] == 0
        ]
        return [t.name for t in missing], sorted(infos, key=lambda t: t.name)
    finally:
        await admin.close()


async def describe_topics(config: Config) -> list[TopicInfo]:
    """The SPEC topics that exist, with their partition counts."""
    admin = kafka_admin(config, "pulseboard-admin")
    await admin.start()
    try:
        wanted = {config.kafka.topic(b): n for b, n in config.kafka.partitions().items()}
        existing = set(await admin.list_topics())
        present = [name for name in wanted if name in existing]
        described = await admin.describe_topics(present) if present else []
        return sorted(
            (TopicInfo(t["topic"], len(t["partitions"]), wanted[t["topic"]]) for t in described),
            key=lambda t: t.name,
        )
    finally:
        await admin.close()


async def drop_topics(config: Config) -> list[str]:
    """Delete a replay session's topics (never the live ones); returns those deleted."""
    if config.kafka.session == LIVE_SESSION:
        raise ConfigError("`kafka drop` deletes a replay session's topics: name it with --session")
    admin = kafka_admin(config, "pulseboard-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # The history topic is shared by every session (history drop removes a session).
        names = [config.kafka.topic(b) for b in config.kafka.partitions() if b != TOPIC_HISTORY]
        doomed = [name for name in names if name in existing]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
