"""Prometheus metrics of the push server, in a registry of its own (base units)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pulseboard.service_metrics import add_service_metrics

# End-to-end latency runs from an event entering Kafka to its effect leaving on a
# websocket: aggregation windows put most of it in seconds, the push path in milliseconds.
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

FAN_OUT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(slots=True)
class WebMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    clients: Gauge = field(init=False)
    connections: Counter = field(init=False)
    rejected: Counter = field(init=False)
    closed: Counter = field(init=False)
    messages: Counter = field(init=False)
    bytes: Counter = field(init=False)
    snapshots: Counter = field(init=False)
    coalesced: Counter = field(init=False)
    dropped: Counter = field(init=False)
    inbound: Counter = field(init=False)
    records: Counter = field(init=False)
    anomaly_records: Counter = field(init=False)
    callouts: Gauge = field(init=False)
    ready: Gauge = field(init=False)
    latency: Histogram = field(init=False)
    fan_out: Histogram = field(init=False)
    # labels() costs more than inc(); the hot path reuses the labelled children.
    _children: dict[tuple[str, str], Counter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.registry
        add_service_metrics(r, "web")
        p = "pulseboard_web_"
        self.clients = Gauge(
            p + "clients_connected", "Open display websocket connections", registry=r
        )
        self.connections = Counter(p + "connections", "Websocket connections accepted", registry=r)
        self.rejected = Counter(
            p + "connections_rejected", "Connections refused, by reason", ["reason"], registry=r
        )
        self.closed = Counter(
            p + "connections_closed_by_server",
            "Connections the server closed, by reason",
            ["reason"],
            registry=r,
        )
        self.messages = Counter(
            p + "messages_sent", "Websocket messages sent, by type", ["type"], registry=r
        )
        self.bytes = Counter(p + "sent_bytes", "Websocket payload bytes sent", registry=r)
        self.snapshots = Counter(
            p + "snapshots_sent", "Snapshots sent, by reason", ["reason"], registry=r
        )
        self.coalesced = Counter(
            p + "updates_coalesced",
            "Indicator updates replaced by a newer one before broadcast",
            registry=r,
        )
        self.dropped = Counter(
            p + "updates_dropped",
            "Updates not sent as deltas to a client that fell behind (it got a snapshot instead)",
            registry=r,
        )
        self.inbound = Counter(
            p + "client_messages", "Messages from clients, by kind", ["kind"], registry=r
        )
        self.records = Counter(
            p + "indicator_records", "Indicator records read, by outcome", ["outcome"], registry=r
        )
        self.anomaly_records = Counter(
            p + "anomaly_records", "Anomaly records read, by outcome", ["outcome"], registry=r
        )
        self.callouts = Gauge(p + "callouts_active", "Call-outs active on the wall", registry=r)
        self.ready = Gauge(p + "ready", "1 once the compacted indicator state was read", registry=r)
        self.latency = Histogram(
            p + "end_to_end_latency_seconds",
            "Event ingest_ts to websocket send, per delta and client (one pass to many: once)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # One pass of the pump over every client: the spread between the first wall and
        # the last to get a frame, and what sets the client count one process can hold.
        self.fan_out = Histogram(
            p + "broadcast_seconds",
            "Time to hand one broadcast to every client (written or queued)",
            buckets=FAN_OUT_BUCKETS,
            registry=r,
        )

    def message_sent(self, kind: str) -> Counter:
        return self._child(self.messages, "messages", kind)

    def snapshot_sent(self, reason: str) -> Counter:
        return self._child(self.snapshots, "snapshots", reason)

    def _child(self, parent: Counter, family: str, label: str) -> Counter:
        child = self._children.get((family, label))
        if child is None:
            child = self._children[(family, label)] = parent.labels(label)
        return child
