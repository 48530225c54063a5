"""Assembling a school year from events: merge by (item, period), apply each event once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.validation.assembly import (
    PROFILE,
    QUALITY_COMPETENCY,
    SUBJECTS,
    YEAR_END,
    YearAssembly,
)

pytestmark = pytest.mark.unit

NOW = dt.datetime(2025, 5, 20, tzinfo=dt.UTC)


def event(event_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "vendor_id": "vnedu",
        "occurred_at": NOW,
        "school_code": "79000701",
        "student_id": "HS001",
        "school_year": "2024-2025",
        "payload": (kind, payload),
        "correlation_id": None,
    }


PROFILE_PAYLOAD = {
    "student": {
        "student_id": "HS001",
        "full_name": "Nguyễn Văn An",
        "gender": "MALE",
        "date_of_birth": dt.date(2015, 3, 2),
    },
    "school": {"school_code": "79000701", "school_name": "Trường Tiểu học Lê Văn Tám"},
    "grade": 4,
    "class_name": "4A1",
    "disability": {"mode": "NONE", "plan_reference": None},
}


def subject(code: str, period: str, level: str, score: int | None = None) -> dict[str, Any]:
    return {
        "subject": code,
        "optional": False,
        "has_test": None,
        "periods": [
            {
                "period": period,
                "level": level,
                "test_score": score,
                "earlier_test_scores": [],
                "comment": None,
                "components": [],
            }
        ],
    }


def test_the_latest_evaluation_of_a_period_wins_and_periods_stay_ordered() -> None:
    assembly = YearAssembly.replay(
        [
            event("e0", PROFILE, PROFILE_PAYLOAD),
            event("e1", SUBJECTS, {"subjects": [subject("TOAN", "CN", "HOAN_THANH", 6)]}),
            event("e2", SUBJECTS, {"subjects": [subject("TOAN", "GK1", "HOAN_THANH_TOT", 9)]}),
            event("e3", SUBJECTS, {"subjects": [subject("TOAN", "CN", "HOAN_THANH_TOT", 9)]}),
        ]
    )
    [toan] = assembly.merged("subjects")
    assert [(p["period"], p["level"], p["test_score"]) for p in toan["periods"]] == [
        ("GK1", "HOAN_THANH_TOT", 9),
        ("CN", "HOAN_THANH_TOT", 9),
    ]


def test_a_redelivered_event_is_applied_once() -> None:
    assembly = YearAssembly()
    first = event(
        "e1",
        QUALITY_COMPETENCY,
        {
            "qualities": [
                {
                    "quality": "YEU_NUOC",
                    "periods": [{"period": "CN", "level": "TOT", "comment": None}],
                }
            ],
            "competencies": [],
            "evaluated_by": None,
        },
    )
    assert assembly.apply(first) is True
    assert assembly.apply(first) is False
    assert assembly.applied_event_ids == ["e1"]


def test_a_year_record_needs_a_profile_and_a_year_end() -> None:
    assembly = YearAssembly()
    year_end = {
        "declared_result": "HT",
        "completion": {"status": "COMPLETED"},
        "commendations": [],
        "height_cm": None,
        "weight_kg": None,
        "days_absent": 2,
        "submitted_by": None,
    }
    assembly.apply(event("e1", YEAR_END, year_end))
    assert assembly.year_record() is None
    assembly.apply(event("e2", PROFILE, PROFILE_PAYLOAD))
    record = assembly.year_record()
    assert record is not None
    assert record["school_year"] == "2024-2025"
    assert record["grade"] == 4
    assert record["declared_result"] == "HT"
    assert record["days_absent"] == 2
