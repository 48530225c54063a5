"""Synthetic school years (dữ liệu giả lập): schools, classes, students and their year records.

Pure and reproducible: everything is drawn from one seeded ``random.Random``. A
configurable share of records is made invalid on purpose; each such record
carries the error code it must produce (``GeneratedRecord.expected_codes``), so
tests can check the validator against the generator and vice versa.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from services.core import synthetic_names as names
from services.core.avro_types import (
    Commendation,
    CompetencyResult,
    Completion,
    CompletionStatus,
    DisabilityMode,
    Gender,
    Period,
    QualityLevel,
    QualityResult,
    RatingPeriodResult,
    School,
    StudentIdentity,
    SubjectCode,
    SubjectLevel,
    SubjectPeriodResult,
    SubjectResult,
    YearRecord,
    YearResult,
)
from services.core.classification import classify_year_result
from services.core.config import DEFAULT_RULES
from services.core.curriculum import (
    GENERAL_COMPETENCIES,
    PERIODS,
    QUALITIES,
    SPECIFIC_COMPETENCIES,
    SUBJECTS,
)
from services.core.identifiers import PROVINCE_CODES, century_sex_digit
from services.core.rules_ratings import unratable_competencies
from services.core.rules_subjects import test_periods

__all__ = [
    "PLANTABLE_CODES",
    "GeneratedRecord",
    "GeneratorSettings",
    "generate_school_year",
    "plant_error",
]


@dataclass(frozen=True, slots=True)
class GeneratorSettings:
    """What to generate: one school year (năm học) of schools, classes and students."""

    school_year: str = "2024-2025"
    schools: int = 2
    #: Classes per grade in each school.
    classes_per_grade: int = 1
    students_per_class: int = 20
    grades: tuple[int, ...] = (1, 2, 3, 4, 5)
    #: Share of records made invalid on purpose, 0.0-1.0.
    invalid_share: float = 0.0
    #: Error codes never planted (e.g. E_COMPLETION_MISSING when vendor events are wanted:
    #: a year-end submission always carries a completion).
    exclude_codes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class GeneratedRecord:
    """One synthetic year record and the error codes it was made to produce."""

    record: YearRecord
    #: Error codes planted on purpose; empty for a valid record.
    expected_codes: tuple[str, ...]
    #: The 1-based position in the run, stable for a given seed and settings.
    sequence: int


_SUBJECT_LEVELS: Final[tuple[SubjectLevel, ...]] = (
    "HOAN_THANH_TOT",
    "HOAN_THANH",
    "CHUA_HOAN_THANH",
)
_RATING_LEVELS: Final[tuple[QualityLevel, ...]] = ("TOT", "DAT", "CAN_CO_GANG")
# Per ability tier: weights of T/H/C (and T/Đ/C), and the range of test scores.
_TIERS: Final = (
    ((100, 0, 0), (9, 10)),  # excellent
    ((92, 8, 0), (7, 10)),  # good
    ((55, 44, 1), (5, 9)),  # average
    ((25, 60, 15), (3, 8)),  # struggling
)
_TIER_WEIGHTS: Final = (14, 30, 52, 4)


def _start_year(school_year: str) -> int:
    digits = school_year[:4]
    return int(digits) if digits.isdigit() else 2024


def _period_dates(start: int) -> dict[Period, dt.date]:
    return {
        "GK1": dt.date(start, 11, 1),
        "CK1": dt.date(start + 1, 1, 10),
        "GK2": dt.date(start + 1, 3, 20),
        "CN": dt.date(start + 1, 5, 20),
    }


class _Builder:
    """Draws the pieces of records from one random stream."""

    def __init__(self, rng: random.Random, settings: GeneratorSettings) -> None:
        self.rng = rng
        self.settings = settings
        self.start = _start_year(settings.school_year)
        self.family = [n for n, _ in names.FAMILY_NAMES]
        self.family_weights = [w for _, w in names.FAMILY_NAMES]
        self.ethnicities = [n for n, _ in names.ETHNICITIES]
        self.ethnicity_weights = [w for _, w in names.ETHNICITIES]
        self.provinces = sorted(PROVINCE_CODES)

    def person_name(self, gender: Gender, family: str | None = None) -> str:
        rng = self.rng
        family = family or rng.choices(self.family, self.family_weights)[0]
        if gender == "MALE":
            middle, given = names.MIDDLE_NAMES_MALE, names.GIVEN_NAMES_MALE
        else:
            middle, given = names.MIDDLE_NAMES_FEMALE, names.GIVEN_NAMES_FEMALE
        return f"{family} {rng.choice(middle)} {rng.choice(given)}"

    def address(self, province: str) -> str:
        rng = self.rng
        street, commune = rng.choice(names.STREETS), rng.choice(names.COMMUNES)
        return f"Số {rng.randint(1, 300)}, {street}, {commune}, {province}"

    def school(self, index: int) -> School:
        rng = self.rng
        code = self.provinces[rng.randrange(len(self.provinces))]
        province = PROVINCE_CODES[code]
        return {
            "school_code": f"{code}{index + 1:05d}",
            "school_name": f"Trường Tiểu học {rng.choice(names.SCHOOL_NAMES)}",
            "province": province,
            "commune": rng.choice(names.COMMUNES),
            "district": None,
            "register_number": None,
        }

    def student(self, grade: int, school: School) -> StudentIdentity:
        rng = self.rng
        gender: Gender = "MALE" if rng.random() < 0.51 else "FEMALE"
        # Mostly on time; a few a year older (late entry or repeating).
        birth_year = self.start - 6 - (grade - 1) - (1 if rng.random() < 0.03 else 0)
        born = dt.date(birth_year, 1, 1) + dt.timedelta(days=rng.randrange(365))
        province_code = self.provinces[rng.randrange(len(self.provinces))]
        digit = century_sex_digit(born.year, gender)
        national_id = f"{province_code}{digit}{born.year % 100:02d}{rng.randrange(10**6):06d}"
        family = rng.choices(self.family, self.family_weights)[0]
        province = PROVINCE_CODES[province_code]
        return {
            "student_id": f"{rng.randrange(10**10):010d}{rng.randrange(10**10):010d}",
            "national_id": national_id,
            "full_name": self.person_name(gender, family),
            "gender": gender,
            "date_of_birth": born,
            "ethnicity": rng.choices(self.ethnicities, self.ethnicity_weights)[0],
            "nationality": "Việt Nam",
            "place_of_birth": province,
            "native_place": PROVINCE_CODES[self.provinces[rng.randrange(len(self.provinces))]],
            "current_address": self.address(school["province"] or province),
            "father_name": self.person_name("MALE", family),
            "mother_name": self.person_name("FEMALE"),
            "guardian_name": None,
        }

    def subject_level(self, weights: tuple[int, int, int]) -> SubjectLevel:
        return self.rng.choices(_SUBJECT_LEVELS, weights)[0]

    def rating_level(self, weights: tuple[int, int, int]) -> QualityLevel:
        return self.rng.choices(_RATING_LEVELS, weights)[0]

    def subjects(self, grade: int, mode: DisabilityMode, tier: int) -> list[SubjectResult]:
        rng = self.rng
        weights, (low, high) = _TIERS[tier]
        codes: list[tuple[SubjectCode, bool]] = [
            (code, False) for code, rule in SUBJECTS.items() if grade in rule.compulsory_grades
        ]
        if grade in SUBJECTS["NGOAI_NGU_1"].optional_grades and rng.random() < 0.6:
            codes.append(("NGOAI_NGU_1", True))
        if rng.random() < 0.03:
            codes.append(("TIENG_DAN_TOC", True))
        results: list[SubjectResult] = []
        for code, optional in codes:
            rule = SUBJECTS[code]
            tested = test_periods(rule, grade, optional, None, mode, DEFAULT_RULES)
            periods: list[SubjectPeriodResult] = []
            for period in PERIODS:
                level = self.subject_level(weights)
                score = rng.randint(low, high) if period in tested else None
                if score is not None and level == "HOAN_THANH_TOT" and score < 7:
                    level = "HOAN_THANH"
                components = [
                    {
                        "component": component,
                        "level": self.subject_level(weights),
                        "comment": None,
                    }
                    for component in rule.components
                ]
                periods.append(
                    {
                        "period": period,
                        "level": None if components else level,
                        "test_score": score,
                        "earlier_test_scores": [],
                        "comment": rng.choice(names.COMMENTS_SUBJECT[level]),
                        "components": components,  # type: ignore[typeddict-item]
                    }
                )
            results.append(
                {"subject": code, "optional": optional, "has_test": None, "periods": periods}
            )
        return results

    def ratings(self, tier: int) -> list[RatingPeriodResult]:
        weights = _TIERS[tier][0]
        return [
            {
                "period": period,
                "level": self.rating_level(weights),
                "comment": self.rng.choice(names.COMMENTS_QUALITY) if period == "CN" else None,
            }
            for period in PERIODS
        ]

    def qualities(self, tier: int) -> list[QualityResult]:
        return [{"quality": q, "periods": self.ratings(tier)} for q in QUALITIES]

    def competencies(self, grade: int, tier: int) -> list[CompetencyResult]:
        unrated = unratable_competencies(grade)
        out: list[CompetencyResult] = []
        for code in (*GENERAL_COMPETENCIES, *SPECIFIC_COMPETENCIES):
            periods = self.ratings(tier)
            if code in unrated:
                periods = [{"period": p["period"], "level": None, "comment": None} for p in periods]
            out.append({"competency": code, "periods": periods})
        return out

    def record(
        self, school: School, grade: int, class_name: str, teacher: str, principal: str
    ) -> YearRecord:
        rng = self.rng
        tier = rng.choices(range(len(_TIERS)), _TIER_WEIGHTS)[0]
        roll = rng.random()
        mode: DisabilityMode = (
            "DISABILITY_CLASS" if roll < 0.004 else "INCLUSIVE_PLAN" if roll < 0.01 else "NONE"
        )
        student = self.student(grade, school)
        record: YearRecord = {
            "student": student,
            "school": dict(school),  # type: ignore[typeddict-item]
            "school_year": self.settings.school_year,
            "grade": grade,
            "class_name": class_name,
            "enrolled_on": dt.date(self.start - grade + 1, 9, 5),
            "homeroom_teacher": teacher,
            "principal": principal,
            "height_cm": round(105 + 6 * grade + rng.uniform(-8, 8), 1),
            "weight_kg": round(17 + 3 * grade + rng.uniform(-4, 6), 1),
            "days_absent": rng.choice((0, 0, 0, 1, 2, 3, 5)),
            "subjects": self.subjects(grade, mode, tier),
            "qualities": self.qualities(tier),
            "competencies": self.competencies(grade, tier),
            "declared_result": None,
            "completion": None,
            "commendations": [],
            "disability": {
                "mode": mode,
                "plan_reference": f"KHGDCN-{rng.randrange(10**6):06d}"
                if mode == "INCLUSIVE_PLAN"
                else None,
            },
        }
        return record

    def finalise(self, record: YearRecord) -> None:
        """Fill the year end consistently with the record's own levels and scores."""
        rng = self.rng
        result = classify_year_result(record)
        record["declared_result"] = result
        decided_on = dt.date(self.start + 1, 7, 25)
        completion: Completion = {
            "status": "COMPLETED",
            "supplementary_result": None,
            "decided_on": None,
            "decided_by": None,
            "note": None,
        }
        if result == "CHT":
            branch = rng.random()
            if branch < 0.25:
                completion["status"] = "SUPPLEMENTARY_ASSESSMENT"
                completion["note"] = "Kế hoạch phụ đạo trong hè."
            elif branch < 0.7:
                completion.update(
                    {
                        "status": "COMPLETED_AFTER_SUPPLEMENTARY",
                        "supplementary_result": "HT",
                        "decided_on": decided_on,
                    }
                )
            else:
                decision: CompletionStatus = rng.choice(("PROMOTED", "REPEATS"))
                completion.update(
                    {
                        "status": decision,
                        "supplementary_result": "CHT",
                        "decided_on": decided_on,
                        "decided_by": record["principal"],
                    }
                )
        record["completion"] = completion
        commendations: list[Commendation] = []
        if result == "HTXS":
            commendations.append(self.commendation("HOC_SINH_XUAT_SAC", record["principal"]))
        elif result == "HTT" and rng.random() < 0.3:
            tieu_bieu = self.commendation("HOC_SINH_TIEU_BIEU", record["principal"])
            tieu_bieu["reason"] = "Có kết quả nổi bật môn Toán."
            tieu_bieu["class_recognised"] = True
            commendations.append(tieu_bieu)
        if rng.random() < 0.02:
            sudden = self.commendation("SUDDEN", record["principal"])
            sudden["title"] = "Giải Nhất hội thi Viết chữ đẹp cấp trường"
            commendations.append(sudden)
        record["commendations"] = commendations

    def commendation(self, kind: str, principal: str | None) -> Commendation:
        return {
            "kind": kind,  # type: ignore[typeddict-item]
            "title": None,
            "reason": None,
            "class_recognised": None,
            "awarded_by": principal,
            "awarded_on": dt.date(self.start + 1, 5, 28),
        }


