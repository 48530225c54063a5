"""Every example file of schemas/examples gives exactly its code; invalid ones differ minimally."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from services.cli.validate import validate_bytes
from services.messaging.codec import default_codec

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*"))
INVALID = sorted((EXAMPLES / "invalid").glob("*"))
VALID_JSON = [json.loads(p.read_text(encoding="utf-8")) for p in VALID if p.suffix == ".json"]


def changes(a: Any, b: Any) -> int:
    """How many places differ (an added or removed list item counts once)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return sum(changes(a.get(k), b.get(k)) for k in a.keys() | b.keys())
    if isinstance(a, list) and isinstance(b, list):
        if len(a) == len(b):
            return sum(changes(x, y) for x, y in zip(a, b, strict=True))
        left = [json.dumps(x, sort_keys=True) for x in a]
        right = [json.dumps(y, sort_keys=True) for y in b]
        total = 0
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right).get_opcodes():
            if tag == "replace" and i2 - i1 == j2 - j1:
                total += sum(
                    changes(a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                )
            elif tag != "equal":
                total += max(i2 - i1, j2 - j1)
        return total
    return 0 if a == b else 1


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples_have_no_error(path: Path) -> None:
    status, report = validate_bytes(path.read_bytes(), path.name)
    assert status == 0, report
    assert report["totals"]["errors"] == 0


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_gives_its_code(path: Path) -> None:
    code = path.name.split(".", 1)[0]
    status, report = validate_bytes(path.read_bytes(), path.name)
    if path.suffix == ".json":
        assert status == 1
        errors = {f["code"] for r in report["records"] for f in r["findings"]}
        errors = {c for c in errors if c.startswith("E_")}
        assert errors == {code}
    else:
        assert status == 2
        assert report["unreadable"]["code"] == code


@pytest.mark.parametrize("path", [p for p in INVALID if p.suffix == ".json"], ids=lambda p: p.name)
def test_invalid_example_differs_minimally_from_a_valid_one(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert min(changes(base, document) for base in VALID_JSON) <= 3


def test_examples_cover_every_plantable_and_transport_code() -> None:
    from services.core.synthetic import PLANTABLE_CODES

    names = {p.name.split(".", 1)[0] for p in INVALID}
    transport = {
        "E_SCHEMA_MISMATCH",
        "E_NOT_AVRO_SINGLE_OBJECT",
        "E_UNKNOWN_SCHEMA_FINGERPRINT",
        "E_WRONG_MESSAGE_TYPE",
        "E_UNDECODABLE",
    }
    assert PLANTABLE_CODES | transport <= names


def test_message_too_large_is_reported() -> None:
    frame = b"\xc3\x01" + b"\x00" * (default_codec().max_message_bytes + 10)
    status, report = validate_bytes(len(frame).to_bytes(4, "big") + frame)
    assert status == 2
    assert report["unreadable"]["code"] == "E_MESSAGE_TOO_LARGE"
