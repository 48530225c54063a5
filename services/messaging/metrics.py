"""Every metric a service exports, created once on an injected registry.

Names carry their unit (``_seconds``, ``_total``, ``_bytes``). Labels stay low in
cardinality: topic, partition, outcome, finding code, vendor. The table of every
metric lives in docs/metrics.md (generated from :data:`METRIC_DOCS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ServiceMetrics"]

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)


@dataclass
class ServiceMetrics:
    """The shared metrics of a platform service; services add their own beside these."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages_in = Counter(
            "hocba_messages_in_total",
            "Messages consumed, by topic.",
            ["service", "topic"],
            registry=r,
        )
        self.messages_out = Counter(
            "hocba_messages_out_total",
            "Messages produced (committed), by topic.",
            ["service", "topic"],
            registry=r,
        )
        self.rejected = Counter(
            "hocba_messages_rejected_total",
            "Events or records refused, by finding code and vendor.",
            ["service", "code", "vendor"],
            registry=r,
        )
        self.processing_seconds = Histogram(
            "hocba_processing_seconds",
            "Time to process one consumed batch, commit included.",
            ["service"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "hocba_batch_size_messages",
            "Messages per processed batch.",
            ["service"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "hocba_consumer_lag_messages",
            "Messages not yet consumed, per partition.",
            ["service", "topic", "partition"],
            registry=r,
        )
        self.transactions = Counter(
            "hocba_transactions_total",
            "Kafka transactions, by outcome (committed, aborted).",
            ["service", "outcome"],
            registry=r,
        )
        self.db_seconds = Histogram(
            "hocba_db_seconds",
            "PostgreSQL statement latency, by operation.",
            ["service", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "hocba_in_flight_messages",
            "Messages being processed right now.",
            ["service"],
            registry=r,
        )
        self.state_keys = Gauge(
            "hocba_state_keys",
            "Keys held in a service's changelog-backed state.",
            ["service"],
            registry=r,
        )
        self.up = Gauge(
            "hocba_service_ready",
            "1 when the service is ready (consuming, producer started).",
            ["service"],
            registry=r,
        )

    def reject(self, code: str, vendor: str | None) -> None:
        self.rejected.labels(self.service, code, vendor or "unknown").inc()
