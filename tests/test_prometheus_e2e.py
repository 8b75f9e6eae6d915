"""The real services scraped by a real Prometheus (Debian's /usr/bin/prometheus) with the
real alert and recording rules: every target is up, counters move, lag and latency series
exist, and stopping the aggregator fires PulseboardServiceDown.

The producer, aggregator and push server run as `python -m pulseboard.cli ...` child
processes on the session broker (topics of this test's own prefix); Prometheus gets the
config `pulseboard up --prometheus` generates (pulseboard/prometheus_local.py), with 1-s
scrape and evaluation intervals and a copy of deploy/prometheus/rules/alerts.yml whose only
change is shorter `for:` durations, so the expressions under test are the real ones."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from support import CLI, free_port

from pulseboard import prometheus_local
from pulseboard.cli import main as cli_main
from pulseboard.config import ConfigError

pytestmark = pytest.mark.integration

RULES = prometheus_local.RULES_DIR
DASHBOARD = (
    Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "dashboards" / "pulseboard.json"
)
JOBS = {
    "pulseboard-producer",
    "pulseboard-aggregator",
    "pulseboard-web",
    "pulseboard-anomalies",
    "prometheus",
}
T = TypeVar("T")


def _fast_alert_rules(path: Path) -> None:
    """deploy/prometheus/rules/alerts.yml with every `for:` cut to 2 s, written to ``path``;
    expressions, labels and annotations stay the real ones."""
    rules = yaml.safe_load((RULES / "alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "2s"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")


class Prom:
    """Prometheus' HTTP API."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1/"

    def get(self, path: str, **params: str) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("query", query=expr)["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


def _until(what: str, probe: Callable[[], T | None], timeout: float, procs: list) -> T:
    """Poll ``probe`` until it returns something truthy (a condition with a deadline, not
    a fixed wait); fails early if a child process died."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        for name, proc in procs:
            assert proc.poll() is None, f"{name} exited with {proc.returncode} while {what}"
        with contextlib.suppress(OSError):
            last = probe()
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def stack(isolated, tmp_path: Path) -> Iterator[tuple[Prom, dict[str, subprocess.Popen[bytes]]]]:
    config, env = isolated
    names = ("producer", "aggregator", "web", "anomalies", "prometheus")
    ports = {name: free_port() for name in names}
    cluster = ["--topic-prefix", config.kafka.topic_prefix, "--kafka-port", str(config.broker.port)]
    argvs = {
        "producer": [
            *CLI,
            "produce",
            *cluster,
            "--rate",
            "300",
            "--seed",
            "3",
            "--metrics-port",
            str(ports["producer"]),
        ],
        "aggregator": [
            *CLI,
            "aggregate",
            *cluster,
            "--idle-ms",
            "500",
            "--checkpoint-interval-ms",
            "1000",
            "--metrics-port",
            str(ports["aggregator"]),
        ],
        "web": [*CLI, "serve", *cluster, "--port", str(ports["web"])],
        "anomalies": [*CLI, "anomalies", *cluster, "--metrics-port", str(ports["anomalies"])],
    }
    rules = tmp_path / "alerts-fast.yml"
    _fast_alert_rules(rules)
    prom_argv = prometheus_local.prepare(
        tmp_path / "prometheus",
        prometheus_local.Targets(
            ports["producer"], ports["aggregator"], ports["web"], ports["anomalies"]
        ),
        port=ports["prometheus"],
        rule_files=[str(rules), str(RULES / "recording.yml")],
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in [*argvs, "prometheus"]}
    try:
        for name, argv in argvs.items():
            procs[name] = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=logs[name],
                stderr=subprocess.STDOUT,
            )
        procs["prometheus"] = subprocess.Popen(
            prom_argv,
            stdin=subprocess.DEVNULL,
            stdout=logs["prometheus"],
            stderr=subprocess.STDOUT,
        )
        yield Prom(ports["prometheus"]), procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in logs.values():
            f.close()


def test_prometheus_scrapes_every_service_and_fires_service_down(stack):
    prom, procs = stack
    running = list(procs.items())

    def targets_up() -> dict[str, str] | None:
        active = prom.get("targets", state="active")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in active}
        return health if set(health) == JOBS and set(health.values()) == {"up"} else None

    _until("every target is up", targets_up, 45, running)
    assert prom.scalar('sum(up{job=~"pulseboard-.*"})') == 4

    # Conventions: build info per service, process metrics from every job.
    info = prom.query("pulseboard_build_info")
    assert {(r["metric"]["job"], r["metric"]["service"]) for r in info} == {
        ("pulseboard-producer", "producer"),
        ("pulseboard-aggregator", "aggregator"),
        ("pulseboard-web", "web"),
        ("pulseboard-anomalies", "anomalies"),
    }
    memory = prom.query('process_resident_memory_bytes{job=~"pulseboard-.*"}')
    assert len(memory) == 4 and all(float(r["value"][1]) > 0 for r in memory)

    # Counters move between scrapes: events produced and consumed, indicator records
    # published by the aggregator and read by the push server.
    counters = [
        "sum(pulseboard_producer_events_total)",
        "sum(pulseboard_aggregator_records_consumed_total)",
        "sum(pulseboard_aggregator_records_counted_total)",
        'sum(pulseboard_aggregator_indicator_records_published_total{kind="provisional"})',
        "sum(pulseboard_web_indicator_records_total)",
    ]
    first = {e: _until(f"{e} > 0", lambda e=e: prom.scalar(e), 60, running) for e in counters}
    for expr, before in first.items():
        _until(
            f"{expr} increasing from {before}",
            lambda expr=expr, before=before: (prom.scalar(expr) or 0) > before,
            20,
            running,
        )

    # Lag, watermark and latency series exist; the recording rules evaluate.
    for expr in (
        "pulseboard_aggregator_consumer_lag_records",
        "pulseboard_aggregator_watermark_delay_seconds",
        "pulseboard_producer_send_latency_seconds_count",
        "pulseboard_web_end_to_end_latency_seconds_bucket",
        "pulseboard_aggregator_batch_processing_seconds_count",
        'pulseboard_indicator_value{name="shipments_1m", key="520000"}',
        'pulseboard:stage_throughput:rate1m{stage="produced"}',
    ):
        _until(f"series {expr}", lambda expr=expr: prom.query(expr), 20, running)
    # Every query of the Grafana dashboard evaluates on this real Prometheus (Prom.get
    # asserts success), and most of them already have data after a few scrapes; those that
    # do not count events that have not happened here (DLQ records, dropped clients).
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    with_data = [expr for expr in exprs if prom.query(expr)]
    assert len(exprs) >= 20 and len(with_data) >= len(exprs) // 2, (len(exprs), len(with_data))
    lag_topics = {
        r["metric"]["topic"] for r in prom.query("pulseboard_aggregator_consumer_lag_records")
    }
    assert any(t.endswith("freight.events") for t in lag_topics), lag_topics
    assert any(t.endswith("sector.events") for t in lag_topics), lag_topics

    def service_down(job: str) -> list[dict[str, Any]]:
        return [
            a
            for a in prom.get("alerts")["alerts"]
            if a["labels"]["alertname"] == "PulseboardServiceDown" and a["labels"]["job"] == job
        ]

    assert service_down("pulseboard-aggregator") == []
    procs["aggregator"].send_signal(signal.SIGTERM)
    assert procs["aggregator"].wait(timeout=30) == 0
    others = [(n, p) for n, p in running if n != "aggregator"]
    firing = _until(
        "PulseboardServiceDown firing for the aggregator",
        lambda: [a for a in service_down("pulseboard-aggregator") if a["state"] == "firing"],
        30,
        others,
    )
    assert firing[0]["labels"]["severity"] == "page"
    assert firing[0]["annotations"]["runbook"] == "docs/operations.md#pulseboardservicedown"
    assert service_down("pulseboard-producer") == [] and service_down("pulseboard-web") == []


def test_generated_config_is_valid_and_loads_the_real_rules(tmp_path):
    argv = prometheus_local.prepare(tmp_path, prometheus_local.Targets(9101, 9102, 8080), port=9090)
    config_file = argv[1].removeprefix("--config.file=")
    result = subprocess.run(
        ["promtool", "check", "config", config_file], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = sorted(RULES.glob("*.yml"))
    assert f"{len(rule_files)} rule files found" in result.stdout + result.stderr
    jobs = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))["scrape_configs"]
    assert {j["job_name"]: j["static_configs"][0]["targets"] for j in jobs} == {
        "pulseboard-producer": ["127.0.0.1:9101"],
        "pulseboard-aggregator": ["127.0.0.1:9102"],
        "pulseboard-web": ["127.0.0.1:8080"],
        "pulseboard-anomalies": ["127.0.0.1:9103"],
        "prometheus": ["127.0.0.1:9090"],
    }
    assert f"--storage.tsdb.path={tmp_path / 'data'}" in argv
    assert "--web.listen-address=127.0.0.1:9090" in argv


def test_up_without_prometheus_fails_fast_with_the_apt_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(prometheus_local, "DEBIAN_BINARY", tmp_path / "no-prometheus")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PULSEBOARD_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(ConfigError, match="apt-get install prometheus"):
        prometheus_local.find_binary()
    # `up` says so before it starts anything (no broker, no state written).
    assert cli_main(["up", "--prometheus", "--kafka-port", "29000"]) == 2
    assert "apt-get install prometheus" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
