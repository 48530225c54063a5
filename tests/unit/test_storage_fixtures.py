"""Hand-built ValidatedRecord datums for the storage tests (services/core is not used on
purpose: the storage contract is the Avro schema, not the domain model)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.messaging.codec import Decoded, default_codec

pytestmark = pytest.mark.unit

VALIDATED = "vn.edu.hocba.ValidatedRecord"


def validated_record(
    student_id: str = "HS0000000001",
    *,
    school_code: str = "79000701",
    school_year: str = "2024-2025",
    grade: int = 4,
    vendor_id: str = "vendor-a",
    full_name: str = "Nguyễn Thị Minh Anh",
    days_absent: int | None = 2,
    result: str | None = "HTT",
    record_key: str | None = None,
) -> dict[str, Any]:
    """A minimal valid ValidatedRecord datum; change ``days_absent`` to change the content."""
    return {
        "record_key": record_key or f"{school_code}|{student_id}|{school_year}",
        "vendor_id": vendor_id,
        "record": {
            "student": {
                "student_id": student_id,
                "national_id": "079215000123",
                "full_name": full_name,
                "gender": "FEMALE",
                "date_of_birth": dt.date(2015, 3, 14),
            },
            "school": {"school_code": school_code, "school_name": "Trường Tiểu học Lê Văn Tám"},
            "school_year": school_year,
            "grade": grade,
            "class_name": f"{grade}A1",
            "days_absent": days_absent,
            "declared_result": result,
        },
        "computed_result": result,
        "completion_statement": "Hoàn thành chương trình lớp học",
        "rule_set_version": "tt27-2020.1",
        "validated_at": dt.datetime(2025, 5, 20, 8, 0, tzinfo=dt.UTC),
    }


def test_fixture_is_a_valid_validated_record() -> None:
    codec = default_codec()
    decoded = codec.decode(codec.encode(VALIDATED, validated_record()), expected=VALIDATED)
    assert isinstance(decoded, Decoded)
    assert decoded.value["record"]["student"]["full_name"] == "Nguyễn Thị Minh Anh"
