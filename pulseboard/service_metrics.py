"""Metrics every pulseboard service exposes besides its own: build info and the process,
platform and garbage-collector metrics prometheus_client puts in its default registry.

Each service has a registry of its own (never the global one, so tests can build many), so
these collectors are added to that registry explicitly."""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)

from pulseboard import __version__

SERVICES = ("producer", "aggregator", "web", "anomalies")


def add_service_metrics(registry: CollectorRegistry, service: str) -> Gauge:
    """Register build info and the process/platform/GC collectors in ``registry``;
    returns the build-info gauge (constant 1, the facts are in its labels)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    info = Gauge(
        "pulseboard_build_info",
        "Constant 1; the version, Python and service of this process are its labels",
        ["version", "python", "service"],
        registry=registry,
    )
    info.labels(__version__, platform.python_version(), service).set(1)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    # Reads gc.get_stats() at scrape time only: one per registry costs nothing between scrapes.
    GCCollector(registry=registry)
    return info
