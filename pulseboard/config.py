"""The one configuration object: built from defaults, environment and command-line flags,
validated once at start so a wrong setting fails fast with a message that says what to fix."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pulseboard import packs, spec

REPO_ROOT = Path(__file__).resolve().parent.parent

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_FORMATS = ("text", "json")


# Internal topic of the live aggregator (docs/aggregator.md): sealed per-second buckets from
# its stage 1 (sealers) to its stage 2 (finalizer). One partition by design: that makes
# exactly one finalizer of the consumer group active.
TOPIC_BUCKETS = "indicators.buckets"
# Every final indicator record, per session (docs/history.md): time-retained, not compacted.
TOPIC_HISTORY = "indicators.history"
TOPIC_ANOMALIES = "anomalies"
DEFAULT_HISTORY_RETENTION_DAYS = 30.0
# The aggregator's consumer groups (after the topic prefix): stage 1 on the events topics,
# stage 2 on the internal topic. A replay asks the first one who is consuming.
SEALER_GROUP = "pulseboard-aggregate"
FINALIZER_GROUP = "pulseboard-finalize"


# A session is a named run of the pipeline (SPEC section 9): ``live``, or one per replayed
# log. Each non-live session has its own topics, so a replay never reaches the live wall.
LIVE_SESSION = "live"
SESSION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def session_prefix(session: str) -> str:
    """The part a session adds to the topic prefix ("" for live)."""
    return "" if session == LIVE_SESSION else f"session-{session}."


class ConfigError(ValueError):
    """A setting is wrong; the message names the setting and how to fix it."""


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Where the cluster is and how to talk to it. ``bootstrap_servers=None`` means the
    project's own local broker."""

    bootstrap_servers: str | None = None
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topic_prefix: str = ""
    session: str = LIVE_SESSION
    freight_partitions: int = 6
    sector_partitions: int = 3
    indicators_partitions: int = 3
    dlq_partitions: int = 1
    replication_factor: int = 1

    @property
    def prefix(self) -> str:
        """What every topic and consumer group name of this session starts with."""
        return self.topic_prefix + session_prefix(self.session)

    def topic(self, base: str) -> str:
        if base == TOPIC_HISTORY:
            # One history for every session of a prefix: it holds them all, by name.
            return self.topic_prefix + base
        return self.prefix + base

    def partitions(self) -> dict[str, int]:
        """Partition count per base topic name."""
        return {
            spec.TOPIC_FREIGHT: self.freight_partitions,
            spec.TOPIC_SECTOR: self.sector_partitions,
            spec.TOPIC_INDICATORS: self.indicators_partitions,
            spec.TOPIC_DLQ: self.dlq_partitions,
            TOPIC_BUCKETS: 1,
            TOPIC_HISTORY: 1,
            TOPIC_ANOMALIES: 1,
        }


