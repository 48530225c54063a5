"""Property-based tests of the year-end classification (TT27 Art. 9 cl. 2 a)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.classification import classify_year_result
from services.core.record import year_record_from_avro
from services.messaging.jsonform import from_json
from services.messaging.schemas import default_registry

pytestmark = pytest.mark.unit

SCHEMA = default_registry().current("vn.edu.hocba.YearRecord")
BASE = year_record_from_avro(
    from_json(
        SCHEMA,
        json.loads(
            (
                Path(__file__).resolve().parents[2] / "schemas/examples/valid/grade5_HTXS.json"
            ).read_text(encoding="utf-8")
        ),
    )
)
ORDER = ["HTXS", "HTT", "HT", "CHT"]
SUBJECT = ["HOAN_THANH_TOT", "HOAN_THANH", "CHUA_HOAN_THANH"]
RATING = ["TOT", "DAT", "CAN_CO_GANG"]


def cn(item: Any) -> Any:
    return next(p for p in item["periods"] if p["period"] == "CN")


def slots(record: Any) -> list[tuple[str, Any, str]]:
    """Every CN value the classification reads: (kind, container, key)."""
    out: list[tuple[str, Any, str]] = []
    for s in record["subjects"]:
        period = cn(s)
        if period["level"] is not None:
            out.append(("subject", period, "level"))
        out += [("subject", c, "level") for c in period["components"]]
        if period["test_score"] is not None:
            out.append(("score", period, "test_score"))
    for item in (*record["qualities"], *record["competencies"]):
        if cn(item)["level"] is not None:
            out.append(("rating", cn(item), "level"))
    return out


@st.composite
def records(draw: st.DrawFn) -> Any:
    record = copy.deepcopy(BASE)
    for kind, container, key in slots(record):
        if kind == "subject":
            container[key] = draw(st.sampled_from(SUBJECT))
        elif kind == "rating":
            container[key] = draw(st.sampled_from(RATING))
        else:
            container[key] = draw(st.integers(0, 10))
    return record


@settings(max_examples=150, deadline=None)
@given(records(), st.data())
def test_lowering_a_level_or_score_never_raises_the_result(
    record: Any, data: st.DataObject
) -> None:
    before = classify_year_result(record)
    kind, container, key = data.draw(st.sampled_from(slots(record)))
    if kind == "score":
        container[key] = data.draw(st.integers(0, container[key]))
    else:
        scale = SUBJECT if kind == "subject" else RATING
        container[key] = data.draw(st.sampled_from(scale[scale.index(container[key]) :]))
    after = classify_year_result(record)
    assert ORDER.index(after) >= ORDER.index(before)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(records())
def test_htxs_implies_htt_conditions_and_the_definition(record: Any) -> None:
    result = classify_year_result(record)
    values = [(kind, c[k]) for kind, c, k in slots(record)]
    all_top = all(v in ("HOAN_THANH_TOT", "TOT") for kind, v in values if kind != "score")
    scores = [v for kind, v in values if kind == "score"]
    if result == "HTXS":
        assert all_top and min(scores) >= 9
    if result in ("HTXS", "HTT"):
        assert all_top and min(scores) >= 7
    if result == "HT":
        assert not any(v in ("CHUA_HOAN_THANH", "CAN_CO_GANG") for _, v in values)
        assert min(scores) >= 5
    if all_top and min(scores) >= 9:
        assert result == "HTXS"


@settings(max_examples=100, deadline=None)
@given(records(), st.data())
def test_meeting_ht_but_one_cn_score_of_4_is_cht(record: Any, data: st.DataObject) -> None:
    for kind, container, key in slots(record):
        if kind == "subject" and container[key] == "CHUA_HOAN_THANH":
            container[key] = "HOAN_THANH"
        elif kind == "rating" and container[key] == "CAN_CO_GANG":
            container[key] = "DAT"
        elif kind == "score" and container[key] < 5:
            container[key] = 5
    assert classify_year_result(record) in ("HTXS", "HTT", "HT")
    scored = [c for kind, c, _ in slots(record) if kind == "score"]
    data.draw(st.sampled_from(scored))["test_score"] = 4
    assert classify_year_result(record) == "CHT"


def test_worked_example_8_in_toan_is_htt() -> None:
    record = copy.deepcopy(BASE)
    for kind, container, key in slots(record):
        if kind == "score":
            container[key] = 9
    cn(next(s for s in record["subjects"] if s["subject"] == "TOAN"))["test_score"] = 8
    assert classify_year_result(record) == "HTT"


def test_plan_based_is_not_applicable() -> None:
    record = copy.deepcopy(BASE)
    record["disability"] = {"mode": "SPECIALISED", "plan_reference": "KH-1"}
    assert classify_year_result(record) is None
