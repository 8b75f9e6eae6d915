"""Metric conventions every service shares (build info, process metrics), the aggregator's
province indicator gauges, and a taken metrics port reported as a setting to fix."""

from __future__ import annotations

import platform
import socket

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from consumers.aggregate.metrics import INDICATOR_GAUGE_NAMES, AggregatorMetrics
from consumers.changelog import Record
from producers.metrics import ProducerMetrics
from pulseboard import __version__
from pulseboard.config import ConfigError
from pulseboard.metrics_server import serve_metrics
from web.metrics import WebMetrics


@pytest.mark.parametrize(
    ("service", "registry"),
    [
        ("producer", lambda: ProducerMetrics.create().registry),
        ("aggregator", lambda: AggregatorMetrics.create().registry),
        ("web", lambda: WebMetrics().registry),
    ],
)
def test_every_service_exposes_build_info_and_process_metrics(service, registry):
    r = registry()
    labels = {"version": __version__, "python": platform.python_version(), "service": service}
    assert r.get_sample_value("pulseboard_build_info", labels) == 1
    assert r.get_sample_value("process_resident_memory_bytes") > 0
    assert r.get_sample_value("process_cpu_seconds_total") >= 0
    text = generate_latest(r).decode()
    assert "python_info{" in text and "python_gc_collections_total{" in text


def _value(m: AggregatorMetrics, name: str, key: str = "520000") -> float | None:
    return m.registry.get_sample_value("pulseboard_indicator_value", {"name": name, "key": key})


def test_indicator_gauges_follow_the_allow_list_and_province_only():
    m = AggregatorMetrics.create(CollectorRegistry())
    m.observe_indicators(
        [
            Record(100, "shipments_1m", "520000", 17),
            Record(100, "shipments_1m", "520100", 5),  # a prefecture: not exported
            Record(100, "corridor_shipments_15m", "520100>CN-CQ", 3),  # not allow-listed
            Record(100, "on_time_rate_1h", "520000", 0.93),
        ]
    )
    assert _value(m, "shipments_1m") == 17
    assert _value(m, "on_time_rate_1h") == 0.93
    assert _value(m, "shipments_1m", "520100") is None
    assert _value(m, "corridor_shipments_15m", "520100>CN-CQ") is None
    series = [
        s for f in m.registry.collect() if f.name == "pulseboard_indicator_value" for s in f.samples
    ]
    assert len(series) == 2
    m.observe_indicators([Record(101, "shipments_1m", "520000", 18)])
    assert _value(m, "shipments_1m") == 18
    # a rate with nothing to divide has no value: no series rather than a fake 0
    m.observe_indicators([Record(102, "on_time_rate_1h", "520000", None)])
    assert _value(m, "on_time_rate_1h") is None
    m.forget_indicators()
    assert _value(m, "shipments_1m") is None
    assert "shipments_1m" in INDICATOR_GAUGE_NAMES and len(INDICATOR_GAUGE_NAMES) <= 10


def test_a_taken_metrics_port_is_a_setting_to_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match="--metrics-port"):
            serve_metrics(CollectorRegistry(), port)
