"""The pure domain core (lõi nghiệp vụ): Circular 27 rules, the year record, classification.

No I/O and nothing of the project outside this package. The shortest use::

    from services.core import validate_year_record
    outcome = validate_year_record(record)   # record: a YearRecord Avro datum
    outcome.findings, outcome.computed_result, outcome.completion_statement
"""

from services.core.classification import (
    classify_year_result,
    completion_statement,
    derived_commendation,
)
from services.core.config import DEFAULT_RULES, RuleConfig
from services.core.findings import CATALOGUE, CatalogueEntry, Finding
from services.core.outcome import outcome_message
from services.core.record import YearRecord, record_key
from services.core.validation import RULE_SET_VERSION, ValidationOutcome, validate_year_record

__all__ = [
    "CATALOGUE",
    "DEFAULT_RULES",
    "RULE_SET_VERSION",
    "CatalogueEntry",
    "Finding",
    "RuleConfig",
    "ValidationOutcome",
    "YearRecord",
    "classify_year_result",
    "completion_statement",
    "derived_commendation",
    "outcome_message",
    "record_key",
    "validate_year_record",
]
