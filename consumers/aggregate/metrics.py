"""Prometheus metrics of the aggregator (own registry, ``pulseboard_aggregator_`` prefix,
base units; counters are exposed with the ``_total`` suffix)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumers.changelog import Record
from pulseboard import packs
from pulseboard.gc_pauses import gc_pause_histogram
from pulseboard.service_metrics import add_service_metrics

_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

# Province-level indicators exported as gauges for alerting and the dashboard. A fixed,
# short allow-list with the province key only (the region pack's) keeps the series count
# constant (the topic has thousands of name|key pairs; Prometheus is not the place for them).
INDICATOR_GAUGE_NAMES = frozenset(
    {
        "shipments_1m",
        "tonnage_1h",
        "freight_value_1h",
        "active_trucks_5m",
        "deliveries_1h",
        "on_time_rate_1h",
        "output_value_1h",
        "dc_power_mw_5m",
    }
)


@dataclass(frozen=True, slots=True)
class AggregatorMetrics:
    registry: CollectorRegistry
    consumed: Counter
    counted: Counter
    invalid: Counter
    late: Counter
    future: Counter
    after_seal: Counter
    markers: Counter
    replayed: Counter
    dlq: Counter
    lag: Gauge
    watermark_delay: Gauge
    final_delay: Gauge
    batch_seconds: Histogram
    indicator_records: Counter
    bucket_messages: Counter
    duplicate_buckets: Counter
    dropped_buckets: Counter
    assigned: Gauge
    rebalances: Counter
    restore_seconds: Gauge
    indicator_value: Gauge
    gc_pause: Histogram  # fed by gc_pauses.watch_gc_pauses while the service runs
    province_key: str  # the key of the whole-area rows (SPEC section 10)

    def observe_indicators(self, records: Iterable[Record]) -> None:
        """Set the allow-listed province gauges from changed indicator records; a null
        value (a rate with nothing to divide) removes the series rather than faking 0."""
        for rec in records:
            if rec.key != self.province_key or rec.name not in INDICATOR_GAUGE_NAMES:
                continue
            if rec.value is None:
                self.forget_indicator(rec.name)
            else:
                self.indicator_value.labels(rec.name, rec.key).set(rec.value)

    def forget_indicator(self, name: str) -> None:
        with contextlib.suppress(KeyError):
            self.indicator_value.remove(name, self.province_key)

    def forget_indicators(self) -> None:
        """Drop every indicator gauge: this process no longer finalizes, and a standby's
        frozen values must not look current next to the active one's."""
        self.indicator_value.clear()

    @classmethod
    def create(
        cls, registry: CollectorRegistry | None = None, province_key: str | None = None
    ) -> AggregatorMetrics:
        r = registry or CollectorRegistry()
        add_service_metrics(r, "aggregator")
        p = "pulseboard_aggregator_"
        return cls(
            province_key=province_key or packs.load(packs.DEFAULT_PACK).province.code,
            registry=r,
            consumed=Counter(
                p + "records_consumed",
                "Event records read for the first time (re-reads after a restart excluded)",
                ["topic"],
                registry=r,
            ),
            counted=Counter(
                p + "records_counted",
                "Valid, in-time events added to the indicators",
                ["topic"],
                registry=r,
            ),
            invalid=Counter(
                p + "records_invalid",
                "Records rejected by validation (SPEC section 3), by reason",
                ["reason"],
                registry=r,
            ),
            late=Counter(
                p + "records_late",
                "Valid events more than the allowed lateness behind their ingest time",
                ["topic"],
                registry=r,
            ),
            future=Counter(
                p + "records_future",
                "Valid events more than the allowed skew ahead of their ingest time",
                ["topic"],
                registry=r,
            ),
            after_seal=Counter(
                p + "records_after_seal",
                "In-time events for a second already sealed: their partition was not in "
                "ingest order (or the idle rule ran ahead); not counted",
                ["topic"],
                registry=r,
            ),
            markers=Counter(
                p + "progress_markers",
                "Progress markers read from the events topics (pulseboard.progress; not events)",
                ["topic"],
                registry=r,
            ),
            replayed=Counter(
                p + "records_replayed",
                "Records read again after a restart or rebalance to rebuild open seconds "
                "(accounted already by the previous owner)",
                ["topic"],
                registry=r,
            ),
            dlq=Counter(
                p + "dlq_records",
                "Invalid records published to the dead-letter topic",
                ["topic"],
                registry=r,
            ),
            lag=Gauge(
                p + "consumer_lag_records",
                "Records in the partition not read yet (high watermark - position)",
                ["topic", "partition"],
                registry=r,
            ),
            watermark_delay=Gauge(
                p + "watermark_delay_seconds",
                "Wall clock minus the partition's watermark (ingest time)",
                ["topic", "partition"],
                registry=r,
            ),
            final_delay=Gauge(
                p + "final_delay_seconds",
                "Newest watermark minus the T the final values have reached (event time)",
                registry=r,
            ),
            batch_seconds=Histogram(
                p + "batch_processing_seconds",
                "Processing time of one batch of fetched records, by stage",
                ["stage"],
                buckets=_BATCH_BUCKETS,
                registry=r,
            ),
            indicator_records=Counter(
                p + "indicator_records_published",
                "Records published to the indicators topic, by kind",
                ["kind"],
                registry=r,
            ),
            bucket_messages=Counter(
                p + "bucket_messages",
                "Messages on the internal buckets topic, by direction and kind",
                ["direction", "kind"],
                registry=r,
            ),
            duplicate_buckets=Counter(
                p + "duplicate_buckets",
                "Re-sent sealed seconds the finalizer dropped (after a sealer restart)",
                registry=r,
            ),
            dropped_buckets=Counter(
                p + "dropped_buckets",
                "Sealed buckets that arrived for seconds already final (a partition that "
                "was empty got records for the past); their events are not counted",
                registry=r,
            ),
            assigned=Gauge(
                p + "assigned_partitions",
                "Partitions this process owns, by stage",
                ["stage"],
                registry=r,
            ),
            rebalances=Counter(
                p + "rebalances",
                "Partition assignments received, by stage",
                ["stage"],
                registry=r,
            ),
            restore_seconds=Gauge(
                p + "finalizer_restore_seconds",
                "Duration of the finalizer's last restore from its checkpoint",
                registry=r,
            ),
            indicator_value=Gauge(
                "pulseboard_indicator_value",
                "Latest provisional value of an allow-listed province indicator (SPEC "
                "section 7), set by the active finalizer",
                ["name", "key"],
                registry=r,
            ),
            gc_pause=gc_pause_histogram(r),
        )
