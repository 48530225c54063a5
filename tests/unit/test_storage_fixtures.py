"""SignedRecord datums for the storage tests, built from a generated year record.

The record comes from :func:`services.core.synthetic.generate_school_year`; the PDF is a
small fake byte string (storage checks hashes, not signatures). Record ids are derived
as the signing service derives them, and a page's lookup code is the same for all its
versions, as the signing service issues them.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
from typing import Any

import pytest

from services.core.lookup_code import format_lookup_code, parse_lookup_code
from services.core.record import key_of
from services.core.signing_flow import record_id_for
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.messaging.codec import Decoded, default_codec
from services.messaging.jsonform import canonical_json
from services.messaging.schemas import default_registry

pytestmark = pytest.mark.unit

SIGNED = "vn.edu.hocba.SignedRecord"
RECORD_ID_KEY = b"storage-test-record-id-key"
_UNSET: Any = object()


@functools.cache
def _template() -> dict[str, Any]:
    (generated,) = generate_school_year(
        GeneratorSettings(schools=1, grades=(4,), students_per_class=1), seed=7
    )
    return dict(generated.record)


def year_record(
    student_id: str,
    *,
    school_code: str = "79000701",
    school_year: str = "2024-2025",
    grade: int = 4,
    days_absent: int | None = 2,
    full_name: str = "Nguyễn Thị Minh Anh",
) -> dict[str, Any]:
    """A generated YearRecord for ``student_id``; change ``days_absent`` to change content."""
    record = copy.deepcopy(_template())
    record["student"]["student_id"] = student_id
    record["student"]["full_name"] = full_name
    record["school"]["school_code"] = school_code
    record["school_year"] = school_year
    record["grade"] = grade
    record["class_name"] = f"{grade}A1"
    record["days_absent"] = days_absent
    return record


def record_id_of(student_id: str) -> str:
    """The record id the signing service gives a student (under the test key)."""
    return record_id_for(student_id, RECORD_ID_KEY)


def lookup_code_of(record_id: str, school_year: str) -> str:
    """A page's lookup code: fixed per page, like the signing service's."""
    digest = hashlib.sha256(f"{record_id}|{school_year}".encode()).digest()
    return format_lookup_code(int.from_bytes(digest[:10], "big"))


def fake_pdf(record: dict[str, Any], version: int, lookup_code: str) -> bytes:
    """A few bytes standing for the signed PDF of a version (different per content)."""
    digest = hashlib.sha256(canonical_json(_year_schema(), record)).hexdigest()[:16]
    return f"%PDF-1.7\n% {lookup_code} v{version} {digest}\n%%EOF\n".encode()


@functools.cache
def _year_schema() -> Any:
    return default_registry().current("vn.edu.hocba.YearRecord")


def signed_record(
    student_id: str = "HS0000000001",
    *,
    version: int = 1,
    record_id: str | None = None,
    lookup_code: str | None = None,
    supersedes_version: int | None = _UNSET,
    correction_reason: str | None = None,
    pdf: bytes | None = None,
    pdf_sha256: str | None = None,
    record_sha256: str | None = None,
    vendor_id: str = "vendor-a",
    result: str | None = "HTT",
    record_key: str | None = None,
    effective_at: dt.datetime = dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC),
    **record_changes: Any,
) -> dict[str, Any]:
    """A consistent SignedRecord datum; override a field to make it inconsistent."""
    record = year_record(student_id, **record_changes)
    school_year = record["school_year"]
    record_id = record_id or record_id_of(student_id)
    lookup_code = lookup_code or lookup_code_of(record_id, school_year)
    pdf = fake_pdf(record, version, lookup_code) if pdf is None else pdf
    canonical = canonical_json(_year_schema(), record)
    signed_at = effective_at - dt.timedelta(minutes=5)
    return {
        "record_id": record_id,
        "version": version,
        "lookup_code": lookup_code,
        "record_key": record_key
        or key_of(record["school"]["school_code"], student_id, school_year),
        "vendor_id": vendor_id,
        "record": record,
        "computed_result": result,
        "pdf": pdf,
        "pdf_sha256": pdf_sha256 or hashlib.sha256(pdf).hexdigest(),
        "record_sha256": record_sha256 or hashlib.sha256(canonical).hexdigest(),
        "signatures": [
            {
                "role": role,
                "signer_name": name,
                "certificate_sha256": hashlib.sha256(role.encode()).hexdigest(),
                "signed_at": signed_at + dt.timedelta(minutes=2 * i),
            }
            for i, (role, name) in enumerate(
                (
                    ("HOMEROOM_TEACHER", "Trần Văn Giáo"),
                    ("PRINCIPAL", "Phạm Thị Hiệu"),
                    ("SCHOOL_SEAL", "Trường Tiểu học Lê Văn Tám"),
                )
            )
        ],
        "effective_at": effective_at,
        "supersedes_version": (version - 1 or None)
        if supersedes_version is _UNSET
        else supersedes_version,
        "correction_reason": correction_reason,
        "rule_set_version": "tt27-2020.1",
    }


def test_fixture_is_a_valid_consistent_signed_record() -> None:
    codec = default_codec()
    datum = signed_record()
    decoded = codec.decode(codec.encode(SIGNED, datum), expected=SIGNED)
    assert isinstance(decoded, Decoded)
    value = decoded.value
    assert value["record"]["student"]["full_name"] == "Nguyễn Thị Minh Anh"
    assert value["pdf_sha256"] == hashlib.sha256(value["pdf"]).hexdigest()
    canonical = canonical_json(_year_schema(), value["record"])
    assert value["record_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert parse_lookup_code(value["lookup_code"]) == value["lookup_code"]
    assert value["record_id"] == record_id_of("HS0000000001")
    # A correction keeps the page's lookup code and names its predecessor.
    second = signed_record(version=2, days_absent=5)
    assert (second["lookup_code"], second["supersedes_version"]) == (datum["lookup_code"], 1)
    assert second["pdf_sha256"] != datum["pdf_sha256"]
