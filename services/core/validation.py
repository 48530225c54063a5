"""Validation of a year record against every Circular 27 rule, all findings at once.

``validate_year_record`` is the one entry point: it runs the rules of
domain.md sections 1-7, recomputes the year-end result and returns a frozen
:class:`ValidationOutcome`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from services.core.avro_types import CommendationKind, YearRecord, YearResult
from services.core.classification import (
    classify_year_result,
    completion_statement,
    derived_commendation,
)
from services.core.config import DEFAULT_RULES, RuleConfig
from services.core.findings import Finding
from services.core.rules_identity import check_frame
from services.core.rules_ratings import check_competencies, check_qualities
from services.core.rules_subjects import check_subjects
from services.core.rules_year_end import check_year_end

__all__ = ["RULE_SET_VERSION", "ValidationOutcome", "validate_year_record"]

#: Version of the rule set; a signed record names the version it was validated with.
#: Bump on any change of a rule, a code or a default of RuleConfig.
RULE_SET_VERSION: Final = "tt27-2020/1.0.0"


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """What validation says about one year record (kết quả kiểm tra học bạ)."""

    findings: tuple[Finding, ...]
    #: The recomputed year result (kết quả giáo dục); None when not applicable.
    computed_result: YearResult | None
    #: The result commendations are judged by (the supplementary result when so configured).
    effective_result: YearResult | None
    completion_statement: str | None
    derived_commendation: CommendationKind | None

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "ERROR")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "WARNING")

    @property
    def is_valid(self) -> bool:
        return not any(f.severity == "ERROR" for f in self.findings)


def validate_year_record(
    record: YearRecord, rules: RuleConfig = DEFAULT_RULES
) -> ValidationOutcome:
    """Every finding of one year record, its recomputed result and completion statement."""
    found = check_frame(record, rules)
    grade = record["grade"]
    check_subjects(record["subjects"], grade, record["disability"]["mode"], rules, found)
    check_qualities(record["qualities"], rules, found)
    check_competencies(record["competencies"], grade, rules, found)
    computed = classify_year_result(record, rules)
    completion = record["completion"]
    effective = computed
    if (
        rules.supplementary_result_replaces_result
        and completion is not None
        and completion["supplementary_result"] is not None
    ):
        effective = completion["supplementary_result"]
    check_year_end(record, computed, effective, found)
    # Positional arguments, in field order: keyword arguments cost a measurable share of
    # the frozen dataclass's construction, which runs once per record.
    return ValidationOutcome(
        tuple(found),
        computed,
        effective,
        completion_statement(
            grade, effective, None if completion is None else completion["status"]
        ),
        derived_commendation(effective),
    )
