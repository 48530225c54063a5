"""Hand-built VendorEvent datums for the ingestion tests (a helper, with its own checks).

Built field by field from schemas/VendorEvent.avsc, independent of services/core's
generator, so the ingestion tests pin the wire contract themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from services.ingestion.envelope import vendor_event_schema
from services.messaging.codec import Decoded, default_codec
from services.messaging.jsonform import to_json

pytestmark = pytest.mark.unit

OCCURRED = dt.datetime(2024, 10, 1, 8, 0, tzinfo=dt.UTC)
SCHOOL_YEAR = "2024-2025"


def unique(prefix: str) -> str:
    """A short id unique to one test (vendor ids, school codes, student ids)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def student_profile(school_code: str, student_id: str) -> tuple[str, dict[str, Any]]:
    return (
        "vn.edu.hocba.StudentProfile",
        {
            "student": {
                "student_id": student_id,
                "national_id": None,
                "full_name": "Nguyễn Thị Ánh Dương",
                "gender": "FEMALE",
                "date_of_birth": dt.date(2016, 3, 14),
                "ethnicity": "Kinh",
                "nationality": "Việt Nam",
                "place_of_birth": "Hà Nội",
                "native_place": None,
                "current_address": None,
                "father_name": None,
                "mother_name": "Trần Thị Hoà",
                "guardian_name": None,
            },
            "school": {
                "school_code": school_code,
                "school_name": "Trường Tiểu học Đoàn Thị Điểm",
                "province": "Hà Nội",
                "commune": None,
                "district": None,
                "register_number": None,
            },
            "grade": 3,
            "class_name": "3A",
            "enrolled_on": None,
            "homeroom_teacher": "Lê Văn Hùng",
            "principal": None,
            "disability": {"mode": "NONE", "plan_reference": None},
        },
    )


def vendor_event(
    *,
    vendor_id: str,
    school_code: str,
    student_id: str | None = None,
    event_id: str | None = None,
    occurred_at: dt.datetime = OCCURRED,
    school_year: str = SCHOOL_YEAR,
    payload: tuple[str, dict[str, Any]] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """A valid VendorEvent datum (a StudentProfile unless ``payload`` says otherwise)."""
    student = unique("hs") if student_id is None else student_id
    return {
        "event_id": str(uuid.uuid4()) if event_id is None else event_id,
        "vendor_id": vendor_id,
        "occurred_at": occurred_at,
        "school_code": school_code,
        "student_id": student,
        "school_year": school_year,
        "payload": payload or student_profile(school_code, student),
        "correlation_id": correlation_id,
    }


def encode(event: dict[str, Any]) -> bytes:
    return default_codec().encode("vn.edu.hocba.VendorEvent", event)


def as_json(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON form HTTP carries."""
    return to_json(vendor_event_schema(), event)


def test_a_built_event_round_trips_through_avro() -> None:
    event = vendor_event(vendor_id="v1", school_code="S1", student_id="HS1")
    decoded = default_codec().decode(encode(event), expected="vn.edu.hocba.VendorEvent")
    assert isinstance(decoded, Decoded)
    assert decoded.value == event


def test_the_json_form_names_the_payload_kind() -> None:
    document = as_json(vendor_event(vendor_id="v1", school_code="S1"))
    assert set(document["payload"]) == {"StudentProfile"}
    assert document["occurred_at"] == "2024-10-01T08:00:00.000Z"
