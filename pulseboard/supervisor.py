"""`pulseboard up`: the local broker plus every service as a supervised child process.

Services run as separate processes (as they would in production) so one crashing never
takes the others down; a child that exits is restarted with capped exponential backoff,
because a wall display runs unattended. Ctrl-C or SIGTERM stops them all cleanly."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pulseboard import localbroker, prometheus_local
from pulseboard.cli_support import cluster_argv, kafka_up
from pulseboard.config import LIVE_SESSION, Config, ConfigError

MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 15.0


@dataclass(slots=True)
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)
    # Output goes here (appended) instead of the terminal, for chatty non-pulseboard children.
    log_path: Path | None = None

    def start(self) -> None:
        if self.log_path is None:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)
        else:
            with self.log_path.open("ab") as out:
                self.proc = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
                )
        self.started_at = time.monotonic()
        print(f"up: started {self.name} (pid {self.proc.pid})", flush=True)


def _prometheus(args: argparse.Namespace, config: Config) -> Child:
    """The supervised Prometheus child; fails fast (before anything starts) when the
    binary is missing or the ports cannot be scraped."""
    if args.metrics_port == 0 or args.aggregator_metrics_port == 0:
        raise ConfigError(
            "--prometheus scrapes the services' metrics: drop --metrics-port 0 / "
            "--aggregator-metrics-port 0"
        )
    home = config.broker.state_dir / "prometheus"
    argv = prometheus_local.prepare(
        home,
        prometheus_local.Targets(
            args.metrics_port,
            args.aggregator_metrics_port,
            args.web_port,
            args.aggregator_metrics_port + 1,  # the anomaly service's (see _services)
        ),
        port=args.prometheus_port,
    )
    return Child("prometheus", argv, log_path=home / "prometheus.log")


def _services(args: argparse.Namespace, config: Config) -> list[Child]:
    exe = [sys.executable, "-m", "pulseboard.cli"]
    cluster = [*cluster_argv(config), "--log-format", config.log_format]
    produce = [
        *exe,
        "produce",
        *cluster,
        "--rate",
        str(args.rate),
        "--speed",
        str(args.speed),
        "--seed",
        str(args.seed),
        "--metrics-port",
        str(args.metrics_port),
    ]
    if args.start:
        produce += ["--start", args.start]
    for flag in ("invalid_fraction", "late_fraction", "future_fraction"):
        value = getattr(args, flag)
        if value:
            produce += [f"--{flag.replace('_', '-')}", str(value)]
    aggregate = [
        *exe,
        "aggregate",
        *cluster,
        "--idle-speed",
        str(args.speed),
        "--metrics-port",
        str(args.aggregator_metrics_port),
    ]
    serve = [*exe, "serve", *cluster, "--port", str(args.web_port)]
    # Anomaly call-outs beside the aggregator, from the history it writes (docs/anomalies.md).
    # Its metrics port is the aggregator's plus one (0 disables both).
    detect_port = args.aggregator_metrics_port + 1 if args.aggregator_metrics_port else 0
    detect = [*exe, "anomalies", *cluster, "--metrics-port", str(detect_port)]
    services = [Child("aggregator", aggregate), Child("server", serve), Child("anomalies", detect)]
    if config.kafka.session != LIVE_SESSION:
        return services  # a replay session's events come from `pulseboard replay --to-kafka`
    return [Child("producer", produce), *services]


def _stop_all(children: list[Child]) -> None:
    for child in children:
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
        print(f"up: stopped {child.name}", flush=True)


def _backfill(args: argparse.Namespace, config: Config) -> None:
    """`pulseboard history backfill` in a child, before the services (its progress shows)."""
    argv = [
        sys.executable,
        "-m",
        "pulseboard.cli",
        "history",
        "backfill",
        *cluster_argv(config),
        "--days",
        args.backfill_days,
        "--workers",
        str(args.backfill_workers),
        "--rate",
        str(args.rate / args.speed),
        "--seed",
        str(args.seed),
    ]
    code = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        raise ConfigError(f"the backfill failed (exit code {code}); see its messages above")


def run(args: argparse.Namespace, config: Config) -> int:
    prometheus = _prometheus(args, config) if args.prometheus else None
    kafka_up(config)
    if getattr(args, "backfill", False):
        _backfill(args, config)
    children = _services(args, config)
    if prometheus is not None:
        children.append(prometheus)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for child in children:
        child.start()
    print(
        f"up: pulseboard is running: open http://127.0.0.1:{args.web_port}/ on the wall "
        "(?lang=en for English). Ctrl-C stops the services; the broker keeps running "
        "(`pulseboard kafka down` stops it).",
        flush=True,
    )
    if prometheus is not None:
        print(
            f"up: Prometheus at http://127.0.0.1:{args.prometheus_port}/ (alerts: /alerts; "
            f"its log: {prometheus.log_path})",
            flush=True,
        )
    try:
        while not stopping:
            now = time.monotonic()
            for child in children:
                if child.proc is not None and child.proc.poll() is not None:
                    code = child.proc.returncode
                    # A child that ran a while before dying earns a fresh backoff.
                    if now - child.started_at > 60:
                        child.restarts = 0
                    delay = min(MAX_BACKOFF_S, 0.5 * 2**child.restarts)
                    child.restarts += 1
                    child.proc = None
                    child.next_start = now + delay
                    print(
                        f"up: {child.name} exited with {code}; restarting in {delay:.1f} s",
                        flush=True,
                    )
                elif child.proc is None and now >= child.next_start:
                    child.start()
            time.sleep(0.2)
    finally:
        _stop_all(children)
    if config.uses_local_broker and os.environ.get("PULSEBOARD_UP_STOPS_BROKER") == "1":
        localbroker.stop(config.broker)
    return 0
