"""SignedRecord → what the store keeps, and stored version → StoredRecord. Pure.

A signed record is checked before it reaches the database, each failure refused with a
stable code instead of failing the whole batch's transaction later:

* the identifiers signing assigned are well formed (record id, canonical lookup code,
  version numbers) and the record key matches the record;
* ``pdf_sha256`` is the SHA-256 of the PDF bytes and ``record_sha256`` the SHA-256 of the
  canonical JSON of the record, recomputed here (``E_STORAGE_HASH_MISMATCH``): what is
  stored and announced is exactly what was signed;
* nothing PostgreSQL cannot hold (U+0000 in a text, a grade outside 1-5).

Storage does not validate the signatures: the signing service did, and ``hocba verify``
does offline from the PDF.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from services.core.lookup_code import parse_lookup_code
from services.core.record import key_of
from services.messaging.jsonform import canonical_json
from services.messaging.schemas import MessageSchema, default_registry
from services.storage.record_ids import is_record_id
from services.storage.versions import Signature, StoredVersion, VersionCandidate

__all__ = [
    "SIGNED_RECORD",
    "STORED_RECORD",
    "YEAR_RECORD",
    "Refusal",
    "candidate_from_signed",
    "pdf_url",
    "stored_record_datum",
]

SIGNED_RECORD: Final = "vn.edu.hocba.SignedRecord"
STORED_RECORD: Final = "vn.edu.hocba.StoredRecord"
YEAR_RECORD: Final = "vn.edu.hocba.YearRecord"
_SCHOOL_YEAR: Final = re.compile(r"[0-9]{4}-[0-9]{4}")
_SHA256_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")
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


def candidate_from_signed(
    value: Mapping[str, Any], *, year_record_schema: MessageSchema | None = None
) -> VersionCandidate | Refusal:
    """Flatten a decoded SignedRecord; refuse one that is inconsistent or unstorable."""
    schema = year_record_schema or _year_record_schema()
    record: Mapping[str, Any] = value["record"]
    student: Mapping[str, Any] = record["student"]
    school: Mapping[str, Any] = record["school"]
    vendor_id = str(value["vendor_id"])
    canonical = canonical_json(schema, record)
    pdf = bytes(value["pdf"])
    candidate = VersionCandidate(
        record_id=str(value["record_id"]),
        version=int(value["version"]),
        lookup_code=str(value["lookup_code"]),
        record_key=str(value["record_key"]),
        school_code=str(school["school_code"]),
        student_id=str(student["student_id"]),
        national_id=student.get("national_id"),
        school_year=str(record["school_year"]),
        grade=int(record["grade"]),
        vendor_id=vendor_id,
        year_result=value.get("computed_result"),
        rule_set_version=str(value["rule_set_version"]),
        content_sha256=hashlib.sha256(canonical).digest(),
        record_json=canonical.decode("utf-8"),
        pdf=pdf,
        pdf_sha256=hashlib.sha256(pdf).digest(),
        signatures=tuple(
            Signature(
                role=str(s["role"]),
                signer_name=str(s["signer_name"]),
                certificate_sha256=str(s["certificate_sha256"]).lower(),
                signed_at=s["signed_at"],
            )
            for s in value["signatures"]
        ),
        effective_at=value["effective_at"],
        supersedes_version=value.get("supersedes_version"),
        correction_reason=value.get("correction_reason"),
    )
    refusal = (
        _identity_refusal(candidate)
        or _hash_refusal(candidate, str(value["pdf_sha256"]), str(value["record_sha256"]))
        or _text_refusal(candidate)
    )
    if refusal is not None:
        return Refusal(refusal[0], refusal[1], refusal[2], vendor_id)
    return candidate


def _identity_refusal(c: VersionCandidate) -> tuple[str, str, str] | None:
    expected_key = key_of(c.school_code, c.student_id, c.school_year)
    if c.record_key != expected_key:
        return (
            "E_STORAGE_KEY_MISMATCH",
            f"record_key {c.record_key!r} does not match the record ({expected_key!r})",
            f"record_key {c.record_key!r} không khớp với học bạ ({expected_key!r})",
        )
    if not c.student_id or not c.school_code:
        return (
            "E_STORAGE_MISSING_IDENTIFIER",
            "the record has an empty student id or school code",
            "học bạ thiếu mã định danh học sinh hoặc mã trường",
        )
    if not is_record_id(c.record_id):
        return (
            "E_STORAGE_BAD_RECORD_ID",
            f"record_id {c.record_id!r} is not 'HB' + 16 Crockford base32 characters",
            f"mã hồ sơ {c.record_id!r} không có dạng 'HB' + 16 ký tự Crockford base32",
        )
    if parse_lookup_code(c.lookup_code) != c.lookup_code:
        return (
            "E_STORAGE_BAD_LOOKUP_CODE",
            f"lookup_code {c.lookup_code!r} is not a lookup code in canonical form",
            f"mã số tra cứu {c.lookup_code!r} không đúng dạng chuẩn",
        )
    if c.version < 1 or (
        c.supersedes_version is not None and not 1 <= c.supersedes_version < c.version
    ):
        return (
            "E_STORAGE_BAD_VERSION",
            f"version {c.version} superseding {c.supersedes_version} is not a version "
            "number ≥ 1 superseding an earlier one",
            f"phiên bản {c.version} thay thế {c.supersedes_version} không hợp lệ",
        )
    if _SCHOOL_YEAR.fullmatch(c.school_year) is None:
        return (
            "E_STORAGE_BAD_SCHOOL_YEAR",
            f"school_year {c.school_year!r} is not 'YYYY-YYYY'",
            f"năm học {c.school_year!r} không có dạng 'YYYY-YYYY'",
        )
    if not 1 <= c.grade <= 5:
        return (
            "E_STORAGE_BAD_GRADE",
            f"grade {c.grade} is not a primary grade (1-5)",
            f"lớp {c.grade} không phải lớp tiểu học (1-5)",
        )
    return None


def _hash_refusal(
    c: VersionCandidate, pdf_sha256: str, record_sha256: str
) -> tuple[str, str, str] | None:
    wrong = [
        name
        for name, stated, actual in (
            ("pdf_sha256", pdf_sha256, c.pdf_sha256),
            ("record_sha256", record_sha256, c.content_sha256),
        )
        if _SHA256_HEX.fullmatch(stated) is None or bytes.fromhex(stated) != actual
    ]
    if not wrong:
        return None
    names = " and ".join(wrong)
    return (
        "E_STORAGE_HASH_MISMATCH",
        f"{names} of the signed record do not match the PDF / record it carries",
        f"{names} của học bạ đã ký không khớp với tệp PDF / nội dung kèm theo",
    )


def _text_refusal(c: VersionCandidate) -> tuple[str, str, str] | None:
    texts = (
        c.record_json,
        c.vendor_id,
        c.record_key,
        c.rule_set_version,
        c.correction_reason or "",
        *(s.signer_name for s in c.signatures),
        *(s.role for s in c.signatures),
        *(s.certificate_sha256 for s in c.signatures),
    )
    if any("\x00" in text for text in texts) or _JSON_NUL.search(c.record_json):
        # PostgreSQL text and jsonb cannot hold U+0000.
        return (
            "E_STORAGE_NUL_CHARACTER",
            "the record contains a NUL character (U+0000), which cannot be stored",
            "học bạ chứa ký tự NUL (U+0000), không lưu được",
        )
    return None


def pdf_url(public_url: str | None, stored: StoredVersion) -> str | None:
    """Where this version's PDF can be fetched (``GET .../pdf?version=N``), when served."""
    if public_url is None or stored.lookup_code is None:
        return None
    return f"{public_url.rstrip('/')}/v1/records/{stored.lookup_code}/pdf?version={stored.version}"


def stored_record_datum(stored: StoredVersion, *, public_url: str | None = None) -> dict[str, Any]:
    """The ``hocba.records.stored`` message of a stored version."""
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
        "pdf_sha256": None if stored.pdf_sha256 is None else stored.pdf_sha256.hex(),
        "pdf_size_bytes": stored.pdf_size_bytes,
        "pdf_url": pdf_url(public_url, stored),
        "effective_at": None if stored.effective_at is None else _utc(stored.effective_at),
        "supersedes_version": stored.supersedes_version,
        "correction_reason": stored.correction_reason,
        "stored_at": _utc(stored.stored_at),
    }


def _utc(stamp: dt.datetime) -> dt.datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)
