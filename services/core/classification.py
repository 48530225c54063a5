"""Year-end classification (kết quả giáo dục, TT27 Art. 9 cl. 2 a), completion and commendation.

domain.md sections 4-5. The levels used are the end-of-year (``CN``) levels of
every subject row (component rows included), of the qualities and of the rated
competencies, and the ``CN`` test scores that count (the last attempt).
"""

from __future__ import annotations

from typing import Final, TypeVar

from services.core.avro_types import (
    CommendationKind,
    CompletionStatus,
    DisabilityMode,
    RatingPeriodResult,
    SubjectPeriodResult,
    YearRecord,
    YearResult,
)
from services.core.config import DEFAULT_RULES, RuleConfig
from services.core.curriculum import SUBJECTS

__all__ = [
    "PLAN_BASED_MODES",
    "classification_applies",
    "classify_year_result",
    "completion_statement",
    "derived_commendation",
]

#: Assessed against an individual education plan (kế hoạch giáo dục cá nhân): the standard
#: classification is reported as not applicable rather than enforced (domain.md section 5).
PLAN_BASED_MODES: Final[frozenset[DisabilityMode]] = frozenset({"INCLUSIVE_PLAN", "SPECIALISED"})

# Rank of each level, 0 best; the two scales stay separate enums, only their ranks compare.
_SUBJECT_RANK: Final = {"HOAN_THANH_TOT": 0, "HOAN_THANH": 1, "CHUA_HOAN_THANH": 2}
_RATING_RANK: Final = {"TOT": 0, "DAT": 1, "CAN_CO_GANG": 2}
_OPTIONAL_GRADES: Final = {code: rule.optional_grades for code, rule in SUBJECTS.items()}


_P = TypeVar("_P", SubjectPeriodResult, RatingPeriodResult)


def _cn_of(periods: list[_P]) -> _P | None:
    # Periods usually come in order, CN last: look there first.
    if periods and periods[-1]["period"] == "CN":
        return periods[-1]
    for period in periods:
        if period["period"] == "CN":
            return period
    return None


def classification_applies(record: YearRecord) -> bool:
    """False for students assessed against an individual education plan."""
    return record["disability"]["mode"] not in PLAN_BASED_MODES


def classify_year_result(
    record: YearRecord, rules: RuleConfig = DEFAULT_RULES
) -> YearResult | None:
    """HTXS / HTT / HT / CHT from the CN levels and scores; None when not applicable.

    Missing CN levels or scores are the validator's business (they are errors); here
    only what is present counts, so the result of an incomplete record is a best effort.
    """
    if record["disability"]["mode"] in PLAN_BASED_MODES:
        return None
    worst_subject = 0
    worst_rating = 0
    lowest_score = 10
    grade = record["grade"]
    skip_optional = not rules.optional_subjects_count
    subject_rank = _SUBJECT_RANK
    for subject in record["subjects"]:
        if skip_optional and subject["optional"] and grade in _OPTIONAL_GRADES[subject["subject"]]:
            continue
        periods = subject["periods"]
        # _cn_of inlined for the usual case (CN last): this runs for every subject of every record.
        cn_subject = periods[-1] if periods and periods[-1]["period"] == "CN" else _cn_of(periods)
        if cn_subject is None:
            continue
        level = cn_subject["level"]
        if level is not None:
            rank = subject_rank[level]
            if rank > worst_subject:
                worst_subject = rank
        for component in cn_subject["components"]:
            rank = subject_rank[component["level"]]
            if rank > worst_subject:
                worst_subject = rank
        score = cn_subject["test_score"]
        if score is not None and score < lowest_score:
            lowest_score = score
    rating_rank = _RATING_RANK
    for items in (record["qualities"], record["competencies"]):
        for item in items:
            ratings = item["periods"]
            cn_rating = (
                ratings[-1] if ratings and ratings[-1]["period"] == "CN" else _cn_of(ratings)
            )
            if cn_rating is not None and cn_rating["level"] is not None:
                rank = rating_rank[cn_rating["level"]]
                if rank > worst_rating:
                    worst_rating = rank
    if worst_subject == 0 and worst_rating == 0:
        if lowest_score >= 9:
            return "HTXS"
        if lowest_score >= 7:
            return "HTT"
    if worst_subject <= 1 and worst_rating <= 1 and lowest_score >= 5:
        return "HT"
    return "CHT"


_COMPLETED_STATUSES: Final[frozenset[CompletionStatus]] = frozenset(
    {"COMPLETED", "COMPLETED_AFTER_SUPPLEMENTARY"}
)


def completion_statement(
    grade: int, result: YearResult | None, status: CompletionStatus | None
) -> str:
    """The completion statement printed on the year page (TT27 Art. 11).

    HTXS, HTT and HT complete the grade: "Hoàn thành chương trình lớp học" (grade 5:
    "Hoàn thành chương trình tiểu học"). A CHT student completes it at the supplementary
    assessment, or the principal decides: "được lên lớp" / "chưa được lên lớp". When the
    standard result does not apply (individual plan), the workflow status decides.
    """
    programme = "chương trình tiểu học" if grade == 5 else "chương trình lớp học"
    completed = (
        status in _COMPLETED_STATUSES
        if result is None
        else (result != "CHT" or status == "COMPLETED_AFTER_SUPPLEMENTARY")
    )
    if completed:
        return f"Hoàn thành {programme}"
    if status == "PROMOTED":
        return f"Chưa hoàn thành {programme}; được lên lớp"
    if status == "REPEATS":
        return f"Chưa hoàn thành {programme}; chưa được lên lớp"
    return f"Chưa hoàn thành {programme}"


def derived_commendation(result: YearResult | None) -> CommendationKind | None:
    """Học sinh Xuất sắc for HTXS: the only commendation the result itself implies."""
    return "HOC_SINH_XUAT_SAC" if result == "HTXS" else None
