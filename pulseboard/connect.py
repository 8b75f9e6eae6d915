"""Waiting for the Kafka cluster when a command starts.

A wall runs unattended: if the broker is down or still starting when `produce`, `aggregate`,
`serve` or `record --follow` starts, the service must come up by itself once the broker
does; one-shot tools wait too, 30 s by default (``one_shot``). So an
unreachable cluster is retried with capped exponential backoff and jitter, one log line per
attempt, for ever unless `--connect-timeout` / `PULSEBOARD_CONNECT_TIMEOUT` says when to give
up. Settings no retry can fix fail at once with a `ConfigError` (exit code 2): a cluster
that accepts connections but refuses our security settings, and missing topics."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError

from pulseboard.config import Config, ConfigError
from pulseboard.kafka_client import client_kwargs, topic_partitions

# First and largest delay between attempts: quick when a broker is merely slow to start,
# and at most one line every half minute in the logs of a wall waiting for a long outage.
BACKOFF_S = (0.5, 30.0)
PROBE_TIMEOUT_MS = 10_000


# One-shot tools (`record` without --follow, `replay --to-kafka`) are run by someone at a
# terminal or in a script that waits for them: they tolerate a broker that is still starting
# but say "unreachable" within half a minute, unless --connect-timeout says otherwise.
ONE_SHOT_TIMEOUT_S = 30.0


def one_shot(config: Config) -> Config:
    """``config`` with the one-shot default give-up time, unless one was set."""
    if config.connect_timeout_s is not None:
        return config
    return dataclasses.replace(config, connect_timeout_s=ONE_SHOT_TIMEOUT_S)


class GaveUp(KafkaConnectionError):
    """The cluster stayed unreachable for the whole ``--connect-timeout``."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential delays with equal jitter, in [d/2, d], so a wall of services
    restarted together does not hammer a recovering broker in lock step."""

    first_s: float = BACKOFF_S[0]
    cap_s: float = BACKOFF_S[1]

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.first_s * 2 ** max(0, attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


def _hosts(config: Config) -> list[tuple[str, int]]:
    out = []
    for server in config.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        out.append((host.strip("[]"), int(port)))
    return out


async def _probe(config: Config) -> str | None:
    """None if some bootstrap server completes a connection with our security settings,
    else why not (for the log). Raises ConfigError when a server answers but refuses them."""
    kwargs = client_kwargs(config, "pulseboard-probe")
    del kwargs["bootstrap_servers"]
    reasons = []
    for host, port in _hosts(config):
        try:
            conn = await create_conn(host, port, request_timeout_ms=PROBE_TIMEOUT_MS, **kwargs)
        except ssl.SSLError as exc:  # an OSError, but one no retry fixes
            raise ConfigError(
                f"the TLS handshake with Kafka at {host}:{port} failed ({exc}); check "
                "PULSEBOARD_SECURITY_PROTOCOL and PULSEBOARD_SSL_CAFILE / _CERTFILE / _KEYFILE"
            ) from None
        except (TimeoutError, OSError, KafkaConnectionError) as exc:
            reasons.append(f"{host}:{port}: {exc or type(exc).__name__}")
            continue
        except KafkaError as exc:  # it answered: SASL refused, wrong protocol, ...
            k = config.kafka
            sasl = f" and SASL {k.sasl_mechanism}" if k.security_protocol.startswith("SASL") else ""
            raise ConfigError(
                f"Kafka at {host}:{port} accepts connections but refused ours with security "
                f"protocol {k.security_protocol}{sasl} ({type(exc).__name__}: {exc}); "
                "check PULSEBOARD_SECURITY_PROTOCOL, "
                "PULSEBOARD_SASL_MECHANISM / _USERNAME / _PASSWORD against the cluster's "
                "listener"
            ) from None
        conn.close()
        return None
    return "; ".join(reasons)


async def wait_for_cluster(
    config: Config,
    topics: Sequence[str],
    service: str,
    log: logging.Logger,
    stop: asyncio.Event | None = None,
    rng: random.Random | None = None,
    quiet: bool = False,
) -> dict[str, list[int]] | None:
    """The partitions of ``topics`` once the cluster answers and every one exists; None if
    ``stop`` was set while waiting. Raises ConfigError for missing topics or refused
    security settings, and GaveUp once ``config.connect_timeout_s`` is spent. ``quiet``: a
    second waiter of the same process (whose first waiter already says each attempt) logs
    its attempts at debug level only."""
    rng = rng or random.Random()
    backoff = Backoff()
    started = time.monotonic()
    attempt = 0
    where = config.bootstrap_servers
    while True:
        attempt += 1
        try:
            reason = await _probe(config)
            if reason is None:
                found = await topic_partitions(config, list(topics))
                break
        except (TimeoutError, OSError, KafkaConnectionError) as exc:
            # Reachable a moment ago (a broker that is still starting, or going down).
            reason = f"{exc or type(exc).__name__}"
        timeout = config.connect_timeout_s
        delay = backoff.delay(attempt, rng)
        if timeout is not None and time.monotonic() - started + delay > timeout:
            raise GaveUp(
                f"gave up after {attempt} attempt(s) in {time.monotonic() - started:.0f} s "
                f"(--connect-timeout {timeout:g}): {reason}"
            )
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            "%s: cannot reach Kafka at %s (attempt %d: %s); retrying in %.1f s. Is the broker "
            "up? Check --bootstrap-servers / PULSEBOARD_BOOTSTRAP; --connect-timeout gives up",
            service,
            where,
            attempt,
            reason,
            delay,
            extra={"event": "kafka_unreachable", "attempt": attempt},
        )
        if stop is None:
            await asyncio.sleep(delay)
        else:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return None
            except TimeoutError:
                pass
    missing = [t for t in topics if not found.get(t)]
    if missing:
        raise ConfigError(
            f"topic {', '.join(missing)} does not exist on Kafka at {where}; create the topics "
            "with `pulseboard kafka up` (or your cluster's tooling), or check --topic-prefix / "
            "PULSEBOARD_TOPIC_PREFIX"
        )
    if attempt > 1:
        log.info(
            "%s: reached Kafka at %s after %d attempts in %.1f s",
            service,
            where,
            attempt,
            time.monotonic() - started,
            extra={"event": "kafka_reachable"},
        )
    return found


# First and largest delay before a reader starts over after a failure.
RESTART_S = (1.0, 30.0)


async def keep_reading(
    read: Callable[[], Awaitable[None]], what: str, logger: logging.Logger
) -> None:
    """Run a reader that reads for ever; after a failure start it over, with capped
    exponential backoff. A wrong setting (ConfigError), a cluster given up on (GaveUp) and
    cancellation are not failures to retry: they stop the caller."""
    delay = RESTART_S[0]
    while True:
        try:
            await read()
        except (asyncio.CancelledError, ConfigError, GaveUp):
            raise
        except Exception:
            logger.exception("reading %s failed; retrying in %.0f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_S[1])
