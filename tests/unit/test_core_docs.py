"""Generated files are up to date; the catalogue covers every code; the core stays pure."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import services.core
from services.cli.generate import avro_types_text, error_catalogue_text
from services.core.findings import CATALOGUE, Finding, finding

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "services" / "core"


def test_docs_errors_md_is_up_to_date() -> None:
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == error_catalogue_text(), (
        "docs/errors.md is stale: run `hocba generate --error-catalogue`"
    )


def test_avro_types_are_up_to_date() -> None:
    assert (CORE / "avro_types.py").read_text(encoding="utf-8") == avro_types_text(), (
        "services/core/avro_types.py is stale: run `hocba generate --avro-types`"
    )


@pytest.mark.parametrize("area", ["core", "messaging", "cli", "validation", "ingestion", "storage"])
def test_every_emitted_code_is_catalogued(area: str) -> None:
    folder = ROOT / "services" / area
    text = " ".join(p.read_text(encoding="utf-8") for p in folder.glob("**/*.py"))
    emitted = set(re.findall(r"[\"']([EW]_[A-Z0-9_]{3,})[\"']", text))
    assert emitted - set(CATALOGUE) == set()


def test_catalogue_entries_are_well_formed() -> None:
    for code, entry in CATALOGUE.items():
        assert re.fullmatch(r"[EW]_[A-Z0-9_]+", code)
        assert entry.severity == ("ERROR" if code.startswith("E_") else "WARNING")
        assert entry.title_vi and entry.title_en and entry.explanation


def test_finding_to_avro() -> None:
    made = finding("E_GRADE_OUT_OF_RANGE", "grade", "Lớp 6", "Grade 6")
    assert made == Finding("E_GRADE_OUT_OF_RANGE", "ERROR", "grade", "Lớp 6", "Grade 6")
    assert made.to_avro() == {
        "code": "E_GRADE_OUT_OF_RANGE",
        "severity": "ERROR",
        "path": "grade",
        "message_vi": "Lớp 6",
        "message_en": "Grade 6",
    }


_FORBIDDEN = {
    "fastavro",
    "aiokafka",
    "faust",
    "asyncpg",
    "pyhanko",
    "os",
    "io",
    "pathlib",
    "socket",
    "subprocess",
    "shutil",
    "sqlite3",
    "urllib",
    "http",
    "rich",
}


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_core_and_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert top not in _FORBIDDEN, f"{path.name} imports {name}"
            if top == "services":
                assert name.startswith("services.core"), f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "open", f"{path.name} opens a file"


def test_public_surface() -> None:
    assert set(services.core.__all__) == {
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
    }
    for module in CORE.glob("*.py"):
        if module.name != "__init__.py":
            assert "__all__" in module.read_text(encoding="utf-8"), module.name