# --- Planted errors -------------------------------------------------------------------------
# Each mutation makes exactly one error code appear and returns False when it does not apply to
# the record. "Before" mutations change evaluations (the year end is then recomputed, so that
# only the planted code appears); "after" mutations change the year end itself.

_Mutation = Callable[[YearRecord, random.Random], bool]


def _subject(record: YearRecord, code: str) -> SubjectResult | None:
    return next((s for s in record["subjects"] if s["subject"] == code), None)


def _cn(subject: SubjectResult) -> SubjectPeriodResult:
    return next(p for p in subject["periods"] if p["period"] == "CN")


def _score_not_allowed(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "DAO_DUC")
    if subject is None:
        return False
    _cn(subject)["test_score"] = rng.randint(5, 10)
    return True


def _score_out_of_range(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "TOAN")
    if subject is None or _cn(subject)["test_score"] is None:
        return False
    _cn(subject)["earlier_test_scores"] = [rng.choice((11, 12, -1))]
    return True


def _cn_score_missing(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "TOAN")
    if subject is None or _cn(subject)["test_score"] is None:
        return False
    _cn(subject)["test_score"] = None
    return True


def _cn_level_missing(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "DAO_DUC")
    if subject is None:
        return False
    _cn(subject)["level"] = None
    return True


