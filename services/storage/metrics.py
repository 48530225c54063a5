"""The storage service's own metrics, beside the shared ones on the same registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from services.messaging.metrics import ServiceMetrics

__all__ = ["StorageMetrics"]


@dataclass
class StorageMetrics:
    """Created once per process on ``shared.registry`` (never the default registry)."""

    shared: ServiceMetrics

    def __post_init__(self) -> None:
        r = self.shared.registry
        self.versions = Counter(
            "hocba_storage_versions_total",
            "Validated records stored, by outcome (VERSION_STORED, VERSION_SUPERSEDED, "
            "REDELIVERY_IGNORED).",
            ["service", "outcome"],
            registry=r,
        )
        self.reads = Counter(
            "hocba_storage_reads_total",
            "Record lookups over HTTP, by outcome (found, not_found, unavailable).",
            ["service", "outcome"],
            registry=r,
        )
        self.db_retries = Counter(
            "hocba_storage_db_retries_total",
            "Batch transactions retried after a transient database failure, by SQLSTATE "
            "('none' when the server did not answer).",
            ["service", "sqlstate"],
            registry=r,
        )
        self.isolated_batches = Counter(
            "hocba_storage_isolated_batches_total",
            "Batches the database refused a value of, stored again one message at a time.",
            ["service"],
            registry=r,
        )

    @property
    def service(self) -> str:
        return self.shared.service