@dataclass(frozen=True, slots=True)
class LocalBrokerSettings:
    """The embedded single-node KRaft broker (`pulseboard kafka up`)."""

    port: int = 19092
    state_dir: Path = field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "pulseboard"
        )
    )
    cache_dir: Path = field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pulseboard"
        )
    )
    heap: str = "1g"

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True, slots=True)
class Config:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    broker: LocalBrokerSettings = field(default_factory=LocalBrokerSettings)
    lateness_ms: int = spec.DEFAULT_LATENESS_MS
    future_ms: int = spec.DEFAULT_FUTURE_MS
    # Loopback unless told otherwise; containers set 0.0.0.0 so Prometheus can scrape them.
    metrics_host: str = "127.0.0.1"
    # "text" for people, "json" (one object per line) for log shippers; see pulseboard/logs.py.
    log_format: str = "text"
    # Services wait for an unreachable cluster; None = for ever (a wall must come up by
    # itself when the broker does), else give up after this many seconds (pulseboard/connect.py).
    connect_timeout_s: float | None = None
    # The history topic keeps records this long (by write time); None for the index folder
    # means <state dir>/history/<topic> (one per topic: prefixes never share an index).
    history_retention_days: float = DEFAULT_HISTORY_RETENTION_DAYS
    history_dir: Path | None = None
    # The area shown (SPEC section 10): a pack name from pulseboard/packs/.
    region: str = packs.DEFAULT_PACK

    @property
    def pack(self) -> packs.RegionPack:
        return packs.load(self.region)

    @property
    def history_index_dir(self) -> Path:
        return self.history_dir or (
            self.broker.state_dir / "history" / self.kafka.topic(TOPIC_HISTORY)
        )

    @property
    def bootstrap_servers(self) -> str:
        """The cluster every client connects to."""
        return self.kafka.bootstrap_servers or self.broker.bootstrap

    @property
    def uses_local_broker(self) -> bool:
        return self.kafka.bootstrap_servers is None

    def validate(self) -> Config:
        k = self.kafka
        try:
            self.pack  # noqa: B018 - loading checks the name and the pack file
        except packs.PackError as exc:
            raise ConfigError(str(exc)) from None
        if k.bootstrap_servers is not None:
            for server in k.bootstrap_servers.split(","):
                host, _, port = server.strip().rpartition(":")
                bad_host = not host or any(c.isspace() for c in host)
                if bad_host or not port.isdigit() or not 0 < int(port) < 65536:
                    raise ConfigError(
                        f"bootstrap server {server!r} is not host:port; set "
                        "--bootstrap-servers / PULSEBOARD_BOOTSTRAP like 'kafka1:9092,kafka2:9092'"
                    )
        if not SESSION_NAME.fullmatch(k.session):
            raise ConfigError(
                f"session name {k.session!r} is not valid: use 1-63 characters a-z, 0-9, '_' "
                "and '-', starting with a letter or digit (--session / PULSEBOARD_SESSION)"
            )
        if k.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"security protocol {k.security_protocol!r} is unknown; "
                f"PULSEBOARD_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}"
            )
        if k.security_protocol.startswith("SASL"):
            if k.sasl_mechanism not in SASL_MECHANISMS:
                raise ConfigError(
                    f"{k.security_protocol} needs PULSEBOARD_SASL_MECHANISM, one of "
                    f"{', '.join(SASL_MECHANISMS)} (got {k.sasl_mechanism!r})"
                )
            if not k.sasl_username or not k.sasl_password:
                raise ConfigError(
                    f"{k.security_protocol} needs PULSEBOARD_SASL_USERNAME and "
                    "PULSEBOARD_SASL_PASSWORD"
                )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(k, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{name} {path!r} does not exist or is not a file")
        for base, count in k.partitions().items():
            if count < 1:
                raise ConfigError(f"partition count for {base} must be >= 1 (got {count})")
        if k.replication_factor < 1:
            raise ConfigError("PULSEBOARD_REPLICATION_FACTOR must be >= 1")
        if self.uses_local_broker and k.replication_factor != 1:
            raise ConfigError(
                "the local broker has one node: PULSEBOARD_REPLICATION_FACTOR must be 1"
            )
        if not 1024 <= self.broker.port < 65535:
            raise ConfigError(
                f"local broker port {self.broker.port} is out of range; use 1024..65534"
            )
        if self.lateness_ms < 0 or self.future_ms < 0:
            raise ConfigError("lateness and future allowances must be >= 0 ms")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"log format {self.log_format!r} is unknown; set PULSEBOARD_LOG_FORMAT / "
                f"--log-format to one of {', '.join(LOG_FORMATS)}"
            )
        if self.connect_timeout_s is not None and not self.connect_timeout_s >= 0:
            raise ConfigError(
                f"connect timeout {self.connect_timeout_s} must be >= 0 seconds; set "
                "--connect-timeout / PULSEBOARD_CONNECT_TIMEOUT (unset: retry for ever)"
            )
        if not 0 < self.history_retention_days <= 36_500:
            raise ConfigError(
                f"history retention {self.history_retention_days} days must be > 0 and at "
                "most 36500; set PULSEBOARD_HISTORY_RETENTION_DAYS"
            )
        return self


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def config_from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Config:
    """Defaults, then ``PULSEBOARD_*`` variables, then explicit overrides (CLI flags;
    ``None`` means "not given"). The result is validated."""
    env = os.environ if env is None else env
    region = str(overrides.get("region") or env.get("PULSEBOARD_REGION") or packs.DEFAULT_PACK)
    if region not in packs.PACK_NAMES:
        raise ConfigError(
            f"region {region!r} is unknown; use one of {', '.join(packs.PACK_NAMES)} "
            "(--region / PULSEBOARD_REGION)"
        )
    # Each pack has its own default prefix, so two areas on one cluster never mix.
    default_prefix = packs.load(region).topic_prefix
    kafka = KafkaSettings(
        bootstrap_servers=env.get("PULSEBOARD_BOOTSTRAP") or None,
        security_protocol=env.get("PULSEBOARD_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
        sasl_mechanism=env.get("PULSEBOARD_SASL_MECHANISM") or None,
        sasl_username=env.get("PULSEBOARD_SASL_USERNAME") or None,
        sasl_password=env.get("PULSEBOARD_SASL_PASSWORD") or None,
        ssl_cafile=env.get("PULSEBOARD_SSL_CAFILE") or None,
        ssl_certfile=env.get("PULSEBOARD_SSL_CERTFILE") or None,
        ssl_keyfile=env.get("PULSEBOARD_SSL_KEYFILE") or None,
        topic_prefix=env.get("PULSEBOARD_TOPIC_PREFIX", default_prefix),
        session=env.get("PULSEBOARD_SESSION") or LIVE_SESSION,
        freight_partitions=_env_int(env, "PULSEBOARD_FREIGHT_PARTITIONS", 6),
        sector_partitions=_env_int(env, "PULSEBOARD_SECTOR_PARTITIONS", 3),
        indicators_partitions=_env_int(env, "PULSEBOARD_INDICATORS_PARTITIONS", 3),
        dlq_partitions=_env_int(env, "PULSEBOARD_DLQ_PARTITIONS", 1),
        replication_factor=_env_int(env, "PULSEBOARD_REPLICATION_FACTOR", 1),
    )
    broker = LocalBrokerSettings(port=_env_int(env, "PULSEBOARD_KAFKA_PORT", 19092))
    if env.get("PULSEBOARD_STATE_DIR"):
        broker = replace(broker, state_dir=Path(env["PULSEBOARD_STATE_DIR"]))
    if env.get("PULSEBOARD_CACHE_DIR"):
        broker = replace(broker, cache_dir=Path(env["PULSEBOARD_CACHE_DIR"]))
    if env.get("PULSEBOARD_KAFKA_HEAP"):
        broker = replace(broker, heap=env["PULSEBOARD_KAFKA_HEAP"])
    config = Config(
        kafka=kafka,
        broker=broker,
        lateness_ms=_env_int(env, "PULSEBOARD_LATENESS_MS", spec.DEFAULT_LATENESS_MS),
        future_ms=_env_int(env, "PULSEBOARD_FUTURE_MS", spec.DEFAULT_FUTURE_MS),
        metrics_host=env.get("PULSEBOARD_METRICS_HOST") or "127.0.0.1",
        log_format=(env.get("PULSEBOARD_LOG_FORMAT") or "text").strip().lower(),
        connect_timeout_s=_env_float(env, "PULSEBOARD_CONNECT_TIMEOUT"),
        region=region,
    )
    retention = env.get("PULSEBOARD_HISTORY_RETENTION_DAYS", "").strip()
    if retention:
        try:
            config = replace(config, history_retention_days=float(retention))
        except ValueError:
            raise ConfigError(
                f"PULSEBOARD_HISTORY_RETENTION_DAYS={retention!r} is not a number of days"
            ) from None
    if env.get("PULSEBOARD_HISTORY_DIR"):
        config = replace(config, history_dir=Path(env["PULSEBOARD_HISTORY_DIR"]))
    kafka_over = {k: v for k, v in overrides.items() if v is not None and hasattr(kafka, k)}
    broker_over = {k: v for k, v in overrides.items() if v is not None and hasattr(broker, k)}
    top_over = {
        k: v
        for k, v in overrides.items()
        if v is not None and k in ("lateness_ms", "future_ms", "log_format", "connect_timeout_s")
    }
    top_over |= {k: v for k, v in overrides.items() if v is not None and k.startswith("history_")}
    config = replace(
        config,
        kafka=replace(config.kafka, **kafka_over),  # type: ignore[arg-type]
        broker=replace(config.broker, **broker_over),  # type: ignore[arg-type]
        **top_over,  # type: ignore[arg-type]
    )
    return config.validate()
