"""Schema evolution: every released version stays readable; a breaking change fails here.

Released versions live in ``schemas/history/``. A change to ``schemas/`` must be
frozen (``hocba schemas freeze``) and must be able to read every earlier version,
as checked by the Apache Avro project's own compatibility checker and by real data.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings

from services.messaging.codec import MARKER, AvroCodec, Decoded
from services.messaging.schemas import MessageSchema, SchemaRegistry, default_schema_dir
from tests.avro_data import datums

pytestmark = pytest.mark.unit

REGISTRY = SchemaRegistry.load()


def incompatibilities(reader: MessageSchema, writer: MessageSchema) -> list[str]:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader.expanded)),
        avro.schema.parse(json.dumps(writer.expanded)),
    )
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    return [str(m) for m in result.messages] or ["incompatible"]


def encode_with(schema: MessageSchema, datum: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    buffer.write(MARKER + schema.fingerprint)
    schemaless_writer(buffer, schema.parsed, datum)
    return buffer.getvalue()


def test_every_current_schema_is_frozen() -> None:
    unfrozen = [s.full_name for s in REGISTRY.unfrozen()]
    assert not unfrozen, (
        f"schemas changed without a frozen version: {unfrozen}; run `hocba schemas freeze` "
        "and commit schemas/history/"
    )


RELEASED = [
    (name, old)
    for name in REGISTRY.names()
    for old in REGISTRY.versions(name)
    if old.fingerprint != REGISTRY.current(name).fingerprint
]


@pytest.mark.parametrize(
    ("name", "old"), RELEASED, ids=[f"{n}@{o.fingerprint_hex}" for n, o in RELEASED]
)
def test_current_schema_reads_every_released_version(name: str, old: MessageSchema) -> None:
    current = REGISTRY.current(name)
    assert incompatibilities(current, old) == []
    codec = AvroCodec(REGISTRY)

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(datums(old))
    def check(datum: dict[str, Any]) -> None:
        decoded = codec.decode(encode_with(old, datum), expected=name)
        assert isinstance(decoded, Decoded), decoded
        assert decoded.writer_fingerprint == old.fingerprint

    check()


def _frozen_copy(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(default_schema_dir(), root, ignore=shutil.ignore_patterns("examples"))
    SchemaRegistry.load(root).freeze()
    return root


def _edit(path: Path, change: Any) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")


SYNC_STATUS = {
    "record_id": "HB-1",
    "version": 1,
    "school_code": "79000701",
    "outcome": "DELIVERED",
    "attempt": 1,
    "http_status": 201,
    "detail": None,
    "latency_ms": 12,
    "at": __import__("datetime").datetime(2025, 6, 1, tzinfo=__import__("datetime").UTC),
}


def test_a_reader_with_a_newer_version_reads_older_messages(tmp_path: Path) -> None:
    root = _frozen_copy(tmp_path)
    old_bytes = AvroCodec(SchemaRegistry.load(root)).encode("vn.edu.hocba.SyncStatus", SYNC_STATUS)
    _edit(
        root / "SyncStatus.avsc",
        lambda s: s["fields"].append(
            {"name": "region", "type": ["null", "string"], "default": None, "doc": "new"}
        ),
    )
    newer = SchemaRegistry.load(root)
    assert [s.full_name for s in newer.unfrozen()] == ["vn.edu.hocba.SyncStatus"]
    decoded = AvroCodec(newer).decode(old_bytes, expected="vn.edu.hocba.SyncStatus")
    assert isinstance(decoded, Decoded), decoded
    assert decoded.value == {**SYNC_STATUS, "region": None}
    old = newer.by_fingerprint(old_bytes[2:10])
    assert old is not None
    assert incompatibilities(newer.current("vn.edu.hocba.SyncStatus"), old) == []


@pytest.mark.parametrize(
    ("file", "change"),
    [
        (
            "SyncStatus.avsc",
            lambda s: s["fields"].append({"name": "region", "type": "string", "doc": "no default"}),
        ),
        (
            "SyncStatus.avsc",
            lambda s: s["fields"].__setitem__(4, {**s["fields"][4], "type": "string"}),
        ),
        ("types/Period.avsc", lambda s: s["symbols"].remove("GK2")),
    ],
    ids=["required-field-without-default", "changed-type", "removed-enum-symbol"],
)
def test_a_breaking_change_is_detected(tmp_path: Path, file: str, change: Any) -> None:
    root = _frozen_copy(tmp_path)
    _edit(root / file, change)
    changed = SchemaRegistry.load(root)
    broken = [
        name
        for name in changed.names()
        for old in changed.versions(name)
        if incompatibilities(changed.current(name), old)
    ]
    assert broken, "the checker must refuse this change"