def _subject_missing(record: YearRecord, rng: random.Random) -> bool:
    record["subjects"] = [s for s in record["subjects"] if s["subject"] != "DAO_DUC"]
    return True


def _plain_subject(code: SubjectCode, optional: bool) -> SubjectResult:
    return {
        "subject": code,
        "optional": optional,
        "has_test": None,
        "periods": [
            {
                "period": p,
                "level": "HOAN_THANH_TOT",
                "test_score": None,
                "earlier_test_scores": [],
                "comment": None,
                "components": [],
            }
            for p in PERIODS
        ],
    }


def _subject_not_in_grade(record: YearRecord, rng: random.Random) -> bool:
    extra: SubjectCode = "KHOA_HOC" if record["grade"] <= 3 else "TU_NHIEN_XA_HOI"
    record["subjects"].append(_plain_subject(extra, False))
    return True


def _optional_not_declared(record: YearRecord, rng: random.Random) -> bool:
    record["subjects"] = [s for s in record["subjects"] if not s["optional"]]
    record["subjects"].append(_plain_subject("TIENG_DAN_TOC", False))
    return True


def _subject_not_optional(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "DAO_DUC")
    if subject is None:
        return False
    subject["optional"] = True
    return True


def _duplicate_entry(record: YearRecord, rng: random.Random) -> bool:
    record["qualities"].append(record["qualities"][0])
    return True


