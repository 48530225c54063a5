"""The messages validation publishes: ValidatedRecord or InvalidRecord datums (pure).

The caller passes ``validated_at`` (the core has no clock) and the vendor and event
ids. Finding paths are prefixed with ``record.``, since in these messages the year
record sits in the ``record`` field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from services.core.avro_types import Finding as FindingDatum
from services.core.avro_types import InvalidRecord, ValidatedRecord, YearRecord
from services.core.findings import Finding
from services.core.record import record_key
from services.core.validation import RULE_SET_VERSION, ValidationOutcome

__all__ = ["outcome_message"]


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
) -> tuple[str, ValidatedRecord | InvalidRecord]:
    """``("vn.edu.hocba.ValidatedRecord", datum)`` or ``("vn.edu.hocba.InvalidRecord", datum)``."""
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
