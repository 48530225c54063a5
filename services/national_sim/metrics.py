"""The simulator's own metrics, beside the shared ones on the same registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from services.messaging.metrics import ServiceMetrics

__all__ = ["NationalSimMetrics"]


@dataclass
class NationalSimMetrics:
    """Created once per process on ``shared.registry`` (never the default registry)."""

    shared: ServiceMetrics

    def __post_init__(self) -> None:
        r = self.shared.registry
        self.requests = Counter(
            "hocba_national_sim_requests_total",
            "Requests answered, by endpoint (the OpenAPI operationId) and HTTP status.",
            ["service", "endpoint", "status"],
            registry=r,
        )
        self.faults = Counter(
            "hocba_national_sim_faults_total",
            "Fault decisions applied, by kind: latency, outage, rate_limit, error, timeout, "
            "lost_ack, token_expired.",
            ["service", "kind"],
            registry=r,
        )
        self.versions_held = Gauge(
            "hocba_national_sim_versions_held",
            "Record versions the simulated national database holds.",
            ["service"],
            registry=r,
        )

    @property
    def service(self) -> str:
        return self.shared.service