def _duplicate_period(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "DAO_DUC")
    if subject is None:
        return False
    subject["periods"].append(dict(_cn(subject)))  # type: ignore[arg-type]
    return True


def _component_not_of_subject(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "NGHE_THUAT")
    if subject is None:
        return False
    cn = _cn(subject)
    cn["components"] = [*cn["components"], {**cn["components"][0], "component": "TIN_HOC"}]
    return True


def _component_missing(record: YearRecord, rng: random.Random) -> bool:
    subject = _subject(record, "NGHE_THUAT")
    if subject is None:
        return False
    cn = _cn(subject)
    cn["components"] = cn["components"][:1]
    return True


def _rating_missing(record: YearRecord, rng: random.Random) -> bool:
    record["qualities"] = [q for q in record["qualities"] if q["quality"] != "TRUNG_THUC"]
    return True


def _national_id(record: YearRecord, change: Callable[[str], str]) -> bool:
    national_id = record["student"]["national_id"]
    if national_id is None:
        return False
    record["student"]["national_id"] = change(national_id)
    return True


def _national_id_format(record: YearRecord, rng: random.Random) -> bool:
    return _national_id(record, lambda n: n[:11])


def _national_id_province(record: YearRecord, rng: random.Random) -> bool:
    return _national_id(record, lambda n: rng.choice(("003", "099", "500")) + n[3:])


