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
            "Signed records by outcome: VERSION_STORED, VERSION_SUPERSEDED, "
            "VERSION_STORED_LATE, REDELIVERY_IGNORED, or refused: VERSION_CONFLICT_REFUSED, "
            "RECORD_ID_CONFLICT_REFUSED, LOOKUP_CODE_CONFLICT_REFUSED.",
            ["service", "outcome"],
            registry=r,
        )
        self.pdf_bytes = Counter(
            "hocba_storage_pdf_bytes_total",
            "Bytes of signed PDFs stored (new versions only).",
            ["service"],
            registry=r,
        )
        self.reads = Counter(
            "hocba_storage_reads_total",
            "Record lookups over HTTP, by resource (record, pdf) and outcome (found, "
            "not_modified, not_found, invalid, unavailable).",
            ["service", "resource", "outcome"],
            registry=r,
        )
        self.pdf_served_bytes = Counter(
            "hocba_storage_pdf_served_bytes_total",
            "Bytes of signed PDFs sent to readers.",
            ["service"],
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
