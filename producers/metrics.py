"""Prometheus metrics of the producer (one registry per process, passed in, never global)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pulseboard.service_metrics import add_service_metrics


@dataclass(frozen=True, slots=True)
class ProducerMetrics:
    registry: CollectorRegistry
    events: Counter
    bytes: Counter
    send_errors: Counter
    send_latency: Histogram
    unacked: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> ProducerMetrics:
        registry = registry or CollectorRegistry()
        add_service_metrics(registry, "producer")
        return cls(
            registry=registry,
            events=Counter(
                "pulseboard_producer_events",
                "Records acknowledged by Kafka, by event type (kind=invalid for injected faults)",
                ["type", "topic"],
                registry=registry,
            ),
            bytes=Counter(
                "pulseboard_producer_bytes",
                "Record value bytes acknowledged by Kafka",
                ["topic"],
                registry=registry,
            ),
            send_errors=Counter(
                "pulseboard_producer_send_errors",
                "Record batches Kafka did not acknowledge, by error class",
                ["error"],
                registry=registry,
            ),
            send_latency=Histogram(
                "pulseboard_producer_send_latency_seconds",
                "Time from handing a record batch to the client to Kafka's acknowledgement",
                buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                registry=registry,
            ),
            # Grows while the cluster is unreachable: the client holds and retries them.
            unacked=Gauge(
                "pulseboard_producer_unacked_records",
                "Records handed to the Kafka client and not yet acknowledged",
                registry=registry,
            ),
        )
