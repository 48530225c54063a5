"""Rule configuration: the UNCONFIRMED readings of domain.md, never hard-wired silently.

Every switch below has the best available reading as its default. The ones marked
UNCONFIRMED are where domain.md (or domain-research.md) says the law or the
official template could not be confirmed; operators may change them without a
code change, and a record names the rule-set version it was validated with.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_RULES", "RuleConfig"]


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Switches of the Circular 27 rule set (quy định đánh giá học sinh tiểu học).

    UNCONFIRMED readings (domain.md), with their defaults:

    * ``optional_subjects_count`` (True): optional subjects (môn tự chọn: Ngoại ngữ 1 in
      grades 1-2, Tiếng dân tộc thiểu số) count in the year-end classification like any
      subject; TT27 says "every subject", and does not exclude them.
    * ``optional_subjects_tested`` (False): an optional subject holds periodic tests only
      when the school declares it (``has_test``); TT27 Art. 7 names compulsory subjects only.
    * ``reject_scores_outside_tt27_periods`` (True): a test score of a tested subject at a
      period where TT27 holds no test (e.g. GK1 in grade 3) is an error
      (``E_SCORE_NOT_ALLOWED``); False reports it as ``W_SCORE_OUTSIDE_TT27_PERIOD``. This is
      the platform's rule, not the law's.
    * ``allow_unrated_specific_competency`` (True): a specific competency (năng lực đặc thù)
      whose subjects the grade lacks (tin học, công nghệ in grades 1-2) may be left unrated,
      and only rated items count in the classification.
    * ``supplementary_result_replaces_result`` (False): the result of the supplementary
      assessment (đánh giá bổ sung) does not replace the recorded year result; it only
      changes the completion statement. Both are kept either way.

    Confirmed rules that are still policy choices:

    * ``national_id_required`` (True): the 12-digit personal number keys the record in the
      national store, so a record without one is refused.
    * ``student_id_pattern`` / ``school_code_pattern``: formats of the sector database's
      codes are UNCONFIRMED (domain.md section 7): opaque strings checked against a pattern.
    * ``max_comment_length``: comments (nhận xét) are only checked for length.
    """

    optional_subjects_count: bool = True
    optional_subjects_tested: bool = False
    reject_scores_outside_tt27_periods: bool = True
    allow_unrated_specific_competency: bool = True
    supplementary_result_replaces_result: bool = False
    national_id_required: bool = True
    student_id_pattern: str = r"[A-Za-z0-9._-]{1,32}"
    school_code_pattern: str = r"[A-Za-z0-9._-]{1,32}"
    max_comment_length: int = 2000


DEFAULT_RULES = RuleConfig()
