"""The vendor events that build a year record (sự kiện của nhà cung cấp), for generators and demos.

A vendor's system publishes, per student and school year: one StudentProfile,
one SubjectEvaluation and one QualityCompetencyEvaluation per period (GK1, CK1,
GK2, CN), and one YearEndSubmission. Assembling these events gives the record
back (services/validation). Pure: ids and clocks come from the caller's ``rng``.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from services.core.avro_types import Period, VendorEvent, YearRecord
from services.core.curriculum import PERIODS

__all__ = ["vendor_events"]

_NS = "vn.edu.hocba."


def _moments(school_year: str) -> dict[str, dt.datetime]:
    start = int(school_year[:4]) if school_year[:4].isdigit() else 2024

    def at(year: int, month: int, day: int) -> dt.datetime:
        return dt.datetime(year, month, day, 8, 0, tzinfo=dt.UTC)

    return {
        "profile": at(start, 9, 5),
        "GK1": at(start, 11, 1),
        "CK1": at(start + 1, 1, 10),
        "GK2": at(start + 1, 3, 20),
        "CN": at(start + 1, 5, 20),
        "year_end": at(start + 1, 5, 28),
    }


def vendor_events(record: YearRecord, vendor_id: str, rng: random.Random) -> list[VendorEvent]:
    """The events, in publication order, whose assembly is ``record``.

    Raises ``ValueError`` for a record without completion: a YearEndSubmission always
    carries one, so such a record cannot be expressed as events.
    """
    completion = record["completion"]
    if completion is None:
        raise ValueError("a record without completion cannot be expressed as vendor events")
    moments = _moments(record["school_year"])
    student_id = record["student"]["student_id"]

    def event(moment: str, kind: str, payload: object) -> VendorEvent:
        # Offsets of a few minutes keep events of one class distinct in time.
        occurred = moments[moment] + dt.timedelta(seconds=rng.randrange(3600))
        return {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "vendor_id": vendor_id,
            "occurred_at": occurred,
            "school_code": record["school"]["school_code"],
            "student_id": student_id,
            "school_year": record["school_year"],
            "payload": (_NS + kind, payload),  # type: ignore[typeddict-item]
            "correlation_id": None,
        }

    events = [
        event(
            "profile",
            "StudentProfile",
            {
                "student": record["student"],
                "school": record["school"],
                "grade": record["grade"],
                "class_name": record["class_name"],
                "enrolled_on": record["enrolled_on"],
                "homeroom_teacher": record["homeroom_teacher"],
                "principal": record["principal"],
                "disability": record["disability"],
            },
        )
    ]
    for period in PERIODS:
        events.append(event(period, "SubjectEvaluation", _subjects_at(record, period)))
        events.append(
            event(
                period,
                "QualityCompetencyEvaluation",
                {
                    "qualities": [
                        {**q, "periods": [p for p in q["periods"] if p["period"] == period]}
                        for q in record["qualities"]
                    ],
                    "competencies": [
                        {**c, "periods": [p for p in c["periods"] if p["period"] == period]}
                        for c in record["competencies"]
                    ],
                    "evaluated_by": record["homeroom_teacher"],
                },
            )
        )
    events.append(
        event(
            "year_end",
            "YearEndSubmission",
            {
                "declared_result": record["declared_result"],
                "completion": completion,
                "commendations": record["commendations"],
                "height_cm": record["height_cm"],
                "weight_kg": record["weight_kg"],
                "days_absent": record["days_absent"],
                "submitted_by": record["homeroom_teacher"],
            },
        )
    )
    return events


def _subjects_at(record: YearRecord, period: Period) -> dict[str, object]:
    return {
        "subjects": [
            {**s, "periods": [p for p in s["periods"] if p["period"] == period]}
            for s in record["subjects"]
        ],
        "evaluated_by": record["homeroom_teacher"],
    }
