"""Rules on qualities (phẩm chất) and competencies (năng lực): domain.md section 2.

The five main qualities and the ten core competencies each have a level (Tốt,
Đạt, Cần cố gắng) at every period, and must have one at the end of the year; a
specific competency whose subjects the grade lacks may stay unrated (UNCONFIRMED,
configurable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from services.core.avro_types import (
    CompetencyCode,
    CompetencyResult,
    QualityResult,
    RatingPeriodResult,
)
from services.core.config import RuleConfig
from services.core.curriculum import (
    ALL_GRADES,
    COMPETENCY_NAMES_VI,
    GENERAL_COMPETENCIES,
    QUALITIES,
    QUALITY_NAMES_VI,
    SPECIFIC_COMPETENCIES,
    SUBJECTS,
    competency_subjects,
)
from services.core.findings import Finding, finding
from services.core.rules_subjects import (
    ALL_PERIOD_BITS,
    PERIOD_BITS,
    check_comment,
    check_period_set,
    level_missing,
)

__all__ = ["check_competencies", "check_qualities", "unratable_competencies"]

_ALL_COMPETENCIES: Final = (*GENERAL_COMPETENCIES, *SPECIFIC_COMPETENCIES)


@lru_cache(maxsize=8)
def unratable_competencies(grade: int) -> frozenset[CompetencyCode]:
    """Specific competencies (năng lực đặc thù) no compulsory subject of the grade develops."""
    return frozenset(
        code
        for code in SPECIFIC_COMPETENCIES
        if not any(grade in SUBJECTS[s].compulsory_grades for s in competency_subjects(code))
    )


def _check_items(
    items: Sequence[QualityResult] | Sequence[CompetencyResult],
    key: str,
    names_vi: Mapping[Any, str],
    required: Sequence[str],
    may_skip: frozenset[str],
    rules: RuleConfig,
    found: list[Finding],
) -> None:
    plural = "qualities" if key == "quality" else "competencies"
    max_comment = rules.max_comment_length
    seen_items: set[str] = set()
    for i, item in enumerate(items):
        code: str = item[key]  # type: ignore[literal-required]
        if code in seen_items:
            found.append(
                finding(
                    "E_DUPLICATE_ENTRY",
                    f"{plural}[{i}].{key}",
                    f"{names_vi[code]} xuất hiện hai lần.",
                    f"{code} appears twice.",
                )
            )
        seen_items.add(code)
        periods = item["periods"]
        # Fast path: four distinct periods, each rated (or allowed to stay unrated), no long
        # comment: nothing to report. Anything else is looked at again in detail.
        unrated_ok = code in may_skip
        mask = 0
        clean = len(periods) == 4
        for rating in periods:
            mask |= PERIOD_BITS[rating["period"]]
            comment = rating["comment"]
            if (rating["level"] is None and not unrated_ok) or (
                comment is not None and len(comment) > max_comment
            ):
                clean = False
        if not clean or mask != ALL_PERIOD_BITS:
            _report_item(periods, i, plural, code, names_vi[code], unrated_ok, rules, found)
    # Usually every item is there: one C-level superset test instead of a loop of lookups.
    if seen_items.issuperset(required):
        return
    for code in required:
        if code not in seen_items and code not in may_skip:
            found.append(
                finding(
                    "E_RATING_MISSING",
                    plural,
                    f"Thiếu đánh giá {names_vi[code]}.",
                    f"{code} is not evaluated.",
                )
            )


def _report_item(
    periods: list[RatingPeriodResult],
    i: int,
    plural: str,
    code: str,
    name_vi: str,
    unrated_ok: bool,
    rules: RuleConfig,
    found: list[Finding],
) -> None:
    for j, rating in enumerate(periods):
        if rating["level"] is None and not unrated_ok:
            path = f"{plural}[{i}].periods[{j}].level"
            level_missing(path, rating["period"], code, name_vi, found)
        if rating["comment"] is not None:
            check_comment(rating["comment"], f"{plural}[{i}].periods[{j}].comment", rules, found)
    check_period_set(
        periods, f"{plural}[{i}].periods", code, name_vi, found, require_all=not unrated_ok
    )


def check_qualities(
    qualities: list[QualityResult], rules: RuleConfig, found: list[Finding]
) -> None:
    """Append the findings on the five main qualities (phẩm chất chủ yếu)."""
    _check_items(qualities, "quality", QUALITY_NAMES_VI, QUALITIES, frozenset(), rules, found)


def check_competencies(
    competencies: list[CompetencyResult], grade: int, rules: RuleConfig, found: list[Finding]
) -> None:
    """Append the findings on the core competencies (năng lực cốt lõi)."""
    may_skip: frozenset[str]
    if grade not in ALL_GRADES:
        may_skip = frozenset(SPECIFIC_COMPETENCIES)  # unknown grade: that error says it all
    elif rules.allow_unrated_specific_competency:
        may_skip = frozenset(unratable_competencies(grade))
    else:
        may_skip = frozenset()
    _check_items(
        competencies,
        "competency",
        COMPETENCY_NAMES_VI,
        _ALL_COMPETENCIES,
        may_skip,
        rules,
        found,
    )