def _national_id_century_sex(record: YearRecord, rng: random.Random) -> bool:
    return _national_id(record, lambda n: n[:3] + str(int(n[3]) ^ 1) + n[4:])


def _national_id_birth_year(record: YearRecord, rng: random.Random) -> bool:
    return _national_id(record, lambda n: n[:4] + f"{(int(n[4:6]) + 1) % 100:02d}" + n[6:])


def _required_field_missing(record: YearRecord, rng: random.Random) -> bool:
    record["student"]["ethnicity"] = None
    return True


def _student_id_format(record: YearRecord, rng: random.Random) -> bool:
    record["student"]["student_id"] = "HS 2024/" + record["student"]["student_id"][:6]
    return True


def _school_code_format(record: YearRecord, rng: random.Random) -> bool:
    record["school"]["school_code"] = "Trường số 1"
    return True


def _school_year_format(record: YearRecord, rng: random.Random) -> bool:
    start = _start_year(record["school_year"])
    record["school_year"] = rng.choice((f"{start}-{start + 2}", f"{start}/{start + 1}"))
    return True


def _grade_out_of_range(record: YearRecord, rng: random.Random) -> bool:
    record["grade"] = rng.choice((0, 6, 9))
    return True


def _comment_too_long(record: YearRecord, rng: random.Random) -> bool:
    _cn(record["subjects"][0])["comment"] = "Em cần cố gắng hơn. " * 120
    return True


def _disability_plan_missing(record: YearRecord, rng: random.Random) -> bool:
    record["disability"] = {"mode": "INCLUSIVE_PLAN", "plan_reference": None}
    return True


_OTHER_RESULT: Final[dict[YearResult, YearResult]] = {
    "HTXS": "HTT",
    "HTT": "HTXS",
    "HT": "HTT",
    "CHT": "HT",
}


def _result_mismatch(record: YearRecord, rng: random.Random) -> bool:
    declared = record["declared_result"]
    if declared is None:
        return False
    record["declared_result"] = _OTHER_RESULT[declared]
    return True


def _completion_missing(record: YearRecord, rng: random.Random) -> bool:
    record["completion"] = None
    return True


def _completion_inconsistent(record: YearRecord, rng: random.Random) -> bool:
    completion = record["completion"]
    if completion is None or record["declared_result"] is None:
        return False
    if record["declared_result"] == "CHT":
        completion.update({"status": "COMPLETED", "supplementary_result": None})
    else:
        completion["status"] = "SUPPLEMENTARY_ASSESSMENT"
    return True


def _completion_decision_missing(record: YearRecord, rng: random.Random) -> bool:
    completion = record["completion"]
    if completion is None or record["declared_result"] != "CHT":
        return False
    completion.update({"status": "REPEATS", "supplementary_result": "CHT", "decided_on": None})
    return True


def _commendation_not_earned(record: YearRecord, rng: random.Random) -> bool:
    result = record["declared_result"]
    if result is None:
        return False
    kind = "HOC_SINH_TIEU_BIEU" if result == "HTXS" else "HOC_SINH_XUAT_SAC"
    record["commendations"].append(
        {
            "kind": kind,  # type: ignore[typeddict-item]
            "title": None,
            "reason": "Có kết quả nổi bật môn Tiếng Việt.",
            "class_recognised": True,
            "awarded_by": record["principal"],
            "awarded_on": None,
        }
    )
    return True


def _commendation_incomplete(record: YearRecord, rng: random.Random) -> bool:
    record["commendations"].append(
        {
            "kind": "SUDDEN",
            "title": None,
            "reason": None,
            "class_recognised": None,
            "awarded_by": record["principal"],
            "awarded_on": None,
        }
    )
    return True


