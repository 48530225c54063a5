"""A mid-year school transfer as vendor events (a helper for the transfer tests, with checks).

Student S leaves school A (vendor X) for school B (vendor Y) on 1 February 2025. X sent
the profile and the GK1 and CK1 evaluations before that; Y sends the profile at B, its
own re-evaluation of one GK1 subject, the GK2 and CN evaluations and the year end. The
evaluations carried from A plus Y's events add up to one generated year record at B.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from services.core.events import vendor_events
from services.core.synthetic import GeneratorSettings, generate_school_year

pytestmark = pytest.mark.unit

EFFECTIVE_ON = dt.date(2025, 2, 1)
SCHOOL_YEAR = "2024-2025"
TRANSFER = "vn.edu.hocba.StudentTransfer"
SUBJECTS = "vn.edu.hocba.SubjectEvaluation"


def at(day: dt.date, hour: int = 3) -> dt.datetime:
    """An instant on ``day`` in Vietnam (03:00 UTC is 10:00 there)."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


@dataclass
class Scenario:
    student: str
    school_a: str
    school_b: str
    vendor_x: str
    vendor_y: str
    #: The year record the receiving school's validated record must equal.
    record: dict[str, Any]
    #: X's events at A before the transfer (profile, GK1, CK1; one GK1 level differs).
    before: list[dict[str, Any]]
    transfer: dict[str, Any]
    #: Y's events at B from the effective date (profile, a GK1 fix, GK2, CN, year end).
    after: list[dict[str, Any]]

    def event(
        self, vendor: str, school: str, occurred: dt.datetime, payload: Any = None
    ) -> dict[str, Any]:
        """Another event of the student (a StudentProfile at ``school`` by default)."""
        profile = copy.deepcopy(self.after[0]["payload"])
        profile[1]["school"]["school_code"] = school
        return {
            "event_id": str(uuid.uuid4()),
            "vendor_id": vendor,
            "occurred_at": occurred,
            "school_code": school,
            "student_id": self.student,
            "school_year": SCHOOL_YEAR,
            "payload": payload or profile,
            "correlation_id": None,
        }


def transfer_payload(to_school: str, effective_on: dt.date = EFFECTIVE_ON) -> tuple[str, Any]:
    return (
        TRANSFER,
        {
            "to_school_code": to_school,
            "to_school_name": "Trường Tiểu học Kim Đồng",
            "effective_on": effective_on,
            "reason": "Gia đình chuyển nơi ở",
        },
    )


def scenario(
    student: str = "HS0000000042",
    school_a: str = "SCHOOL-A",
    school_b: str = "SCHOOL-B",
    vendor_x: str = "vendor-x",
    vendor_y: str = "vendor-y",
) -> Scenario:
    (generated,) = generate_school_year(
        GeneratorSettings(schools=1, grades=(4,), students_per_class=1), seed=7
    )
    record = copy.deepcopy(dict(generated.record))
    record["student"]["student_id"] = student
    record["school"]["school_code"] = school_b
    events = vendor_events(record, vendor_y, random.Random(5))  # type: ignore[arg-type]
    profile, gk1_s, gk1_q, ck1_s, ck1_q, *later = (dict(e) for e in events)
    before = []
    for event in (profile, gk1_s, gk1_q, ck1_s, ck1_q):
        moved = copy.deepcopy(event)
        moved.update(event_id=str(uuid.uuid4()), vendor_id=vendor_x, school_code=school_a)
        if moved["payload"][0] == "vn.edu.hocba.StudentProfile":
            moved["payload"][1]["school"]["school_code"] = school_a
            moved["payload"][1]["school"]["school_name"] = "Trường Tiểu học Lê Lợi"
        before.append(moved)
    # A's GK1 level of the first subject differs; B evaluates it again after the transfer.
    first = before[1]["payload"][1]["subjects"][0]
    original = copy.deepcopy(first)
    level = first["periods"][0]["level"]
    first["periods"][0]["level"] = "HOAN_THANH" if level != "HOAN_THANH" else "HOAN_THANH_TOT"
    fix = copy.deepcopy(gk1_s)
    fix.update(event_id=str(uuid.uuid4()), occurred_at=at(EFFECTIVE_ON, 4))
    fix["payload"] = (SUBJECTS, {**gk1_s["payload"][1], "subjects": [original]})
    arriving = copy.deepcopy(profile)
    arriving.update(event_id=str(uuid.uuid4()), occurred_at=at(EFFECTIVE_ON))
    transfer = {
        "event_id": str(uuid.uuid4()),
        "vendor_id": vendor_x,
        "occurred_at": at(dt.date(2025, 1, 25)),
        "school_code": school_a,
        "student_id": student,
        "school_year": SCHOOL_YEAR,
        "payload": transfer_payload(school_b),
        "correlation_id": None,
    }
    return Scenario(
        student,
        school_a,
        school_b,
        vendor_x,
        vendor_y,
        record,
        before,
        transfer,
        # Fresh ids: the generator's are the same on every run (seeded).
        [arriving, fix, *({**e, "event_id": str(uuid.uuid4())} for e in later)],
    )


def test_the_scenario_splits_the_year_at_the_effective_date() -> None:
    s = scenario()
    assert {e["school_code"] for e in s.before} == {s.school_a}
    assert {e["school_code"] for e in s.after} == {s.school_b}
    assert all(e["occurred_at"].date() < EFFECTIVE_ON for e in s.before)
    assert all(e["occurred_at"].date() >= EFFECTIVE_ON for e in s.after)
    assert s.before[1]["payload"][1]["subjects"][0] != s.after[1]["payload"][1]["subjects"][0]
