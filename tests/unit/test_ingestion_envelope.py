"""Envelope checks: every problem of an event at once, each coded, in both languages."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.events import vendor_events
from services.core.findings import CATALOGUE
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.ingestion.envelope import (
    check_envelope,
    content_sha256,
    local_date,
    parse_event_id,
    vendor_event_schema,
)
from services.ingestion.settings import EnvelopeRules
from services.messaging.jsonform import from_json
from tests.avro_data import datums
from tests.unit.test_ingestion_data import OCCURRED, as_json, encode, vendor_event

pytestmark = pytest.mark.unit

RULES = EnvelopeRules()
NOW = OCCURRED + dt.timedelta(hours=1)


def codes(event: dict[str, object], rules: EnvelopeRules = RULES) -> list[str]:
    return [f.code for f in check_envelope(event, rules, NOW)]


def test_a_sound_envelope_has_no_findings() -> None:
    assert check_envelope(vendor_event(vendor_id="v", school_code="S1"), RULES, NOW) == []


@pytest.mark.parametrize(
    "event_id",
    [
        "",
        "not-a-uuid",
        "0f8fad5b-d9cb-469f-a165-70867728950",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
    ],
)
def test_event_id_must_be_a_uuid(event_id: str) -> None:
    assert codes(vendor_event(vendor_id="v", school_code="S", event_id=event_id)) == [
        "E_EVENT_ID_INVALID"
    ]


def test_uppercase_uuid_is_accepted() -> None:
    assert parse_event_id("0F8FAD5B-D9CB-469F-A165-70867728950E") is not None


@pytest.mark.parametrize("year", ["2024-2026", "2025-2024", "24-25", "2024/2025", "2024-2025 "])
def test_school_year_must_be_two_consecutive_years(year: str) -> None:
    assert codes(vendor_event(vendor_id="v", school_code="S", school_year=year)) == [
        "E_SCHOOL_YEAR_FORMAT"
    ]


@pytest.mark.parametrize(
    ("school_code", "student_id", "expected"),
    [
        ("", "HS1", ["E_SCHOOL_CODE_FORMAT"]),
        ("S" * 33, "HS1", ["E_SCHOOL_CODE_FORMAT"]),
        ("S 1", "HS1", ["E_SCHOOL_CODE_FORMAT"]),
        ("S1", "", ["E_STUDENT_ID_FORMAT"]),
        ("S1", "hs/1", ["E_STUDENT_ID_FORMAT"]),
    ],
)
def test_identifiers_follow_length_and_pattern(
    school_code: str, student_id: str, expected: list[str]
) -> None:
    event = vendor_event(vendor_id="v", school_code=school_code, student_id=student_id)
    assert codes(event) == expected


def test_identifier_patterns_are_configuration() -> None:
    strict = EnvelopeRules(school_code_pattern=re.compile(r"[0-9]{8}"))
    assert codes(vendor_event(vendor_id="v", school_code="01234567"), strict) == []
    assert "E_SCHOOL_CODE_FORMAT" in codes(vendor_event(vendor_id="v", school_code="S1"), strict)


def test_occurred_at_may_be_a_little_but_not_far_in_the_future() -> None:
    within = vendor_event(vendor_id="v", school_code="S", occurred_at=NOW + dt.timedelta(minutes=4))
    beyond = vendor_event(vendor_id="v", school_code="S", occurred_at=NOW + dt.timedelta(minutes=6))
    assert codes(within) == []
    assert codes(beyond) == ["E_OCCURRED_IN_FUTURE"]


def test_student_profile_must_agree_with_the_envelope() -> None:
    event = vendor_event(vendor_id="v", school_code="S1", student_id="HS1")
    event["payload"][1]["student"]["student_id"] = "HS2"
    event["payload"][1]["school"]["school_code"] = "S2"
    found = check_envelope(event, RULES, NOW)
    assert [(f.code, f.path) for f in found] == [
        ("E_ENVELOPE_MISMATCH", "payload.StudentProfile.student.student_id"),
        ("E_ENVELOPE_MISMATCH", "payload.StudentProfile.school.school_code"),
    ]


def test_every_problem_is_reported_at_once_with_catalogued_codes() -> None:
    event = vendor_event(vendor_id="v", school_code="S1", event_id="x", school_year="2024")
    event["occurred_at"] = NOW + dt.timedelta(days=3)
    event["student_id"] = ""
    found = check_envelope(event, RULES, NOW)
    assert [f.code for f in found] == [
        "E_EVENT_ID_INVALID",
        "E_OCCURRED_IN_FUTURE",
        "E_STUDENT_ID_FORMAT",
        "E_SCHOOL_YEAR_FORMAT",
        "E_ENVELOPE_MISMATCH",
    ]
    for f in found:
        assert f.code in CATALOGUE
        assert f.severity == "ERROR"
        assert f.path and f.message_en and f.message_vi != f.message_en


def test_messages_are_vietnamese_with_diacritics() -> None:
    found = check_envelope(
        vendor_event(vendor_id="v", school_code="S", school_year="2024-2026"), RULES, NOW
    )
    assert "năm học" in found[0].message_vi


def test_content_hash_is_the_same_for_the_kafka_and_http_forms() -> None:
    event = vendor_event(vendor_id="v", school_code="S1")
    from_http = from_json(vendor_event_schema(), as_json(event))
    assert content_sha256(from_http) == content_sha256(event)
    # A Kafka message written with the current schema is hashed as received.
    assert content_sha256(event, encode(event)[10:]) == content_sha256(event)
    changed = dict(event, correlation_id="batch-7")
    assert content_sha256(changed) != content_sha256(event)


def test_assignment_dates_are_vietnam_dates() -> None:
    late_evening_utc = dt.datetime(2024, 8, 31, 17, 30, tzinfo=dt.UTC)
    assert local_date(late_evening_utc) == dt.date(2024, 9, 1)
    assert local_date(dt.datetime(2024, 8, 31, 16, 59, tzinfo=dt.UTC)) == dt.date(2024, 8, 31)


def test_a_nul_character_anywhere_in_the_event_is_refused_with_its_path() -> None:
    from services.ingestion.envelope import check_envelope
    from services.ingestion.settings import EnvelopeRules

    event = _nul_event()
    findings = check_envelope(event, EnvelopeRules(), NOW_FOR_NUL)
    assert [(f.code, f.path) for f in findings] == [
        ("E_TEXT_NUL_CHARACTER", "payload.SubjectEvaluation.subjects[0].periods[0].comment")
    ]


NOW_FOR_NUL = __import__("datetime").datetime(2025, 5, 20, tzinfo=__import__("datetime").UTC)


def _nul_event() -> dict[str, object]:
    return {
        "event_id": "0b9c2f7e-5d1a-4c3e-9f6a-2b8d7e1c4a55",
        "vendor_id": "vnedu",
        "occurred_at": NOW_FOR_NUL,
        "school_code": "79000701",
        "student_id": "HS0001",
        "school_year": "2024-2025",
        "payload": (
            "vn.edu.hocba.SubjectEvaluation",
            {
                "subjects": [
                    {
                        "subject": "TOAN",
                        "optional": False,
                        "has_test": None,
                        "periods": [
                            {
                                "period": "CN",
                                "level": "HOAN_THANH",
                                "test_score": 7,
                                "earlier_test_scores": [],
                                "comment": "Tiến bộ\x00 tốt",
                                "components": [],
                            }
                        ],
                    }
                ],
                "evaluated_by": None,
            },
        ),
        "correlation_id": None,
    }


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _texts(item)]
    if isinstance(value, tuple):  # a union branch: (record name, record)
        return _texts(value[1])
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


@settings(max_examples=300, deadline=None)
@given(event=datums(vendor_event_schema()), nul_at=st.integers(min_value=0))
def test_a_nul_character_is_found_in_any_text_of_any_event(event: dict, nul_at: int) -> None:
    # A quick walk decides first whether the path-building one runs: they must agree.
    texts = [t for t in _texts(event) if t]
    planted = _plant_nul(event, nul_at % len(texts)) if texts else event
    expected = any("\x00" in t for t in _texts(planted))
    found = "E_TEXT_NUL_CHARACTER" in codes(planted)
    assert found == expected


def _plant_nul(value: object, index: int) -> object:
    """The same datum with U+0000 added to its ``index``-th non-empty text."""
    seen = -1

    def walk(node: object) -> object:
        nonlocal seen
        if isinstance(node, str) and node:
            seen += 1
            return node + "\x00" if seen == index else node
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, tuple):
            return (node[0], walk(node[1]))
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


@pytest.mark.parametrize("code", ["E_DUPLICATE_ENTRY", "E_DUPLICATE_PERIOD"])
def test_an_item_or_period_twice_in_one_event_is_refused_with_its_path(code: str) -> None:
    # Validation merges by (item, period): a repeat inside one event would vanish there.
    settings = GeneratorSettings(schools=1, students_per_class=6, invalid_share=1.0)
    planted = [g for g in generate_school_year(settings, seed=3) if g.expected_codes == (code,)]
    assert planted, "the generator plants this error"
    rng = random.Random(3)
    for generated in planted:
        events = vendor_events(generated.record, "v1", rng)
        findings = [f for e in events for f in check_envelope(e, RULES, e["occurred_at"])]
        assert {f.code for f in findings} == {code}
        assert all(f.path.startswith("payload.") for f in findings)
