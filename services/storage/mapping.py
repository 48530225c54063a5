"""ValidatedRecord → what the store keeps, and stored version → StoredRecord. Pure.

A message the database could not hold (a key that does not match its record, a NUL
character PostgreSQL text refuses, a grade outside 1-5) is refused here with a coded
reason instead of failing the whole batch's transaction later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from services.core.record import key_of
from services.messaging.jsonform import canonical_json
from services.messaging.schemas import MessageSchema, default_registry
from services.storage.versions import StoredVersion, VersionCandidate

__all__ = [
    "STORED_RECORD",
    "VALIDATED_RECORD",
    "YEAR_RECORD",
    "Refusal",
    "candidate_from_validated",
    "stored_record_datum",
]

VALIDATED_RECORD: Final = "vn.edu.hocba.ValidatedRecord"
STORED_RECORD: Final = "vn.edu.hocba.StoredRecord"
YEAR_RECORD: Final = "vn.edu.hocba.YearRecord"
_SCHOOL_YEAR: Final = re.compile(r"[0-9]{4}-[0-9]{4}")
# U+0000 as JSON writes it: ``\u0000`` after an even number of backslashes.
_JSON_NUL: Final = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a decoded message cannot be stored; ``code`` is stable."""

    code: str
    message_en: str
    message_vi: str
    vendor_id: str | None = None


def _year_record_schema() -> MessageSchema:
    return default_registry().current(YEAR_RECORD)


def candidate_from_validated(
    value: Mapping[str, Any], *, year_record_schema: MessageSchema | None = None
) -> VersionCandidate | Refusal:
    """Flatten a decoded ValidatedRecord; refuse one the database could not hold."""
    schema = year_record_schema or _year_record_schema()
    record: Mapping[str, Any] = value["record"]
    student: Mapping[str, Any] = record["student"]
    school: Mapping[str, Any] = record["school"]
    vendor_id = str(value["vendor_id"])
    canonical = canonical_json(schema, record)
    candidate = VersionCandidate(
        record_key=str(value["record_key"]),
        school_code=str(school["school_code"]),
        student_id=str(student["student_id"]),
        national_id=student.get("national_id"),
        school_year=str(record["school_year"]),
        grade=int(record["grade"]),
        vendor_id=vendor_id,
        year_result=value.get("computed_result"),
        rule_set_version=str(value["rule_set_version"]),
        validated_at=value["validated_at"],
        content_sha256=hashlib.sha256(canonical).digest(),
        record_json=canonical.decode("utf-8"),
    )
    refusal = _refusal(candidate)
    return candidate if refusal is None else refusal


def _refusal(c: VersionCandidate) -> Refusal | None:
    expected_key = key_of(c.school_code, c.student_id, c.school_year)
    if c.record_key != expected_key:
        return Refusal(
            "E_STORAGE_KEY_MISMATCH",
            f"record_key {c.record_key!r} does not match the record ({expected_key!r})",
            f"record_key {c.record_key!r} không khớp với học bạ ({expected_key!r})",
            c.vendor_id,
        )
    if not c.student_id or not c.school_code:
        return Refusal(
            "E_STORAGE_MISSING_IDENTIFIER",
            "the record has an empty student id or school code",
            "học bạ thiếu mã định danh học sinh hoặc mã trường",
            c.vendor_id,
        )
    if _SCHOOL_YEAR.fullmatch(c.school_year) is None:
        return Refusal(
            "E_STORAGE_BAD_SCHOOL_YEAR",
            f"school_year {c.school_year!r} is not 'YYYY-YYYY'",
            f"năm học {c.school_year!r} không có dạng 'YYYY-YYYY'",
            c.vendor_id,
        )
    if not 1 <= c.grade <= 5:
        return Refusal(
            "E_STORAGE_BAD_GRADE",
            f"grade {c.grade} is not a primary grade (1-5)",
            f"lớp {c.grade} không phải lớp tiểu học (1-5)",
            c.vendor_id,
        )
    texts = (c.record_json, c.vendor_id, c.record_key, c.rule_set_version)
    if any("\x00" in text for text in texts) or _JSON_NUL.search(c.record_json):
        # PostgreSQL text and jsonb cannot hold U+0000.
        return Refusal(
            "E_STORAGE_NUL_CHARACTER",
            "the record contains a NUL character (U+0000), which cannot be stored",
            "học bạ chứa ký tự NUL (U+0000), không lưu được",
            c.vendor_id,
        )
    return None


def stored_record_datum(stored: StoredVersion) -> dict[str, Any]:
    """The ``hocba.records.stored`` message of a stored version (no PDF before signing)."""
    return {
        "record_id": stored.record_id,
        "version": stored.version,
        "lookup_code": stored.lookup_code,
        "record_key": stored.record_key,
        "school_code": stored.school_code,
        "student_id": stored.student_id,
        "national_id": stored.national_id,
        "school_year": stored.school_year,
        "grade": stored.grade,
        "year_result": stored.year_result,
        "pdf_sha256": None,
        "pdf_size_bytes": None,
        "pdf_url": None,
        "effective_at": None,
        "supersedes_version": stored.supersedes_version,
        "stored_at": _utc(stored.stored_at),
    }


def _utc(stamp: dt.datetime) -> dt.datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)
