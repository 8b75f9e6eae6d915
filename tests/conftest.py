"""Shared fixtures. The integration tests run against a real Kafka broker started by the
project's own `kafka up` code in a temporary state folder (artifacts are cached between
runs in the usual cache folder), on a port of its own so a developer's broker is untouched."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pulseboard import localbroker
from pulseboard.config import Config, config_from_env
from pulseboard.topics import ensure_topics


def _free_port_pair() -> int:
    """Two free consecutive ports below the ephemeral range, so an outgoing connection
    cannot take the controller port between this check and the broker's bind."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000, 2)
        if not localbroker.port_in_use(port) and not localbroker.port_in_use(port + 1):
            return port
    raise RuntimeError("no free port pair on 127.0.0.1")


@pytest.fixture(scope="session")
def kafka_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of a running local broker with the SPEC topics created."""
    state = tmp_path_factory.mktemp("kafka-state")
    env = {
        "PULSEBOARD_STATE_DIR": str(state),
        "PULSEBOARD_KAFKA_PORT": str(_free_port_pair()),
        "PULSEBOARD_KAFKA_HEAP": "768m",
    }
    if "PULSEBOARD_CACHE_DIR" in os.environ:
        env["PULSEBOARD_CACHE_DIR"] = os.environ["PULSEBOARD_CACHE_DIR"]
    config = config_from_env(env)
    localbroker.start(config.broker)
    asyncio.run(ensure_topics(config))
    try:
        yield env
    finally:
        localbroker.stop(config.broker)


@pytest.fixture(scope="session")
def kafka_config(kafka_env: dict[str, str]) -> Config:
    return config_from_env(kafka_env)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def isolated(kafka_env: dict[str, str]) -> tuple[Config, dict[str, str]]:
    """A config and environment whose topics (created here) belong to this test alone."""
    import uuid

    prefix = f"t{uuid.uuid4().hex[:10]}."
    env = {**kafka_env, "PULSEBOARD_TOPIC_PREFIX": prefix}
    config = config_from_env(env)
    asyncio.run(ensure_topics(config))
    return config, env


def run_cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """`pulseboard ARGV...` in a child process with `env` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "pulseboard.cli", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
