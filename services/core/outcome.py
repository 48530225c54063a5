"""The messages validation publishes: ValidatedRecord or InvalidRecord datums (pure).

The caller passes ``validated_at`` (the core has no clock) and the vendor and event
ids. Finding paths are prefixed with ``record.``, since in these messages the year
record sits in the ``record`` field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from services.core.avro_types import Finding as FindingDatum
from services.core.avro_types import InvalidRecord, ValidatedRecord, YearRecord
from services.core.findings import Finding
from services.core.record import record_key
from services.core.validation import RULE_SET_VERSION, ValidationOutcome

__all__ = ["outcome_message", "rejected_event"]


def _in_message(finding: Finding) -> FindingDatum:
    datum = finding.to_avro()
    datum["path"] = f"record.{finding.path}" if finding.path else "record"
    return datum


def outcome_message(
    record: YearRecord,
    outcome: ValidationOutcome,
    *,
    vendor_id: str,
    validated_at: dt.datetime,
    source_event_ids: Sequence[str] = (),
    correction_event_id: str | None = None,
    correction_reason: str | None = None,
) -> tuple[str, ValidatedRecord | InvalidRecord]:
    """``("vn.edu.hocba.ValidatedRecord", datum)`` or ``("vn.edu.hocba.InvalidRecord", datum)``.

    ``correction_event_id``/``correction_reason``: the latest RecordCorrection of the
    student-year's log (đính chính), carried on a valid record for the signing stage.
    """
    if outcome.is_valid:
        validated: ValidatedRecord = {
            "record_key": record_key(record),
            "vendor_id": vendor_id,
            "record": record,
            "computed_result": outcome.computed_result,
            "completion_statement": outcome.completion_statement,
            "derived_commendation": outcome.derived_commendation,
            "warnings": [_in_message(f) for f in outcome.warnings],
            "source_event_ids": list(source_event_ids),
            "correction_event_id": correction_event_id,
            "correction_reason": correction_reason,
            "rule_set_version": RULE_SET_VERSION,
            "validated_at": validated_at,
        }
        return "vn.edu.hocba.ValidatedRecord", validated
    invalid: InvalidRecord = {
        "record_key": record_key(record),
        "vendor_id": vendor_id,
        "record": record,
        "findings": [_in_message(f) for f in outcome.findings],
        "computed_result": outcome.computed_result,
        "source_event_ids": list(source_event_ids),
        "rule_set_version": RULE_SET_VERSION,
        "validated_at": validated_at,
    }
    return "vn.edu.hocba.InvalidRecord", invalid


_ENVELOPE_TEXT = ("event_id", "vendor_id", "school_code", "student_id", "school_year")


def rejected_event(
    *,
    stage: Literal["INGESTION", "VALIDATION", "SIGNING"],
    envelope: Mapping[str, Any],
    findings: Iterable[Finding],
    rejected_at: dt.datetime,
    vendor_id: str | None,
    channel: Literal["KAFKA", "HTTP"] | None = None,
    raw_sha256: str | None = None,
    raw_size_bytes: int | None = None,
) -> dict[str, Any]:
    """The RejectedEvent datum answering a refused event (schemas/RejectedEvent.avsc).

    ``envelope``: what could be read of the event; fields that are not text are left
    null. ``vendor_id``: the vendor to answer (the authenticated one when known).
    """
    datum: dict[str, Any] = {
        name: value if isinstance(value := envelope.get(name), str) else None
        for name in _ENVELOPE_TEXT
    }
    datum.update(
        vendor_id=vendor_id,
        stage=stage,
        channel=channel,
        findings=[f.to_avro() for f in findings],
        raw_sha256=raw_sha256,
        raw_size_bytes=raw_size_bytes,
        rejected_at=rejected_at,
    )
    return datum
