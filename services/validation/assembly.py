"""Assembling a student's school year from vendor events (pure: no I/O).

Events arrive one evaluation window at a time: a profile, subject evaluations per
period, quality/competency evaluations per period, and finally the year-end
submission. Replayed in the order they were accepted, they merge by (item, period)
with the latest event winning; each event id is applied once; with a profile and a
year-end submission they add up to the whole YearRecord to validate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from services.core.record import key_of

__all__ = [
    "PROFILE",
    "QUALITY_COMPETENCY",
    "SUBJECTS",
    "YEAR_END",
    "apply_event",
    "assemble_year_record",
    "new_state",
]

_NS = "vn.edu.hocba."
PROFILE = _NS + "StudentProfile"
SUBJECTS = _NS + "SubjectEvaluation"
QUALITY_COMPETENCY = _NS + "QualityCompetencyEvaluation"
YEAR_END = _NS + "YearEndSubmission"

_PERIOD_ORDER = {"GK1": 0, "CK1": 1, "GK2": 2, "CN": 3}

Datum = dict[str, Any]


def new_state(event: Mapping[str, Any], now: dt.datetime) -> Datum:
    """An empty state for the student-year the event is about."""
    return {
        "record_key": key_of(event["school_code"], event["student_id"], event["school_year"]),
        "vendor_id": event["vendor_id"],
        "school_code": event["school_code"],
        "student_id": event["student_id"],
        "school_year": event["school_year"],
        "profile": None,
        "subjects": [],
        "qualities": [],
        "competencies": [],
        "year_end": None,
        "applied_event_ids": [],
        "updated_at": now,
    }


def _merge_periods(current: list[Datum], incoming: Iterable[Mapping[str, Any]]) -> list[Datum]:
    by_period = {p["period"]: p for p in current}
    for period in incoming:
        by_period[period["period"]] = dict(period)
    return sorted(by_period.values(), key=lambda p: _PERIOD_ORDER[p["period"]])


def _merge_items(
    current: list[Datum], incoming: Iterable[Mapping[str, Any]], key: str
) -> list[Datum]:
    merged = {item[key]: item for item in current}
    for item in incoming:
        existing = merged.get(item[key])
        if existing is None:
            merged[item[key]] = {**item, "periods": _merge_periods([], item["periods"])}
            continue
        updated = {**existing, "periods": _merge_periods(existing["periods"], item["periods"])}
        if key == "subject":
            updated["optional"] = item.get("optional", existing.get("optional", False))
            if item.get("has_test") is not None:
                updated["has_test"] = item["has_test"]
        merged[item[key]] = updated
    return list(merged.values())


def apply_event(state: Datum, event: Mapping[str, Any], now: dt.datetime) -> bool:
    """Apply one vendor event to the state in place; False when it was applied before."""
    if event["event_id"] in state["applied_event_ids"]:
        return False
    kind, payload = event["payload"]
    if kind == PROFILE:
        state["profile"] = dict(payload)
    elif kind == SUBJECTS:
        state["subjects"] = _merge_items(state["subjects"], payload["subjects"], "subject")
    elif kind == QUALITY_COMPETENCY:
        state["qualities"] = _merge_items(state["qualities"], payload["qualities"], "quality")
        state["competencies"] = _merge_items(
            state["competencies"], payload["competencies"], "competency"
        )
    elif kind == YEAR_END:
        state["year_end"] = dict(payload)
    else:  # a payload kind added to the schema but not handled here yet
        raise ValueError(f"unhandled event payload {kind}")
    state["applied_event_ids"] = [*state["applied_event_ids"], event["event_id"]]
    state["vendor_id"] = event["vendor_id"]
    state["updated_at"] = now
    return True


def assemble_year_record(state: Mapping[str, Any]) -> Datum | None:
    """The YearRecord the state adds up to; None until both a profile and a year end exist."""
    profile, year_end = state["profile"], state["year_end"]
    if profile is None or year_end is None:
        return None
    return {
        "student": profile["student"],
        "school": profile["school"],
        "school_year": state["school_year"],
        "grade": profile["grade"],
        "class_name": profile["class_name"],
        "enrolled_on": profile.get("enrolled_on"),
        "homeroom_teacher": profile.get("homeroom_teacher"),
        "principal": profile.get("principal"),
        "height_cm": year_end.get("height_cm"),
        "weight_kg": year_end.get("weight_kg"),
        "days_absent": year_end.get("days_absent"),
        "subjects": state["subjects"],
        "qualities": state["qualities"],
        "competencies": state["competencies"],
        "declared_result": year_end.get("declared_result"),
        "completion": year_end["completion"],
        "commendations": year_end.get("commendations", []),
        "disability": profile.get("disability") or {"mode": "NONE", "plan_reference": None},
    }