_BEFORE: Final[dict[str, _Mutation]] = {
    "E_SCORE_NOT_ALLOWED": _score_not_allowed,
    "E_SCORE_OUT_OF_RANGE": _score_out_of_range,
    "E_CN_SCORE_MISSING": _cn_score_missing,
    "E_CN_LEVEL_MISSING": _cn_level_missing,
    "E_SUBJECT_MISSING": _subject_missing,
    "E_SUBJECT_NOT_IN_GRADE": _subject_not_in_grade,
    "E_OPTIONAL_NOT_DECLARED": _optional_not_declared,
    "E_SUBJECT_NOT_OPTIONAL": _subject_not_optional,
    "E_DUPLICATE_ENTRY": _duplicate_entry,
    "E_DUPLICATE_PERIOD": _duplicate_period,
    "E_COMPONENT_NOT_OF_SUBJECT": _component_not_of_subject,
    "E_COMPONENT_MISSING": _component_missing,
    "E_RATING_MISSING": _rating_missing,
    "E_NATIONAL_ID_FORMAT": _national_id_format,
    "E_NATIONAL_ID_PROVINCE": _national_id_province,
    "E_NATIONAL_ID_CENTURY_SEX": _national_id_century_sex,
    "E_NATIONAL_ID_BIRTH_YEAR": _national_id_birth_year,
    "E_REQUIRED_FIELD_MISSING": _required_field_missing,
    "E_STUDENT_ID_FORMAT": _student_id_format,
    "E_SCHOOL_CODE_FORMAT": _school_code_format,
    "E_SCHOOL_YEAR_FORMAT": _school_year_format,
    "E_GRADE_OUT_OF_RANGE": _grade_out_of_range,
    "E_COMMENT_TOO_LONG": _comment_too_long,
    "E_DISABILITY_PLAN_MISSING": _disability_plan_missing,
}
_AFTER: Final[dict[str, _Mutation]] = {
    "E_RESULT_MISMATCH": _result_mismatch,
    "E_COMPLETION_MISSING": _completion_missing,
    "E_COMPLETION_INCONSISTENT": _completion_inconsistent,
    "E_COMPLETION_DECISION_MISSING": _completion_decision_missing,
    "E_COMMENDATION_NOT_EARNED": _commendation_not_earned,
    "E_COMMENDATION_INCOMPLETE": _commendation_incomplete,
}
#: Every error code the generator can plant.
PLANTABLE_CODES: Final[frozenset[str]] = frozenset(_BEFORE) | frozenset(_AFTER)


def _plant(builder: _Builder, record: YearRecord, choices: Sequence[str]) -> tuple[str, ...]:
    rng = builder.rng
    # A few attempts: some mutations do not apply to every record (no CHT, no test ...).
    for _ in range(8):
        code = rng.choice(choices)
        if code in _BEFORE:
            if _BEFORE[code](record, rng):
                builder.finalise(record)
                return (code,)
        else:
            builder.finalise(record)
            if _AFTER[code](record, rng):
                return (code,)
    builder.finalise(record)
    return ()


def generate_school_year(settings: GeneratorSettings, seed: int = 0) -> Iterator[GeneratedRecord]:
    """Every student's year record of a synthetic school year, in school/grade/class order."""
    rng = random.Random(seed)
    builder = _Builder(rng, settings)
    choices = sorted(PLANTABLE_CODES - settings.exclude_codes)
    sequence = 0
    for s in range(settings.schools):
        school = builder.school(s)
        principal = builder.person_name(rng.choice(("MALE", "FEMALE")))
        for grade in settings.grades:
            for c in range(settings.classes_per_grade):
                class_name = f"{grade}A{c + 1}"
                teacher = builder.person_name(rng.choice(("MALE", "FEMALE")))
                for _ in range(settings.students_per_class):
                    sequence += 1
                    record = builder.record(school, grade, class_name, teacher, principal)
                    if choices and rng.random() < settings.invalid_share:
                        planted = _plant(builder, record, choices)
                    else:
                        builder.finalise(record)
                        planted = ()
                    yield GeneratedRecord(record, planted, sequence)


def plant_error(record: YearRecord, code: str, rng: random.Random) -> bool:
    """Change ``record`` in place so that it produces error ``code``; False if not applicable.

    The year end is left as it is: the caller decides whether to recompute it.
    """
    mutation = _BEFORE.get(code) or _AFTER.get(code)
    if mutation is None:
        raise KeyError(f"{code} cannot be planted")
    return mutation(record, rng)
