"""The storage service's own metrics, beside the shared ones on the same registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

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
            "Answers of GET /v1/records/{code}[/pdf|/access-log], by resource (record, pdf, "
            "access_log) and outcome (found, not_modified, not_found, invalid, "
            "birth_date_required, locked, unauthorised, unavailable).",
            ["service", "resource", "outcome"],
            registry=r,
        )
        # ---- record lookup (services/storage/lookup.py: the API and the /tra-cuu pages) ----
        self.lookups = Counter(
            "hocba_storage_lookups_total",
            "Lookups by holders of a lookup code or record id, by resource (record, pdf, "
            "access_log), channel (api, web) and outcome: found, not_found (unknown code or "
            "wrong birth date, never told apart), locked (client or code locked out), "
            "limited (client over its rate), invalid (mistyped code), birth_date_required, "
            "unavailable.",
            ["service", "resource", "channel", "outcome"],
            registry=r,
        )
        self.lookup_lockouts = Counter(
            "hocba_storage_lookup_lockouts_total",
            "Lock-outs after repeated failed lookups, by scope: client (an address or access "
            "client, in one replica's memory) or code (lookup_attempts, every replica).",
            ["service", "scope"],
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
        # ---- admission checks (POST /v1/admissions/checks) ----
        self.admission_requests = Counter(
            "hocba_storage_admission_requests_total",
            "Admission check requests by outcome: checked, unauthorised, forbidden, invalid, "
            "too_large, unsupported_media_type, unavailable.",
            ["service", "outcome"],
            registry=r,
        )
        self.admission_checks = Counter(
            "hocba_storage_admission_checks_total",
            "Entries of admission checks answered, by status: found, not_found, "
            "not_entitled, invalid.",
            ["service", "status"],
            registry=r,
        )
        self.admission_entries = Histogram(
            "hocba_storage_admission_request_entries",
            "Entries (lookup codes or national ids) per admission check request.",
            ["service"],
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        # ---- PDF verification (POST /v1/verify; owner: services/storage/verify_api.py) ----
        self.verifications = Counter(
            "hocba_storage_verifications_total",
            "PDFs handed in for verification, by outcome (valid, invalid, not_a_pdf, "
            "too_large, unavailable) and platform view (current, superseded, unknown; none "
            "when the PDF was not verified).",
            ["service", "outcome", "platform"],
            registry=r,
        )
        self.verify_seconds = Histogram(
            "hocba_storage_verify_seconds",
            "Time to answer a verification: waiting for a slot, checking the signatures, "
            "reading the platform's view.",
            ["service"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.verify_waiting = Gauge(
            "hocba_storage_verify_waiting_requests",
            "Verifications waiting for a slot (HOCBA_VERIFY_CONCURRENCY are checked at once).",
            ["service"],
            registry=r,
        )
        # ---- school transfers: grants (hocba.transfers) and school reads ----
        self.grants = Counter(
            "hocba_storage_grants_total",
            "School transfers consumed from hocba.transfers, by outcome: granted (a new "
            "access grant), redelivered (already granted), refused (not a transfer).",
            ["service", "outcome"],
            registry=r,
        )
        self.school_reads = Counter(
            "hocba_storage_school_reads_total",
            "Reads by school clients (GET /v1/students/...), by resource (records, pdf) and "
            "outcome: found, not_entitled, not_found, invalid, unauthorised, forbidden, "
            "unavailable.",
            ["service", "resource", "outcome"],
            registry=r,
        )

    @property
    def service(self) -> str:
        return self.shared.service
