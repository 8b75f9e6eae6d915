"""Turning a Config back into command-line flags, for child processes."""

from __future__ import annotations

from pulseboard.config import Config


def cluster_argv(config: Config) -> list[str]:
    """Flags that make a child process talk to the same cluster with the same topics.

    Security settings travel in the environment (inherited), never on a command line
    where `ps` would show a password."""
    argv = ["--topic-prefix", config.kafka.topic_prefix, "--session", config.kafka.session]
    if config.uses_local_broker:
        argv += ["--kafka-port", str(config.broker.port)]
    else:
        argv += ["--bootstrap-servers", config.bootstrap_servers]
    return argv
