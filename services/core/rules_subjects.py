"""Rules on subjects and activities (môn học, hoạt động giáo dục): domain.md sections 1-3.

Which subjects a grade has, optional subjects, component rows, levels per period,
and periodic test scores (điểm kiểm tra định kỳ): where a test is held, 0-10, and
the end-of-year score of every tested subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from services.core.avro_types import (
    ComponentResult,
    DisabilityMode,
    Period,
    RatingPeriodResult,
    SubjectCode,
    SubjectComponent,
    SubjectPeriodResult,
    SubjectResult,
)
from services.core.config import DEFAULT_RULES, RuleConfig
from services.core.curriculum import (
    ALL_GRADES,
    COMPONENT_NAMES_VI,
    MID_TERM_TEST_GRADES,
    MID_TERM_TEST_SUBJECTS,
    PERIOD_NAMES_VI,
    PERIODS,
    SUBJECTS,
    SubjectRule,
)
from services.core.findings import Finding, finding

__all__ = [
    "ALL_PERIOD_BITS",
    "PERIOD_BITS",
    "check_comment",
    "check_period_set",
    "check_subjects",
    "level_missing",
    "report_absent_periods",
    "test_periods",
]

_END_OF_TERM: Final[frozenset[Period]] = frozenset({"CK1", "CN"})
_WITH_MID_TERM: Final[frozenset[Period]] = frozenset({"GK1", "CK1", "GK2", "CN"})
_NO_TESTS: Final[frozenset[Period]] = frozenset()
_ALL_PERIODS: Final = frozenset(PERIODS)
# One bit per period: the periods an item has, collected without building a set.
PERIOD_BITS: Final[dict[str, int]] = {"GK1": 1, "CK1": 2, "GK2": 4, "CN": 8}
ALL_PERIOD_BITS: Final = 15
_COMPULSORY: Final[dict[int, frozenset[SubjectCode]]] = {
    grade: frozenset(c for c, r in SUBJECTS.items() if grade in r.compulsory_grades)
    for grade in ALL_GRADES
}
_SUBJECT_ORDER: Final[dict[SubjectCode, int]] = {code: i for i, code in enumerate(SUBJECTS)}


def check_comment(comment: str | None, path: str, rules: RuleConfig, found: list[Finding]) -> None:
    """Comments (nhận xét) are a human matter: only their length is checked."""
    if comment is not None and len(comment) > rules.max_comment_length:
        found.append(
            finding(
                "E_COMMENT_TOO_LONG",
                path,
                f"Nhận xét dài {len(comment)} ký tự, vượt giới hạn {rules.max_comment_length}.",
                f"Comment of {len(comment)} characters exceeds {rules.max_comment_length}.",
            )
        )


def test_periods(
    rule: SubjectRule,
    grade: int,
    optional: bool,
    has_test: bool | None,
    mode: DisabilityMode,
    rules: RuleConfig,
) -> frozenset[Period]:
    """The periods at which the subject holds a periodic test (TT27 Art. 7 cl. 1 b, Art. 8)."""
    if mode == "DISABILITY_CLASS":
        tested = rule.code in MID_TERM_TEST_SUBJECTS
    elif optional:
        tested = rules.optional_subjects_tested if has_test is None else has_test
    else:
        tested = rule.tested
    if not tested:
        return _NO_TESTS
    if grade in MID_TERM_TEST_GRADES and rule.code in MID_TERM_TEST_SUBJECTS:
        return _WITH_MID_TERM
    return _END_OF_TERM


def _check_score(
    score: int,
    path: str,
    period: Period,
    allowed: frozenset[Period],
    name_vi: str,
    rules: RuleConfig,
    found: list[Finding],
) -> None:
    if not 0 <= score <= 10:
        found.append(
            finding(
                "E_SCORE_OUT_OF_RANGE",
                path,
                f"Điểm {score} của môn {name_vi} nằm ngoài thang điểm 0-10.",
                f"Score {score} is outside the 0-10 scale.",
            )
        )
    if period in allowed:
        return
    if allowed and not rules.reject_scores_outside_tt27_periods:
        found.append(
            finding(
                "W_SCORE_OUTSIDE_TT27_PERIOD",
                path,
                f"Môn {name_vi} không có bài kiểm tra định kỳ {PERIOD_NAMES_VI[period]} "
                "theo Thông tư 27; điểm được giữ lại.",
                f"TT27 holds no periodic test at {period} for this subject; the score is kept.",
            )
        )
        return
    where_vi = f"{PERIOD_NAMES_VI[period]} " if allowed else ""
    found.append(
        finding(
            "E_SCORE_NOT_ALLOWED",
            path,
            f"Môn {name_vi} không có bài kiểm tra định kỳ {where_vi}nên không được có điểm.",
            f"No periodic test is held for this subject{f' at {period}' if allowed else ''}: "
            "a score is not allowed.",
        )
    )


@dataclass(frozen=True, slots=True)
class _GradeSubject:
    """What one subject is in one grade: computed once per grade, not once per record."""

    rule: SubjectRule
    taught: bool
    compulsory: bool
    #: Optionality is a fact of the grade; the record's declaration is only checked against it.
    optional: bool
    #: Periods with a periodic test when the record leaves ``has_test`` unset (the usual case).
    tested: frozenset[Period]


@lru_cache(maxsize=64)
def _grade_subjects(
    grade: int, mode: DisabilityMode, optional_subjects_tested: bool
) -> Mapping[SubjectCode, _GradeSubject]:
    # Every record of a grade asks the same questions of the curriculum (taught? optional?
    # which tests?); answering them once per (grade, mode, switch) takes them out of the
    # per-record loop. Keyed on the one RuleConfig switch that matters, as _score_periods is.
    table: dict[SubjectCode, _GradeSubject] = {}
    for code, rule in SUBJECTS.items():
        taught = rule.taught_in(grade)
        optional = grade in rule.optional_grades
        tested = (
            _score_periods(code, grade, optional, None, mode, optional_subjects_tested)
            if taught
            else _NO_TESTS
        )
        table[code] = _GradeSubject(rule, taught, grade in rule.compulsory_grades, optional, tested)
    return table


_NO_PLANS: Final[Mapping[SubjectCode, _GradeSubject]] = {}


def _check_subject(
    subject: SubjectResult,
    i: int,
    grade: int | None,
    plans: Mapping[SubjectCode, _GradeSubject],
    mode: DisabilityMode,
    rules: RuleConfig,
    found: list[Finding],
) -> None:
    code = subject["subject"]
    optional = subject["optional"]
    has_test = subject["has_test"]
    # Paths and messages are only built when a finding is emitted: most subjects have none.
    if grade is None:
        rule = SUBJECTS[code]
        is_optional = optional
        # Unknown grade: E_GRADE_OUT_OF_RANGE says it all; scores are neither required nor
        # checked against a grade's tests.
        allowed, required = _ALL_PERIODS, _NO_TESTS
    else:
        plan = plans[code]
        rule = plan.rule
        is_optional = plan.optional
        if not plan.taught:
            found.append(
                finding(
                    "E_SUBJECT_NOT_IN_GRADE",
                    f"subjects[{i}].subject",
                    f"Môn {rule.name_vi} không có trong chương trình lớp {grade}.",
                    f"{code} is not taught in grade {grade}.",
                )
            )
            # A subject the grade lacks: that error says it all.
            allowed, required = _ALL_PERIODS, _NO_TESTS
        else:
            if is_optional and not optional:
                found.append(
                    finding(
                        "E_OPTIONAL_NOT_DECLARED",
                        f"subjects[{i}].optional",
                        f"Môn {rule.name_vi} ở lớp {grade} là môn tự chọn: cần khai báo "
                        "optional = true.",
                        f"{code} is optional in grade {grade}: declare optional = true.",
                    )
                )
            elif optional and plan.compulsory:
                found.append(
                    finding(
                        "E_SUBJECT_NOT_OPTIONAL",
                        f"subjects[{i}].optional",
                        f"Môn {rule.name_vi} là môn bắt buộc ở lớp {grade}, không phải môn tự "
                        "chọn.",
                        f"{code} is compulsory in grade {grade}, not optional.",
                    )
                )
            if has_test is None:
                allowed = plan.tested
            else:
                allowed = _score_periods(
                    code, grade, is_optional, has_test, mode, rules.optional_subjects_tested
                )
            required = allowed
    name_vi = rule.name_vi
    if has_test is not None and not is_optional:
        found.append(
            finding(
                "W_HAS_TEST_IGNORED",
                f"subjects[{i}].has_test",
                f"Môn {name_vi} không phải môn tự chọn: has_test bị bỏ qua.",
                f"{code} is not an optional subject: has_test is ignored.",
            )
        )
    periods = subject["periods"]
    max_comment = rules.max_comment_length
    components = rule.components
    mask = 0
    for j, period_result in enumerate(periods):
        period = period_result["period"]
        mask |= PERIOD_BITS[period]
        rows = period_result["components"]
        if rows:
            # Fast path: exactly the subject's components, in order, with short comments.
            if len(rows) != len(components) or not _rows_as_expected(rows, components, max_comment):
                path = f"subjects[{i}].periods[{j}]"
                _check_components(rows, path, code, rule, rules, found)
        elif period_result["level"] is None:
            level_missing(f"subjects[{i}].periods[{j}].level", period, code, name_vi, found)
        score = period_result["test_score"]
        if score is not None:
            if period not in allowed or not 0 <= score <= 10:
                path = f"subjects[{i}].periods[{j}].test_score"
                _check_score(score, path, period, allowed, name_vi, rules, found)
        elif period in required:
            path = f"subjects[{i}].periods[{j}].test_score"
            _score_missing(path, period, code, name_vi, found)
        if period_result["earlier_test_scores"]:
            for k, earlier in enumerate(period_result["earlier_test_scores"]):
                path = f"subjects[{i}].periods[{j}].earlier_test_scores[{k}]"
                _check_score(earlier, path, period, allowed, name_vi, rules, found)
        comment = period_result["comment"]
        if comment is not None and len(comment) > max_comment:
            check_comment(comment, f"subjects[{i}].periods[{j}].comment", rules, found)
    if mask != ALL_PERIOD_BITS or len(periods) != 4:
        check_period_set(periods, f"subjects[{i}].periods", code, name_vi, found)


def _rows_as_expected(
    rows: list[ComponentResult], components: tuple[SubjectComponent, ...], max_comment: int
) -> bool:
    """The rows are exactly ``components``, in order, with short comments (same lengths)."""
    # A plain loop: cheaper than any() over a generator for the two rows a subject has.
    for row, expected in zip(rows, components, strict=True):
        if row["component"] != expected:
            return False
        comment = row["comment"]
        if comment is not None and len(comment) > max_comment:
            return False
    return True


@lru_cache(maxsize=1024)
def _score_periods(
    code: SubjectCode,
    grade: int,
    is_optional: bool,
    has_test: bool | None,
    mode: DisabilityMode,
    optional_subjects_tested: bool,
) -> frozenset[Period]:
    # The same few combinations recur in every record: compute each once (keyed on the one
    # switch that matters, since hashing a whole RuleConfig costs more than the lookup).
    if is_optional and has_test is None:
        has_test = optional_subjects_tested
    return test_periods(SUBJECTS[code], grade, is_optional, has_test, mode, DEFAULT_RULES)


def _check_components(
    rows: list[ComponentResult],
    path: str,
    code: SubjectCode,
    rule: SubjectRule,
    rules: RuleConfig,
    found: list[Finding],
) -> None:
    components = rule.components
    seen: set[str] = set()
    for k, row in enumerate(rows):
        component = row["component"]
        if component not in components:
            found.append(
                finding(
                    "E_COMPONENT_NOT_OF_SUBJECT",
                    f"{path}.components[{k}].component",
                    f"Phân môn {COMPONENT_NAMES_VI[component]} không thuộc môn {rule.name_vi}.",
                    f"Component {component} is not part of {code}.",
                )
            )
        elif component in seen:
            found.append(
                finding(
                    "E_DUPLICATE_ENTRY",
                    f"{path}.components[{k}].component",
                    f"Phân môn {COMPONENT_NAMES_VI[component]} của môn {rule.name_vi} xuất "
                    "hiện hai lần.",
                    f"Component {component} of {code} appears twice.",
                )
            )
        seen.add(component)
        if row["comment"] is not None:
            check_comment(row["comment"], f"{path}.components[{k}].comment", rules, found)
    if components and not seen.issuperset(components):
        absent = ", ".join(COMPONENT_NAMES_VI[c] for c in components if c not in seen)
        found.append(
            finding(
                "E_COMPONENT_MISSING",
                f"{path}.components",
                f"Môn {rule.name_vi} được đánh giá theo phân môn nhưng thiếu: {absent}.",
                f"{code} is rated per component but lacks: {absent}.",
            )
        )


def level_missing(path: str, period: Period, item: str, name_vi: str, found: list[Finding]) -> None:
    if period == "CN":
        found.append(
            finding(
                "E_CN_LEVEL_MISSING",
                path,
                f"{name_vi}: thiếu mức đạt được cuối năm học.",
                f"{item} has no end-of-year (CN) level.",
            )
        )
    else:
        found.append(
            finding(
                "W_LEVEL_MISSING",
                path,
                f"{name_vi}: thiếu mức đạt được {PERIOD_NAMES_VI[period]}.",
                f"{item} has no level at {period}.",
            )
        )


def _score_missing(
    path: str, period: Period, code: str, name_vi: str, found: list[Finding]
) -> None:
    if period == "CN":
        found.append(
            finding(
                "E_CN_SCORE_MISSING",
                path,
                f"Môn {name_vi} thiếu điểm kiểm tra định kỳ cuối năm học.",
                f"{code} has no end-of-year (CN) test score.",
            )
        )
    else:
        found.append(
            finding(
                "W_SCORE_MISSING",
                path,
                f"Môn {name_vi} thiếu điểm kiểm tra định kỳ {PERIOD_NAMES_VI[period]}.",
                f"{code} has no test score at {period}.",
            )
        )


def check_period_set(
    periods: list[SubjectPeriodResult] | list[RatingPeriodResult],
    path: str,
    item: str,
    name_vi: str,
    found: list[Finding],
    *,
    require_all: bool = True,
) -> None:
    """Each period at most once; CN present (else E_CN_LEVEL_MISSING); others warned about."""
    seen: set[str] = set()
    for j, result in enumerate(periods):
        period = result["period"]
        if period in seen:
            found.append(
                finding(
                    "E_DUPLICATE_PERIOD",
                    f"{path}[{j}].period",
                    f"{name_vi}: có hai lần đánh giá {PERIOD_NAMES_VI[period]}.",
                    f"{item} is evaluated twice at {period}.",
                )
            )
        seen.add(period)
    if require_all:
        report_absent_periods(seen, path, item, name_vi, found)


def report_absent_periods(
    seen: set[str], path: str, item: str, name_vi: str, found: list[Finding]
) -> None:
    if "CN" not in seen:
        found.append(
            finding(
                "E_CN_LEVEL_MISSING",
                path,
                f"{name_vi}: thiếu đánh giá cuối năm học.",
                f"{item} has no end-of-year (CN) evaluation.",
            )
        )
    absent = [p for p in PERIODS if p != "CN" and p not in seen]
    if absent:
        found.append(
            finding(
                "W_PERIOD_MISSING",
                path,
                f"{name_vi}: thiếu đánh giá {', '.join(PERIOD_NAMES_VI[p] for p in absent)}.",
                f"{item} has no evaluation at {', '.join(absent)}.",
            )
        )


def check_subjects(
    subjects: list[SubjectResult],
    grade: int,
    mode: DisabilityMode,
    rules: RuleConfig,
    found: list[Finding],
) -> None:
    """Append every subject finding of one year record to ``found``."""
    known_grade = grade if grade in ALL_GRADES else None
    plans = (
        _grade_subjects(known_grade, mode, rules.optional_subjects_tested)
        if known_grade is not None
        else _NO_PLANS
    )
    seen: set[SubjectCode] = set()
    for i, subject in enumerate(subjects):
        code = subject["subject"]
        if code in seen:
            found.append(
                finding(
                    "E_DUPLICATE_ENTRY",
                    f"subjects[{i}].subject",
                    f"Môn {SUBJECTS[code].name_vi} xuất hiện hai lần.",
                    f"Subject {code} appears twice.",
                )
            )
        seen.add(code)
        _check_subject(subject, i, known_grade, plans, mode, rules, found)
    if known_grade is None:
        return
    missing = _COMPULSORY[known_grade] - seen
    for code in sorted(missing, key=_SUBJECT_ORDER.__getitem__):
        found.append(
            finding(
                "E_SUBJECT_MISSING",
                "subjects",
                f"Thiếu môn bắt buộc {SUBJECTS[code].name_vi} của lớp {known_grade}.",
                f"Compulsory subject {code} of grade {known_grade} is missing.",
            )
        )
