"""Assembling a student's school year from vendor events (pure: no I/O).

Events arrive one evaluation window at a time: a profile, subject evaluations per
period, quality/competency evaluations per period, and finally the year-end
submission. Replayed in the order they were accepted, they merge by (item, period)
with the latest event winning; each event id is applied once; with a profile and a
year-end submission they add up to the whole YearRecord to validate. A RecordCorrection
(đính chính) is part of the year's log but not of its content: the latest one is kept
beside the record, for the signing stage to issue a change to a signed page.

School transfer (chuyển trường): a StudentTransfer in the sending school's log changes
no content; when it comes mid-year (no year-end submission in that log), the log's
evaluations made before it takes effect are carried into the receiving school's year
(:func:`carried_over`), where they come before that school's own events. The year
record's school and vendor are the receiving school's (its own events): carried events
bring evaluations only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "CORRECTION",
    "PROFILE",
    "QUALITY_COMPETENCY",
    "SIGNATURE_APPROVAL",
    "SUBJECTS",
    "TRANSFER",
    "YEAR_END",
    "YearAssembly",
    "carried_over",
]

_NS = "vn.edu.hocba."
PROFILE = _NS + "StudentProfile"
SUBJECTS = _NS + "SubjectEvaluation"
QUALITY_COMPETENCY = _NS + "QualityCompetencyEvaluation"
YEAR_END = _NS + "YearEndSubmission"
#: Not an evaluation: read by the signing stage, never part of the assembly.
SIGNATURE_APPROVAL = _NS + "SignatureApproval"
#: Not an evaluation either: names why the content changes, travels beside the record.
CORRECTION = _NS + "RecordCorrection"

#: Not content: moves the student to another school (the handler carries evaluations).
TRANSFER = _NS + "StudentTransfer"
#: The evaluations a mid-year transfer carries to the receiving school.
CARRIED_KINDS: Final = frozenset({SUBJECTS, QUALITY_COMPETENCY})
#: Vietnam has kept UTC+07:00 all year since 1975: effective dates are dates there.
_VIETNAM_TIME: Final = dt.timezone(dt.timedelta(hours=7), "ICT")

_PERIOD_ORDER = {"GK1": 0, "CK1": 1, "GK2": 2, "CN": 3}
#: (list in the record, the item's code field) of the evaluations merged by (item, period).
_ITEM_LISTS = (("subjects", "subject"), ("qualities", "quality"), ("competencies", "competency"))

Datum = dict[str, Any]


class YearAssembly:
    """One student's school year, built up event by event (tổng hợp kết quả cả năm).

    Items and their periods are kept in dictionaries and turned into the record's
    sorted lists only when asked for: applying an event costs what the event holds,
    not what the year holds so far.
    """

    def __init__(self, school_code: str | None = None) -> None:
        #: The school whose year this is; events of another school are carried ones.
        self.school_code = school_code
        self.vendor_id: str | None = None
        self.school_year: str | None = None
        self.applied_event_ids: list[str] = []
        self.profile: Datum | None = None
        self.year_end: Datum | None = None
        #: The latest RecordCorrection applied: its event id and reason (stripped, as printed).
        self.correction_event_id: str | None = None
        self.correction_reason: str | None = None
        #: list name → item code → the item's fields (its periods apart).
        self._items: dict[str, dict[str, Datum]] = {name: {} for name, _ in _ITEM_LISTS}
        #: list name → item code → period → that period's evaluation.
        self._periods: dict[str, dict[str, dict[str, Datum]]] = {
            name: {} for name, _ in _ITEM_LISTS
        }

    @classmethod
    def replay(
        cls, events: Iterable[Mapping[str, Any]], school_code: str | None = None
    ) -> YearAssembly:
        """The assembly of these events, applied in order (``school_code``: the year's
        school, whose events alone name the vendor)."""
        assembly = cls(school_code)
        for event in events:
            assembly.apply(event)
        return assembly

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Apply one vendor event; False when an event with its id was applied before."""
        if event["event_id"] in self.applied_event_ids:
            return False
        kind, payload = event["payload"]
        if kind == PROFILE:
            self.profile = dict(payload)
        elif kind == SUBJECTS:
            self._merge("subjects", "subject", payload["subjects"])
        elif kind == QUALITY_COMPETENCY:
            self._merge("qualities", "quality", payload["qualities"])
            self._merge("competencies", "competency", payload["competencies"])
        elif kind == YEAR_END:
            self.year_end = dict(payload)
        elif kind == CORRECTION:
            self.correction_event_id = event["event_id"]
            self.correction_reason = payload["reason"].strip()
        elif kind == TRANSFER:
            pass  # part of the log, not of the content
        else:  # a payload kind added to the schema but not handled here yet
            raise ValueError(f"unhandled event payload {kind}")
        self.applied_event_ids.append(event["event_id"])
        if self.school_code is None or event["school_code"] == self.school_code:
            # A carried evaluation keeps its sending school's vendor in its envelope.
            self.vendor_id = event["vendor_id"]
        self.school_year = event["school_year"]
        return True

    def _merge(self, name: str, code_field: str, incoming: Iterable[Mapping[str, Any]]) -> None:
        items, periods = self._items[name], self._periods[name]
        for item in incoming:
            code = item[code_field]
            existing = items.get(code)
            if existing is None:
                items[code] = {k: v for k, v in item.items() if k != "periods"}
                periods[code] = {}
            elif code_field == "subject":
                # The subject's flags follow the latest event that states them.
                existing["optional"] = item.get("optional", existing.get("optional", False))
                if item.get("has_test") is not None:
                    existing["has_test"] = item["has_test"]
            by_period = periods[code]
            for period in item["periods"]:
                by_period[period["period"]] = dict(period)

    def merged(self, name: str) -> list[Datum]:
        """The record's list ``subjects``, ``qualities`` or ``competencies``, periods in order."""
        periods = self._periods[name]
        return [
            {
                **fields,
                "periods": sorted(periods[code].values(), key=lambda p: _PERIOD_ORDER[p["period"]]),
            }
            for code, fields in self._items[name].items()
        ]

    def year_record(self) -> Datum | None:
        """The YearRecord the events add up to; None until a profile and a year end exist."""
        profile, year_end = self.profile, self.year_end
        if profile is None or year_end is None:
            return None
        return {
            "student": profile["student"],
            "school": profile["school"],
            "school_year": self.school_year,
            "grade": profile["grade"],
            "class_name": profile["class_name"],
            "enrolled_on": profile.get("enrolled_on"),
            "homeroom_teacher": profile.get("homeroom_teacher"),
            "principal": profile.get("principal"),
            "height_cm": year_end.get("height_cm"),
            "weight_kg": year_end.get("weight_kg"),
            "days_absent": year_end.get("days_absent"),
            "subjects": self.merged("subjects"),
            "qualities": self.merged("qualities"),
            "competencies": self.merged("competencies"),
            "declared_result": year_end.get("declared_result"),
            "completion": year_end["completion"],
            "commendations": year_end.get("commendations", []),
            "disability": profile.get("disability") or {"mode": "NONE", "plan_reference": None},
        }


def _vietnam_date(instant: dt.datetime) -> dt.date:
    stamp = instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)
    return stamp.astimezone(_VIETNAM_TIME).date()


def carried_over(
    events: Sequence[Mapping[str, Any]], transfer: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The evaluations a transfer carries from the sending school's log to the receiving
    school's year, in log order.

    ``events``: the sending log's events (decoded), ``transfer``: a StudentTransfer event
    of it. Carried: the log's SubjectEvaluation and QualityCompetencyEvaluation events
    that occurred before the effective date (Vietnam date), those the sending school
    itself received from an earlier transfer included. None when the log holds a
    YearEndSubmission: the year was completed at the sending school.
    """
    if any(e["payload"][0] == YEAR_END for e in events):
        return []
    effective_on: dt.date = transfer["payload"][1]["effective_on"]
    return [
        e
        for e in events
        if e["payload"][0] in CARRIED_KINDS and _vietnam_date(e["occurred_at"]) < effective_on
    ]
