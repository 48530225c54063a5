"""Rules one by one, with the configurable (UNCONFIRMED) readings, on small changes."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from services.core.config import DEFAULT_RULES, RuleConfig
from services.core.identifiers import PROVINCE_CODES, check_national_id
from services.core.record import quality_letter, subject_letter, year_record_from_avro
from services.core.validation import validate_year_record
from services.messaging.jsonform import from_json
from services.messaging.schemas import default_registry

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "valid"
SCHEMA = default_registry().current("vn.edu.hocba.YearRecord")


def example(name: str) -> Any:
    document = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return year_record_from_avro(from_json(SCHEMA, document))


def codes(record: Any, rules: RuleConfig = DEFAULT_RULES) -> set[str]:
    return {f.code for f in validate_year_record(record, rules).findings}


def subject(record: Any, code: str) -> Any:
    return next(s for s in record["subjects"] if s["subject"] == code)


def cn(item: Any) -> Any:
    return next(p for p in item["periods"] if p["period"] == "CN")


def test_valid_examples_are_clean() -> None:
    for name in ("grade1_HT.json", "grade3_HTT.json", "grade5_HTXS.json"):
        assert not validate_year_record(example(name)).errors


def test_mid_term_scores_only_in_grades_4_5_for_tieng_viet_and_toan() -> None:
    record = example("grade1_HT.json")
    gk1 = next(p for p in subject(record, "TOAN")["periods"] if p["period"] == "GK1")
    gk1["test_score"] = 8
    assert "E_SCORE_NOT_ALLOWED" in codes(record)
    relaxed = RuleConfig(reject_scores_outside_tt27_periods=False)
    assert codes(record, relaxed) >= {"W_SCORE_OUTSIDE_TT27_PERIOD"}
    assert "E_SCORE_NOT_ALLOWED" not in codes(record, relaxed)
    grade5 = example("grade5_HTXS.json")
    assert next(p for p in subject(grade5, "TOAN")["periods"] if p["period"] == "GK1")["test_score"]


def test_untested_subject_score_is_an_error_even_when_relaxed() -> None:
    record = example("grade5_HTXS.json")
    cn(subject(record, "GIAO_DUC_THE_CHAT"))["test_score"] = 10
    assert "E_SCORE_NOT_ALLOWED" in codes(
        record, RuleConfig(reject_scores_outside_tt27_periods=False)
    )


def test_score_zero_is_allowed_and_counts() -> None:
    record = example("grade5_HTXS.json")
    cn(subject(record, "TOAN"))["test_score"] = 0
    found = codes(record)
    assert not found & {"E_SCORE_OUT_OF_RANGE", "E_SCORE_NOT_ALLOWED"}
    assert validate_year_record(record).computed_result == "CHT"
    assert "E_RESULT_MISMATCH" in found  # the vendor still says HTXS


def test_optional_subject_tests_follow_has_test_and_config() -> None:
    record = example("grade1_HT.json")
    record["subjects"] = [s for s in record["subjects"] if not s["optional"]]
    optional = copy.deepcopy(subject(record, "DAO_DUC"))
    optional.update({"subject": "TIENG_DAN_TOC", "optional": True})
    record["subjects"].append(optional)
    assert not validate_year_record(record).errors
    optional["has_test"] = True
    assert "E_CN_SCORE_MISSING" in codes(record)
    optional["has_test"] = None
    assert "E_CN_SCORE_MISSING" in codes(record, RuleConfig(optional_subjects_tested=True))


def test_disability_class_tests_only_tieng_viet_and_toan() -> None:
    record = example("grade5_HTXS.json")
    record["disability"]["mode"] = "DISABILITY_CLASS"
    found = validate_year_record(record).findings
    flagged = {f.path.split(".")[0] for f in found if f.code == "E_SCORE_NOT_ALLOWED"}
    tested = {
        f"subjects[{i}]"
        for i, s in enumerate(record["subjects"])
        if s["subject"] not in ("TIENG_VIET", "TOAN") and cn(s)["test_score"] is not None
    }
    assert flagged == tested and tested


def test_unrated_specific_competency_only_where_the_grade_lacks_the_subject() -> None:
    record = example("grade1_HT.json")
    assert not validate_year_record(record).errors  # tin học / công nghệ unrated in grade 1
    assert "E_CN_LEVEL_MISSING" in codes(
        record, RuleConfig(allow_unrated_specific_competency=False)
    )
    grade5 = example("grade5_HTXS.json")
    tin_hoc = next(c for c in grade5["competencies"] if c["competency"] == "TIN_HOC")
    cn(tin_hoc)["level"] = None
    assert "E_CN_LEVEL_MISSING" in codes(grade5)


def test_optional_subjects_may_be_left_out_of_the_classification() -> None:
    record = example("grade1_HT.json")
    for s in record["subjects"]:
        for p in s["periods"]:
            p["level"] = "HOAN_THANH_TOT" if p["level"] else None
            p["test_score"] = 10 if p["test_score"] is not None else None
            for c in p["components"]:
                c["level"] = "HOAN_THANH_TOT"
    for item in (*record["qualities"], *record["competencies"]):
        for p in item["periods"]:
            p["level"] = "TOT" if p["level"] else None
    optional = copy.deepcopy(subject(record, "DAO_DUC"))
    optional.update({"subject": "NGOAI_NGU_1", "optional": True})
    cn(optional)["level"] = "HOAN_THANH"
    record["subjects"] = [s for s in record["subjects"] if not s["optional"]] + [optional]
    assert validate_year_record(record).computed_result == "HT"
    rules = RuleConfig(optional_subjects_count=False)
    assert validate_year_record(record, rules).computed_result == "HTXS"


def test_tieu_bieu_needs_htt_reason_and_class() -> None:
    record = example("grade3_HTT.json")
    result = validate_year_record(record).computed_result
    award = {
        "kind": "HOC_SINH_TIEU_BIEU",
        "title": None,
        "reason": "Toán",
        "class_recognised": True,
        "awarded_by": None,
        "awarded_on": None,
    }
    record["commendations"] = [award]
    expected = set() if result == "HTT" else {"E_COMMENDATION_NOT_EARNED"}
    assert {f.code for f in validate_year_record(record).errors} == expected
    award["class_recognised"] = None
    assert "E_COMMENDATION_INCOMPLETE" in codes(record)


def test_htxs_without_the_award_is_warned_and_derived() -> None:
    record = example("grade5_HTXS.json")
    record["commendations"] = []
    outcome = validate_year_record(record)
    assert {f.code for f in outcome.findings} == {"W_COMMENDATION_NOT_DECLARED"}
    assert outcome.derived_commendation == "HOC_SINH_XUAT_SAC"


def test_plan_based_student_is_not_classified() -> None:
    outcome = validate_year_record(example("grade2_disability_plan.json"))
    assert outcome.computed_result is None and not outcome.errors
    assert outcome.completion_statement == "Hoàn thành chương trình lớp học"


def test_cht_workflow_and_statements() -> None:
    record = example("grade4_CHT_promoted.json")
    outcome = validate_year_record(record)
    assert outcome.computed_result == "CHT" and not outcome.errors
    assert outcome.completion_statement.endswith("được lên lớp")
    record["completion"].update(
        {"status": "COMPLETED_AFTER_SUPPLEMENTARY", "supplementary_result": "HT"}
    )
    outcome = validate_year_record(record)
    assert not outcome.errors
    assert outcome.completion_statement == "Hoàn thành chương trình lớp học"
    record["completion"]["status"] = "PRINCIPAL_REVIEW"
    assert codes(record) >= {"E_COMPLETION_INCONSISTENT", "W_COMPLETION_PENDING"}


def test_all_findings_reported_at_once() -> None:
    record = example("grade5_HTXS.json")
    record["school_year"] = "2024-2026"
    record["student"]["ethnicity"] = None
    cn(subject(record, "TOAN"))["test_score"] = 11
    assert codes(record) >= {
        "E_SCHOOL_YEAR_FORMAT",
        "E_REQUIRED_FIELD_MISSING",
        "E_SCORE_OUT_OF_RANGE",
    }


@pytest.mark.parametrize(
    ("number", "born", "gender", "expected"),
    [
        ("001218123456", dt.date(2018, 3, 1), "MALE", set()),
        ("079319000001", dt.date(2019, 3, 1), "FEMALE", set()),
        ("001018123456", dt.date(1918, 3, 1), "MALE", set()),
        ("00121812345", dt.date(2018, 3, 1), "MALE", {"E_NATIONAL_ID_FORMAT"}),
        ("00121812345A", dt.date(2018, 3, 1), "MALE", {"E_NATIONAL_ID_FORMAT"}),
        ("003218123456", dt.date(2018, 3, 1), "MALE", {"E_NATIONAL_ID_PROVINCE"}),
        ("001318123456", dt.date(2018, 3, 1), "MALE", {"E_NATIONAL_ID_CENTURY_SEX"}),
        ("001018123456", dt.date(2018, 3, 1), "MALE", {"E_NATIONAL_ID_CENTURY_SEX"}),
        ("001217123456", dt.date(2018, 3, 1), "MALE", {"E_NATIONAL_ID_BIRTH_YEAR"}),
    ],
)
def test_national_id(number: str, born: dt.date, gender: Any, expected: set[str]) -> None:
    assert {f.code for f in check_national_id(number, born, gender, "p")} == expected


def test_province_codes_are_the_63_legacy_codes() -> None:
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["001"] == "Hà Nội" and PROVINCE_CODES["096"] == "Cà Mau"


def test_printed_letters() -> None:
    assert [subject_letter(x) for x in ("HOAN_THANH_TOT", "HOAN_THANH", "CHUA_HOAN_THANH")] == [
        "T",
        "H",
        "C",
    ]
    assert [quality_letter(x) for x in ("TOT", "DAT", "CAN_CO_GANG")] == ["T", "Đ", "C"]
