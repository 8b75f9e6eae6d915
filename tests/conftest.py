"""Shared fixtures. The integration tests run against a real Kafka broker started by the
project's own `kafka up` code in a temporary state folder (artifacts are cached between
runs in the usual cache folder), on a port of its own so a developer's broker is untouched."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import free_port_pair, run_cli

from pulseboard import localbroker
from pulseboard.config import Config, config_from_env
from pulseboard.topics import ensure_topics
from web.assets import STATIC_DIR, build_frontend


@pytest.fixture(scope="session")
def kafka_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of a running local broker with the SPEC topics created."""
    state = tmp_path_factory.mktemp("kafka-state")
    env = {
        "PULSEBOARD_STATE_DIR": str(state),
        "PULSEBOARD_KAFKA_PORT": str(free_port_pair()),
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
    prefix = f"t{uuid.uuid4().hex[:10]}."
    env = {**kafka_env, "PULSEBOARD_TOPIC_PREFIX": prefix}
    config = config_from_env(env)
    asyncio.run(ensure_topics(config))
    return config, env


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture(scope="session")
def static_dir() -> Path:
    """The wall page, built once (a no-op when the build is current)."""
    build_frontend()
    return STATIC_DIR
