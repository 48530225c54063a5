"""The generator: reproducible, plausible, and its records validate to exactly what it planted."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from services.cli import main
from services.core.events import vendor_events
from services.core.synthetic import PLANTABLE_CODES, GeneratorSettings, generate_school_year
from services.core.validation import validate_year_record
from services.messaging.codec import Decoded, default_codec

pytestmark = pytest.mark.unit

SETTINGS = GeneratorSettings(
    schools=2, classes_per_grade=1, students_per_class=40, invalid_share=0.5
)


def test_records_validate_to_exactly_the_planted_errors() -> None:
    planted: Counter[str] = Counter()
    for generated in generate_school_year(SETTINGS, seed=11):
        errors = {f.code for f in validate_year_record(generated.record).errors}
        assert errors == set(generated.expected_codes), generated.sequence
        planted.update(generated.expected_codes)
    assert len(planted) >= len(PLANTABLE_CODES) - 4  # nearly every kind shows up


def test_same_seed_same_records_other_seed_other_records() -> None:
    first = [g.record for g in generate_school_year(SETTINGS, seed=3)]
    again = [g.record for g in generate_school_year(SETTINGS, seed=3)]
    other = [g.record for g in generate_school_year(SETTINGS, seed=4)]
    assert first == again
    assert first != other


def test_names_are_vietnamese_and_ids_consistent() -> None:
    settings = GeneratorSettings(schools=1, students_per_class=30)
    records = [g.record for g in generate_school_year(settings, seed=5)]
    assert any(any(ch in r["student"]["full_name"] for ch in "ễầơưđĐ") for r in records)
    for record in records:
        assert not validate_year_record(record).errors
        assert (
            record["student"]["full_name"].split()[0] == record["student"]["father_name"].split()[0]
        )


def test_every_record_encodes_and_its_events_too() -> None:
    codec = default_codec()
    rng = random.Random(0)
    for generated in generate_school_year(GeneratorSettings(schools=1, students_per_class=3), 1):
        encoded = codec.encode("vn.edu.hocba.YearRecord", generated.record)
        assert isinstance(codec.decode(encoded, expected="vn.edu.hocba.YearRecord"), Decoded)
        events = vendor_events(generated.record, "vendor-demo", rng)
        assert len(events) == 1 + 2 * 4 + 1
        for event in events:
            codec.encode("vn.edu.hocba.VendorEvent", event)


def test_cli_writes_records_and_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, manifest = tmp_path / "r.jsonl", tmp_path / "m.jsonl"
    argv = ["generate", "--seed", "2", "--students", "5", "--invalid-share", "0.4"]
    assert main([*argv, "-o", str(out), "--manifest", str(manifest)]) == 0
    entries = [json.loads(line) for line in manifest.read_text("utf-8").splitlines()]
    assert len(entries) == len(out.read_text("utf-8").splitlines()) == 2 * 5 * 5
    assert main(["validate", str(out)]) == 1
    report = json.loads(capsys.readouterr().out)
    for entry, result in zip(entries, report["records"], strict=True):
        codes = {f["code"] for f in result["findings"] if f["severity"] == "ERROR"}
        assert codes == set(entry["expected_codes"])


@pytest.mark.parametrize("fmt", ["avro", "avro-single"])
def test_cli_avro_formats_read_back(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.bin"
    assert main(["generate", "--students", "3", "--format", fmt, "-o", str(out)]) == 0
    assert main(["validate", str(out), "--summary"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["records"] == 30


def test_cli_events(tmp_path: Path) -> None:
    out, manifest = tmp_path / "e.jsonl", tmp_path / "m.jsonl"
    argv = ["generate", "--events", "--students", "2", "--invalid-share", "0.5"]
    assert main([*argv, "-o", str(out), "--manifest", str(manifest)]) == 0
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(lines) == 2 * 5 * 2 * 10
    assert {next(iter(e["payload"])) for e in lines} == {
        "StudentProfile",
        "SubjectEvaluation",
        "QualityCompetencyEvaluation",
        "YearEndSubmission",
    }
    entries = [json.loads(line) for line in manifest.read_text("utf-8").splitlines()]
    assert all(len(e["event_ids"]) == 10 for e in entries)
    assert not any("E_COMPLETION_MISSING" in e["expected_codes"] for e in entries)
