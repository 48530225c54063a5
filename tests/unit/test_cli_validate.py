"""``hocba validate``: exit codes 0/1/2, the JSON report, schema mismatches as findings."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from services.cli import main

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    status = main(["validate", *argv])
    out, err = capsys.readouterr()
    return status, json.loads(out), err


def test_valid_record_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, report, _ = run(capsys, str(EXAMPLES / "valid" / "grade5_HTXS.json"))
    assert status == 0
    record = report["records"][0]
    assert record["computed_result"] == "HTXS"
    assert record["completion_statement"] == "Hoàn thành chương trình tiểu học"
    assert record["derived_commendation"] == "HOC_SINH_XUAT_SAC"
    assert report["totals"]["records"] == 1


def test_errors_exit_1_with_code_path_and_both_languages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, report, _ = run(capsys, str(EXAMPLES / "invalid" / "E_RESULT_MISMATCH.json"))
    assert status == 1
    (item,) = report["records"][0]["findings"]
    assert item["code"] == "E_RESULT_MISMATCH"
    assert item["path"] == "declared_result"
    assert "HTXS" in item["message_en"] and "HTT" in item["message_en"]
    assert "Kết quả giáo dục" in item["message_vi"]
    assert report["totals"]["by_code"] == {"E_RESULT_MISMATCH": 1}


def test_schema_mismatch_is_a_finding_with_its_path(capsys: pytest.CaptureFixture[str]) -> None:
    status, report, _ = run(capsys, str(EXAMPLES / "invalid" / "E_SCHEMA_MISMATCH.json"))
    assert status == 1
    (item,) = report["records"][0]["findings"]
    assert item["code"] == "E_SCHEMA_MISMATCH"
    assert item["path"] == "subjects[0].periods[3].test_score"


def test_unreadable_input_exits_2_with_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{not json")))
    status, report, err = run(capsys, "-")
    assert status == 2
    assert report["unreadable"]["code"] == "E_UNDECODABLE"
    assert len(err.strip().splitlines()) == 1


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, report, err = run(capsys, str(tmp_path / "absent.json"))
    assert report["unreadable"]["code"] == "E_UNDECODABLE"
    assert status == 2
    assert "cannot read" in err


def test_batch_as_list_and_json_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    valid = json.loads((EXAMPLES / "valid" / "grade1_HT.json").read_text(encoding="utf-8"))
    bad = json.loads((EXAMPLES / "invalid" / "E_GRADE_OUT_OF_RANGE.json").read_text("utf-8"))
    as_list = tmp_path / "batch.json"
    as_list.write_text(json.dumps([valid, bad]), encoding="utf-8")
    status, report, _ = run(capsys, str(as_list))
    assert (status, report["format"], report["totals"]["records"]) == (1, "json", 2)
    lines = tmp_path / "batch.jsonl"
    lines.write_text(json.dumps(valid) + "\n" + json.dumps(valid) + "\n", encoding="utf-8")
    status, report, _ = run(capsys, str(lines), "--summary")
    assert (status, report["format"], report["totals"]["valid"]) == (0, "jsonl", 2)
    assert "records" not in report
