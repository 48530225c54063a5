"""(Re)write schemas/examples/: valid year records and one invalid file per error code.

Run from the repository root: ``python -m tests.make_examples``. Invalid JSON files are a
valid example with one planted change (services.core.synthetic.plant_error), so each
differs minimally from its base; binary files show the transport codes.
"""

from __future__ import annotations

import copy
import json
import random
import struct
from pathlib import Path
from typing import Any

from services.core.avro_types import YearRecord
from services.core.classification import classify_year_result
from services.core.events import vendor_events
from services.core.synthetic import (
    PLANTABLE_CODES,
    GeneratorSettings,
    generate_school_year,
    plant_error,
)
from services.core.validation import validate_year_record
from services.messaging.codec import default_codec
from services.messaging.jsonform import to_json
from services.messaging.schemas import default_registry

ROOT = Path(__file__).resolve().parents[1] / "schemas" / "examples"
SCHEMA = default_registry().current("vn.edu.hocba.YearRecord")


def _pick(
    records: list[YearRecord], grade: int, result: str | None, mode: str = "NONE"
) -> YearRecord:
    for record in records:
        if (
            record["grade"] == grade
            and record["disability"]["mode"] == mode
            and classify_year_result(record) == result
            and not validate_year_record(record).findings
        ):
            return record
    raise LookupError((grade, result, mode))


def _write(path: Path, record: YearRecord | dict[str, Any]) -> None:
    path.write_text(
        json.dumps(to_json(SCHEMA, record), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def main() -> None:
    settings = GeneratorSettings(schools=6, classes_per_grade=2, students_per_class=30)
    records = [g.record for g in generate_school_year(settings, seed=2025)]
    cht_any = next(
        r for r in records if r["completion"] and r["completion"]["status"] == "PROMOTED"
    )
    valid = {
        "grade1_HT.json": _pick(records, 1, "HT"),
        "grade3_HTT.json": _pick(records, 3, "HTT")
        if any(classify_year_result(r) == "HTT" and r["grade"] == 3 for r in records)
        else _pick(records, 3, "HT"),
        "grade5_HTXS.json": _pick(records, 5, "HTXS"),
        "grade4_CHT_promoted.json": cht_any,
        "grade2_disability_plan.json": _pick(records, 2, None, "INCLUSIVE_PLAN")
        if any(r["disability"]["mode"] == "INCLUSIVE_PLAN" and r["grade"] == 2 for r in records)
        else _pick(
            records,
            next(r["grade"] for r in records if r["disability"]["mode"] == "INCLUSIVE_PLAN"),
            None,
            "INCLUSIVE_PLAN",
        ),
    }
    for old in [*ROOT.glob("valid/*"), *ROOT.glob("invalid/*")]:
        old.unlink()
    for name, record in valid.items():
        _write(ROOT / "valid" / name, record)
    base = valid["grade5_HTXS.json"]
    cht = valid["grade4_CHT_promoted.json"]
    rng = random.Random(7)
    for code in sorted(PLANTABLE_CODES):
        record = copy.deepcopy(cht if code == "E_COMPLETION_DECISION_MISSING" else base)
        assert plant_error(record, code, rng), code
        errors = {f.code for f in validate_year_record(record).errors}
        assert errors == {code}, (code, errors)
        _write(ROOT / "invalid" / f"{code}.json", record)
    # Transport: a JSON document that does not fit the schema (a decimal score).
    document = to_json(SCHEMA, base)
    document["subjects"][0]["periods"][3]["test_score"] = 9.5
    (ROOT / "invalid" / "E_SCHEMA_MISMATCH.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    codec = default_codec()
    good = codec.encode("vn.edu.hocba.YearRecord", base)
    (ROOT / "valid" / "grade5_HTXS.avro-single").write_bytes(good)
    (ROOT / "invalid" / "E_UNDECODABLE.avro-single").write_bytes(good[:-40])
    (ROOT / "invalid" / "E_UNKNOWN_SCHEMA_FINGERPRINT.avro-single").write_bytes(
        good[:2] + bytes.fromhex("0123456789abcdef") + good[10:]
    )
    (ROOT / "invalid" / "E_NOT_AVRO_SINGLE_OBJECT.bin").write_bytes(
        b"\xff\xfe" + struct.pack(">I", 7) + b"\x00\x01not a record"
    )
    event = vendor_events(base, "vendor-demo", random.Random(1))[0]
    (ROOT / "invalid" / "E_WRONG_MESSAGE_TYPE.avro-single").write_bytes(
        codec.encode("vn.edu.hocba.VendorEvent", event)
    )
    print(f"wrote {len(list(ROOT.glob('*/*')))} files under {ROOT}")


if __name__ == "__main__":
    main()
