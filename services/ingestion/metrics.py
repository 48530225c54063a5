"""Ingestion's own metrics, created on the service's registry beside the shared ones.

Refusals are counted by the shared ``hocba_messages_rejected_total{code, vendor}``
(:meth:`ServiceMetrics.reject`). The ``vendor`` label is a registered vendor id or
``unknown``: an unregistered id never becomes a label (bounded cardinality).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from services.messaging.metrics import ServiceMetrics

__all__ = ["IngestionMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)


@dataclass
class IngestionMetrics:
    base: ServiceMetrics

    def __post_init__(self) -> None:
        registry = self.base.registry
        self.events = Counter(
            "hocba_ingestion_events_total",
            "Vendor events judged, by channel (KAFKA, HTTP), outcome (accepted, duplicate, "
            "rejected) and vendor.",
            ["service", "channel", "outcome", "vendor"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "hocba_http_request_seconds",
            "HTTP request latency, by route and status code.",
            ["service", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.http_batch_size = Histogram(
            "hocba_ingestion_http_batch_size_events",
            "Events per POST /v1/events request.",
            ["service"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.dedup_record_failures = Counter(
            "hocba_ingestion_dedup_record_failures_total",
            "Accepted events whose ids could not be recorded for de-duplication (a re-send "
            "of them would be forwarded again; validation absorbs it).",
            ["service"],
            registry=registry,
        )
        self.transfer_record_failures = Counter(
            "hocba_ingestion_transfer_record_failures_total",
            "Accepted school transfers that could not be recorded in student_transfers (only "
            "the accepting replica enforces them until the vendor re-sends them).",
            ["service"],
            registry=registry,
        )

    @property
    def service(self) -> str:
        return self.base.service

    def outcome(self, channel: str, outcome: str, vendor: str, count: int = 1) -> None:
        self.events.labels(self.service, channel, outcome, vendor).inc(count)
