"""``hocba validate FILE|-``: the vendor conformance check of year records, with a JSON report.

Input (detected from the bytes):

* JSON: one YearRecord object, a list of them, or JSON Lines (one object a line),
  with the field names of ``schemas/YearRecord.avsc`` (dates as 'YYYY-MM-DD');
* Avro single-object encoding of one YearRecord (marker C3 01 + fingerprint);
* a sequence of single-object messages, each preceded by its length as 4 bytes
  big-endian (what ``hocba generate --format avro-single`` writes);
* an Avro object container file (``Obj\\x01``) of YearRecords.

Exit status: 0 no error, 1 at least one error finding, 2 unreadable input (one
line on stderr saying why, and a JSON report with the transport code).
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from services.core.findings import Finding, finding
from services.core.record import key_of, record_key, year_record_from_avro
from services.core.validation import RULE_SET_VERSION, validate_year_record
from services.messaging.codec import AvroCodec, DecodeFailure, default_codec
from services.messaging.jsonform import JsonFormError, from_json
from services.messaging.schemas import MessageSchema, default_registry

__all__ = ["register", "validate_bytes"]

YEAR_RECORD = "vn.edu.hocba.YearRecord"
_CONTAINER_MAGIC = b"Obj\x01"
_SINGLE_OBJECT_MARKER = b"\xc3\x01"


class UnreadableInput(Exception):
    """The input cannot be read as year records at all (exit status 2)."""

    def __init__(self, code: str, message_en: str, message_vi: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_en = message_en
        self.message_vi = message_vi


@dataclass(frozen=True, slots=True)
class _Item:
    """One document of the input: a decoded datum, or JSON still to fit to the schema."""

    datum: dict[str, Any] | None = None
    document: Any = None


def _from_failure(failure: DecodeFailure) -> UnreadableInput:
    return UnreadableInput(failure.code, failure.message_en, failure.message_vi)


def _single_objects(data: bytes, codec: AvroCodec) -> Iterator[_Item]:
    if data[:2] == _SINGLE_OBJECT_MARKER:
        frames = [data]
    else:
        frames = []
        offset = 0
        while offset < len(data):
            if offset + 4 > len(data):
                raise UnreadableInput(
                    "E_UNDECODABLE",
                    f"truncated length prefix at byte {offset}",
                    f"tiền tố độ dài bị cắt cụt tại byte {offset}",
                )
            (size,) = struct.unpack_from(">I", data, offset)
            frames.append(data[offset + 4 : offset + 4 + size])
            offset += 4 + size
    for frame in frames:
        decoded = codec.decode(frame, expected=YEAR_RECORD)
        if isinstance(decoded, DecodeFailure):
            raise _from_failure(decoded)
        yield _Item(datum=decoded.value)


def _container(data: bytes, schema: MessageSchema) -> tuple[str, list[_Item]]:
    try:
        reader = fastavro.reader(io.BytesIO(data), reader_schema=schema.parsed)
        return "avro-container", [_Item(datum=dict(record)) for record in reader]  # type: ignore[arg-type]
    except (ValueError, EOFError, KeyError, TypeError, IndexError, StopIteration) as exc:
        raise UnreadableInput(
            "E_UNDECODABLE",
            f"not a readable Avro container of YearRecord: {type(exc).__name__}: {exc}"[:500],
            "tệp Avro container không đọc được theo lược đồ YearRecord",
        ) from exc


def _json_documents(data: bytes) -> tuple[str, list[_Item]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(
            "E_NOT_AVRO_SINGLE_OBJECT",
            "neither UTF-8 JSON nor Avro (single-object or container)",
            "không phải JSON UTF-8 cũng không phải Avro (single-object hoặc container)",
        ) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        documents = []
        for number, line in enumerate(lines, start=1):
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UnreadableInput(
                    "E_UNDECODABLE",
                    f"not JSON, and line {number} is not a JSON Lines object: {exc.msg}",
                    f"không phải JSON; dòng {number} không phải đối tượng JSON Lines",
                ) from exc
        if not documents:
            raise UnreadableInput("E_UNDECODABLE", "empty input", "dữ liệu rỗng") from None
        return "jsonl", [_Item(document=d) for d in documents]
    if isinstance(document, list):
        return "json", [_Item(document=d) for d in document]
    return "json", [_Item(document=document)]


def _read(data: bytes, schema: MessageSchema, codec: AvroCodec) -> tuple[str, list[_Item]]:
    if len(data) > codec.max_message_bytes * 1024:
        raise UnreadableInput(
            "E_MESSAGE_TOO_LARGE",
            f"input of {len(data)} bytes is too large to check at once; split it",
            f"dữ liệu {len(data)} byte quá lớn để kiểm tra một lần; hãy chia nhỏ",
        )
    if data[:4] == _CONTAINER_MAGIC:
        return _container(data, schema)
    if data[:2] == _SINGLE_OBJECT_MARKER or data[4:6] == _SINGLE_OBJECT_MARKER:
        return "avro-single", list(_single_objects(data, codec))
    return _json_documents(data)


def _guess_key(document: Any, index: int) -> str:
    try:
        return key_of(
            document["school"]["school_code"],
            document["student"]["student_id"],
            document["school_year"],
        )
    except (KeyError, TypeError):
        return f"#{index}"


def _finding_json(item: Finding) -> dict[str, Any]:
    return dict(item.to_avro())


def _check(item: _Item, index: int, schema: MessageSchema) -> dict[str, Any]:
    datum = item.datum
    if datum is None:
        try:
            datum = from_json(schema, item.document)
        except JsonFormError as exc:
            findings = [
                finding(
                    "E_SCHEMA_MISMATCH",
                    problem.path,
                    f"Không khớp lược đồ YearRecord: {problem.message}.",
                    f"Does not fit the YearRecord schema: {problem.message}.",
                )
                for problem in exc.problems
            ]
            return {
                "index": index,
                "key": _guess_key(item.document, index),
                "valid": False,
                "computed_result": None,
                "completion_statement": None,
                "derived_commendation": None,
                "findings": [_finding_json(f) for f in findings],
            }
    record = year_record_from_avro(datum)
    outcome = validate_year_record(record)
    return {
        "index": index,
        "key": record_key(record),
        "valid": outcome.is_valid,
        "computed_result": outcome.computed_result,
        "completion_statement": outcome.completion_statement,
        "derived_commendation": outcome.derived_commendation,
        "findings": [_finding_json(f) for f in outcome.findings],
    }


def _totals(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_code: Counter[str] = Counter()
    errors = warnings = 0
    for result in results:
        for item in result["findings"]:
            by_code[item["code"]] += 1
            if item["severity"] == "ERROR":
                errors += 1
            else:
                warnings += 1
    return {
        "records": len(results),
        "valid": sum(1 for r in results if r["valid"]),
        "invalid": sum(1 for r in results if not r["valid"]),
        "errors": errors,
        "warnings": warnings,
        "by_code": dict(sorted(by_code.items())),
    }


def validate_bytes(data: bytes, source: str = "-") -> tuple[int, dict[str, Any]]:
    """Check the bytes of one input; return (exit status, report)."""
    schema = default_registry().current(YEAR_RECORD)
    codec = default_codec()
    report: dict[str, Any] = {"source": source, "rule_set_version": RULE_SET_VERSION}
    try:
        input_format, items = _read(data, schema, codec)
    except UnreadableInput as exc:
        report.update(
            {
                "format": None,
                "unreadable": {
                    "code": exc.code,
                    "message_en": exc.message_en,
                    "message_vi": exc.message_vi,
                },
                "records": [],
                "totals": _totals([]),
            }
        )
        return 2, report
    results = [_check(item, index, schema) for index, item in enumerate(items)]
    report.update({"format": input_format, "records": results, "totals": _totals(results)})
    return (1 if report["totals"]["errors"] else 0), report


def _run(args: argparse.Namespace) -> int:
    source: str = args.file
    status: int
    report: dict[str, Any]
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        print(f"hocba validate: cannot read {source}: {exc.strerror}", file=sys.stderr)
        status, report = (
            2,
            {
                "source": source,
                "rule_set_version": RULE_SET_VERSION,
                "format": None,
                "unreadable": {
                    "code": "E_UNDECODABLE",
                    "message_en": f"cannot read {source}: {exc.strerror}",
                    "message_vi": f"không đọc được {source}",
                },
                "records": [],
                "totals": _totals([]),
            },
        )
    else:
        status, report = validate_bytes(data, source)
        if status == 2:
            unreadable = report["unreadable"]
            print(
                f"hocba validate: {source}: {unreadable['code']}: {unreadable['message_en']}",
                file=sys.stderr,
            )
    if args.summary:
        report = {k: v for k, v in report.items() if k != "records"}
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return status


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check year records (JSON, JSON Lines or Avro) against the Circular 27 rules",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the file to check, or - for stdin")
    parser.add_argument(
        "--summary", action="store_true", help="print only the totals, not every record"
    )
    parser.set_defaults(handler=_run)
