"""Pure parts of the storage service: codes, version decisions, mapping, error
classification, settings, the handler and the HTTP API over the in-memory store, the
public surface."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

import services.storage
from services.core.lookup_code import format_lookup_code
from services.messaging.codec import Decoded, default_codec
from services.messaging.jsonform import canonical_json
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import Incoming
from services.messaging.schemas import default_registry
from services.storage.errors import (
    StorageDataError,
    StorageError,
    StorageUnavailableError,
    translate_db_error,
)
from services.storage.handlers import StoreSignedRecords
from services.storage.mapping import Refusal, candidate_from_signed, stored_record_datum
from services.storage.metrics import StorageMetrics
from services.storage.record_ids import CodeKind, RecordCode, is_record_id, normalise, parse_code
from services.storage.settings import SettingsError, StorageSettings
from services.storage.versions import (
    Delivery,
    KnownState,
    Outcome,
    Signature,
    StoredVersion,
    StoreResult,
    VersionCandidate,
    decide_versions,
)
from tests.unit.test_storage_contract import MemoryStore, delivery
from tests.unit.test_storage_fixtures import SIGNED, record_id_of, signed_record

pytestmark = pytest.mark.unit

CODEC = default_codec()
STORED = "vn.edu.hocba.StoredRecord"
CODE = format_lookup_code(0x1234_5678_9ABC_DEF0_1234)


# --- codes ------------------------------------------------------------------------------


def test_record_id_normalisation_forgives_case_hyphens_and_lookalikes() -> None:
    assert normalise(" hb7k2m-9q4r-8t1v-3w5x ") == "HB7K2M9Q4R8T1V3W5X"
    assert normalise("HBOOOOIIIILLLL0000") == "HB0000111111110000"
    assert not is_record_id("HB123")
    assert not is_record_id("XX7K2M9Q4R8T1V3W5X")
    assert not is_record_id("HB7K2M9Q4R8T1V3W5U")  # U is not Crockford


def test_a_code_is_a_record_id_or_a_lookup_code_as_typed() -> None:
    record_id = record_id_of("HS1")
    assert parse_code(record_id.lower()) == RecordCode(CodeKind.RECORD_ID, record_id)
    compact = CODE.replace("-", "").lower()
    assert parse_code(compact) == RecordCode(CodeKind.LOOKUP_CODE, CODE)
    assert parse_code(f" {CODE} ") == RecordCode(CodeKind.LOOKUP_CODE, CODE)
    # A lookup code may start with HB: 17 characters, never taken for a record id.
    hb_code = format_lookup_code((17 << 75) | (11 << 70))  # H = 17, B = 11 in Crockford
    assert hb_code.startswith("HB")
    assert parse_code(hb_code) == RecordCode(CodeKind.LOOKUP_CODE, hb_code)


@pytest.mark.parametrize(
    "typed",
    [
        CODE[:-1] + ("0" if CODE[-1] != "0" else "1"),  # wrong check character
        CODE[1] + CODE[0] + CODE[2:],  # two neighbours swapped
        CODE[:-2],  # too short
        "not-a-code",
        "",
    ],
)
def test_a_mistyped_code_is_neither(typed: str) -> None:
    assert parse_code(typed) is None


# --- version decisions ------------------------------------------------------------------


def _candidate(student: str = "HS1", **changes: Any) -> VersionCandidate:
    return delivery(signed_record(student, **changes)).candidate


def test_first_version_is_stored_with_its_record_and_code() -> None:
    (decision,) = decide_versions([_candidate()], KnownState())
    assert decision.outcome is Outcome.STORED
    assert decision.new_record and decision.new_lookup_code and not decision.reason


def test_same_version_same_hashes_is_a_redelivery_and_other_hashes_a_conflict() -> None:
    c = _candidate()
    known = KnownState(
        record_of_student={"HS1": c.record_id},
        student_of_record={c.record_id: "HS1"},
        page_of_code={c.lookup_code: c.page},
        current={c.page: 1},
        fingerprints={c.key: (c.content_sha256, c.pdf_sha256)},
    )
    other = _candidate(days_absent=9)
    other_pdf_only = dataclasses.replace(c, pdf_sha256=b"\x01" * 32)
    decisions = decide_versions([c, other, other_pdf_only], known)
    assert [d.outcome for d in decisions] == [
        Outcome.REDELIVERED,
        Outcome.VERSION_CONFLICT,
        Outcome.VERSION_CONFLICT,
    ]
    assert not decisions[0].new_record and not decisions[0].new_lookup_code
    assert "already stored" in decisions[1].reason


def test_a_newer_version_supersedes_and_an_older_one_is_stored_late() -> None:
    v1, v2, v3 = (_candidate(version=n, days_absent=n) for n in (1, 2, 3))
    known = KnownState(
        record_of_student={"HS1": v2.record_id},
        student_of_record={v2.record_id: "HS1"},
        page_of_code={v2.lookup_code: v2.page},
        current={v2.page: 2},
        fingerprints={v2.key: (v2.content_sha256, v2.pdf_sha256)},
    )
    decisions = decide_versions([v3, v1], known)
    assert [d.outcome for d in decisions] == [Outcome.SUPERSEDED, Outcome.STORED_LATE]
    assert not any(d.new_lookup_code or d.new_record for d in decisions)


def test_record_id_conflicts_both_ways() -> None:
    c = _candidate()
    known = KnownState(
        record_of_student={"HS1": "HB0000000000000001"},
        student_of_record={"HB0000000000000001": "HS1", c.record_id: "HS-OTHER"},
    )
    (decision,) = decide_versions([c], known)
    assert decision.outcome is Outcome.RECORD_ID_CONFLICT
    assert decision.outcome.refusal_code == "E_STORAGE_RECORD_ID_CONFLICT"
    assert "HB0000000000000001" in decision.reason
    known = KnownState(student_of_record={c.record_id: "HS-OTHER"})
    (decision,) = decide_versions([c], known)
    assert decision.outcome is Outcome.RECORD_ID_CONFLICT
    assert "another student" in decision.reason


def test_a_lookup_code_of_another_page_is_refused() -> None:
    c = _candidate(lookup_code=CODE)
    (decision,) = decide_versions([c], KnownState(page_of_code={CODE: ("HB0000000000000001", "x")}))
    assert decision.outcome is Outcome.LOOKUP_CODE_CONFLICT
    assert decision.outcome.refusal_code == "E_STORAGE_LOOKUP_CODE_CONFLICT"


def test_one_batch_chains_in_order() -> None:
    v1 = _candidate(days_absent=1)
    v2 = _candidate(version=2, days_absent=2)
    other_year = _candidate(school_year="2025-2026", grade=5)
    conflicting_v2 = _candidate(version=2, days_absent=7)
    stranger = _candidate("HS2", record_id=v1.record_id)
    decisions = decide_versions([v2, v1, v2, other_year, conflicting_v2, stranger], KnownState())
    assert [(d.outcome, d.new_record, d.new_lookup_code) for d in decisions] == [
        (Outcome.STORED, True, True),
        (Outcome.STORED_LATE, False, False),
        (Outcome.REDELIVERED, False, False),
        (Outcome.STORED, False, True),
        (Outcome.VERSION_CONFLICT, False, False),
        (Outcome.RECORD_ID_CONFLICT, False, False),
    ]


def test_outcomes_say_whether_they_write_and_how_they_refuse() -> None:
    writes = {o for o in Outcome if o.writes_version}
    assert writes == {Outcome.STORED, Outcome.SUPERSEDED, Outcome.STORED_LATE}
    refused = {o: o.refusal_code for o in Outcome if o.refusal_code}
    assert set(refused.values()) == {
        "E_STORAGE_VERSION_CONFLICT",
        "E_STORAGE_RECORD_ID_CONFLICT",
        "E_STORAGE_LOOKUP_CODE_CONFLICT",
    }


# --- mapping ----------------------------------------------------------------------------


def _decoded(datum: dict[str, Any]) -> dict[str, Any]:
    decoded = CODEC.decode(CODEC.encode(SIGNED, datum), expected=SIGNED)
    assert isinstance(decoded, Decoded)
    return decoded.value


def test_candidate_keeps_what_signing_decided_and_checks_the_hashes() -> None:
    datum = signed_record("HS42", version=2, correction_reason="Sửa điểm")
    value = _decoded(datum)
    candidate = candidate_from_signed(value)
    assert isinstance(candidate, VersionCandidate)
    canonical = canonical_json(
        default_registry().current("vn.edu.hocba.YearRecord"), value["record"]
    )
    assert candidate.record_json.encode() == canonical
    assert candidate.content_sha256.hex() == datum["record_sha256"]
    assert candidate.pdf_sha256 == hashlib.sha256(datum["pdf"]).digest()
    assert json.loads(candidate.record_json)["student"]["full_name"] == "Nguyễn Thị Minh Anh"
    assert (candidate.record_id, candidate.version, candidate.lookup_code) == (
        datum["record_id"],
        2,
        datum["lookup_code"],
    )
    assert (candidate.supersedes_version, candidate.correction_reason) == (1, "Sửa điểm")
    assert (candidate.record_key, candidate.student_id, candidate.school_year) == (
        "79000701|HS42|2024-2025",
        "HS42",
        "2024-2025",
    )
    assert (candidate.grade, candidate.year_result, candidate.vendor_id) == (4, "HTT", "vendor-a")
    assert candidate.effective_at == dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC)
    assert candidate.signatures[0] == Signature(
        "HOMEROOM_TEACHER",
        "Trần Văn Giáo",
        hashlib.sha256(b"HOMEROOM_TEACHER").hexdigest(),
        dt.datetime(2025, 5, 25, 9, 25, tzinfo=dt.UTC),
    )


def test_upper_case_hashes_are_accepted() -> None:
    datum = signed_record("HS1")
    datum["pdf_sha256"] = datum["pdf_sha256"].upper()
    assert isinstance(candidate_from_signed(_decoded(datum)), VersionCandidate)


@pytest.mark.parametrize(
    ("datum", "code"),
    [
        (signed_record("HS1", record_key="79000701|OTHER|2024-2025"), "E_STORAGE_KEY_MISMATCH"),
        (signed_record("HS1", grade=7), "E_STORAGE_BAD_GRADE"),
        (signed_record("HS1", school_year="2024/25"), "E_STORAGE_BAD_SCHOOL_YEAR"),
        (signed_record("", record_key="79000701||2024-2025"), "E_STORAGE_MISSING_IDENTIFIER"),
        (signed_record("HS1", full_name="A\x00B"), "E_STORAGE_NUL_CHARACTER"),
        (signed_record("HS1", correction_reason="A\x00B"), "E_STORAGE_NUL_CHARACTER"),
        (signed_record("HS1", pdf_sha256="0" * 64), "E_STORAGE_HASH_MISMATCH"),
        (signed_record("HS1", pdf_sha256="not hex"), "E_STORAGE_HASH_MISMATCH"),
        (signed_record("HS1", record_sha256="ab" * 32), "E_STORAGE_HASH_MISMATCH"),
        (signed_record("HS1", record_id="HB123"), "E_STORAGE_BAD_RECORD_ID"),
        (signed_record("HS1", lookup_code=CODE.lower()), "E_STORAGE_BAD_LOOKUP_CODE"),
        (signed_record("HS1", lookup_code=CODE[:-1] + "Z"), "E_STORAGE_BAD_LOOKUP_CODE"),
        (signed_record("HS1", version=0), "E_STORAGE_BAD_VERSION"),
        (signed_record("HS1", version=2, supersedes_version=2), "E_STORAGE_BAD_VERSION"),
    ],
)
def test_inconsistent_or_unstorable_records_are_refused(datum: dict[str, Any], code: str) -> None:
    refusal = candidate_from_signed(_decoded(datum))
    assert isinstance(refusal, Refusal)
    assert refusal.code == code and refusal.vendor_id == "vendor-a"
    assert refusal.message_en and refusal.message_vi


def test_a_pdf_that_is_not_the_signed_one_is_a_hash_mismatch() -> None:
    datum = signed_record("HS1")
    datum["pdf"] = datum["pdf"] + b" tampered"
    refusal = candidate_from_signed(_decoded(datum))
    assert isinstance(refusal, Refusal) and refusal.code == "E_STORAGE_HASH_MISMATCH"
    assert "pdf_sha256" in refusal.message_en and "record_sha256" not in refusal.message_en


def _stored(version: int = 2) -> StoredVersion:
    return StoredVersion(
        record_id="HB0000000000000001",
        school_year="2024-2025",
        version=version,
        record_key="79000701|HS1|2024-2025",
        school_code="79000701",
        student_id="HS1",
        national_id=None,
        grade=4,
        year_result="HT",
        supersedes_version=version - 1 or None,
        stored_at=dt.datetime(2025, 6, 1, 1, 2, 3, 4000, tzinfo=dt.UTC),
        content_sha256=b"a" * 32,
        lookup_code=CODE,
        pdf_sha256=b"p" * 32,
        pdf_size_bytes=1234,
        effective_at=dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC),
    )


def test_stored_record_datum_encodes_and_round_trips() -> None:
    datum = stored_record_datum(_stored(), public_url="https://hocba.example.vn/")
    decoded = CODEC.decode(CODEC.encode(STORED, datum), expected=STORED)
    assert isinstance(decoded, Decoded)
    value = decoded.value
    assert value["record_id"] == "HB0000000000000001"
    assert (value["version"], value["supersedes_version"], value["lookup_code"]) == (2, 1, CODE)
    assert value["stored_at"] == dt.datetime(2025, 6, 1, 1, 2, 3, 4000, tzinfo=dt.UTC)
    assert value["effective_at"] == dt.datetime(2025, 5, 25, 9, 30, tzinfo=dt.UTC)
    assert (value["pdf_sha256"], value["pdf_size_bytes"]) == ((b"p" * 32).hex(), 1234)
    assert value["pdf_url"] == f"https://hocba.example.vn/v1/records/{CODE}/pdf?version=2"
    assert stored_record_datum(_stored())["pdf_url"] is None


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (asyncpg.exceptions.SerializationError("x"), StorageUnavailableError),
        (asyncpg.exceptions.DeadlockDetectedError("x"), StorageUnavailableError),
        (asyncpg.exceptions.UniqueViolationError("x"), StorageUnavailableError),
        (asyncpg.exceptions.ForeignKeyViolationError("x"), StorageUnavailableError),
        (asyncpg.exceptions.AdminShutdownError("x"), StorageUnavailableError),
        (asyncpg.exceptions.TooManyConnectionsError("x"), StorageUnavailableError),
        (asyncpg.exceptions.ConnectionDoesNotExistError("x"), StorageUnavailableError),
        (ConnectionRefusedError("x"), StorageUnavailableError),
        (TimeoutError(), StorageUnavailableError),
        (asyncpg.exceptions.CharacterNotInRepertoireError("x"), StorageDataError),
        (asyncpg.exceptions.NumericValueOutOfRangeError("x"), StorageDataError),
        (asyncpg.exceptions.ProgramLimitExceededError("x"), StorageDataError),
        (asyncpg.exceptions.CheckViolationError("x"), StorageDataError),
        (asyncpg.exceptions.NotNullViolationError("x"), StorageDataError),
        (asyncpg.exceptions.RestrictViolationError("x"), StorageDataError),
        (asyncpg.exceptions.UndefinedTableError("x"), StorageError),
        (asyncpg.exceptions.InterfaceError("x"), StorageError),
    ],
)
def test_driver_errors_are_classified_by_class_and_sqlstate(
    exc: BaseException, kind: type[StorageError]
) -> None:
    translated = translate_db_error(exc, "op")
    assert type(translated) is kind
    assert translated.sqlstate == getattr(exc, "sqlstate", None)


# --- settings ---------------------------------------------------------------------------


def test_settings_defaults_and_environment() -> None:
    default = StorageSettings.from_env({})
    assert (default.http_port, default.http_host, default.instance_id) == (8084, "127.0.0.1", "0")
    assert default.transactional_id == "hocba-storage-0"
    assert default.signed_topic == "hocba.records.signed"
    assert default.stored_topic == "hocba.records.stored"
    assert default.public_url is None
    custom = StorageSettings.from_env(
        {
            "HOCBA_KAFKA_BOOTSTRAP": "10.0.0.1:9092",
            "HOCBA_PG_DSN": "postgresql://u:p@db:5432/x",
            "HOCBA_INSTANCE_ID": "3",
            "HOCBA_STORAGE_PORT": "9000",
            "HOCBA_HTTP_HOST": "0.0.0.0",
            "HOCBA_LOG_LEVEL": "info",
            "HOCBA_STORAGE_PUBLIC_URL": "https://hocba.example.vn",
        }
    )
    assert custom.kafka.bootstrap_servers == "10.0.0.1:9092"
    assert (custom.pg_dsn, custom.http_port, custom.http_host) == (
        "postgresql://u:p@db:5432/x",
        9000,
        "0.0.0.0",
    )
    assert (custom.transactional_id, custom.log_level) == ("hocba-storage-3", "info")
    assert custom.public_url == "https://hocba.example.vn"


@pytest.mark.parametrize(
    "env",
    [
        {"HOCBA_STORAGE_PORT": "http"},
        {"HOCBA_STORAGE_PORT": "70000"},
        {"HOCBA_STORAGE_MAX_BATCH": "0"},
        {"HOCBA_INSTANCE_ID": "a b"},
        {"HOCBA_STORAGE_PUBLIC_URL": "hocba.example.vn"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        StorageSettings.from_env(env)


# --- the handler over the in-memory store -----------------------------------------------


def _incoming(value: bytes | None, offset: int) -> Incoming:
    return Incoming("in", 0, offset, b"k", value, 0)


def _signed(offset: int, student: str = "HS1", **changes: Any) -> Incoming:
    return _incoming(CODEC.encode(SIGNED, signed_record(student, **changes)), offset)


def _handler(store: MemoryStore) -> tuple[StoreSignedRecords, StorageMetrics]:
    metrics = StorageMetrics(ServiceMetrics("storage"))

    async def no_sleep(_: float) -> None:
        return None

    handler = StoreSignedRecords(
        store, metrics, stored_topic="out", retry_budget_s=30, sleep=no_sleep
    )
    return handler, metrics


def _sample(metrics: StorageMetrics, name: str, **labels: str) -> float:
    value = metrics.shared.registry.get_sample_value(name, {"service": "storage", **labels})
    return value or 0.0


def _stored_values(outputs: Sequence[Any]) -> list[dict[str, Any]]:
    values = []
    for out in outputs:
        decoded = CODEC.decode(out.value, expected=STORED)
        assert isinstance(decoded, Decoded)
        values.append(decoded.value)
    return values


async def test_handler_stores_and_emits_one_stored_record_per_accepted_message() -> None:
    store = MemoryStore()
    handler, metrics = _handler(store)
    batch = [
        _signed(0),
        _signed(1, version=2, days_absent=9),
        _signed(2),  # re-delivery of version 1
        _signed(3, days_absent=30),  # version 1 with other content: refused
        _signed(4, "HS2", record_id=record_id_of("HS1")),  # someone else's record id
    ]
    outputs = await handler(batch)
    assert [o.topic for o in outputs] == ["out"] * 3
    assert {o.key for o in outputs} == {b"79000701|HS1|2024-2025"}
    values = _stored_values(outputs)
    assert [(v["version"], v["supersedes_version"]) for v in values] == [
        (1, None),
        (2, 1),
        (1, None),
    ]
    datum = signed_record("HS1")
    assert (values[0]["lookup_code"], values[0]["pdf_sha256"]) == (
        datum["lookup_code"],
        datum["pdf_sha256"],
    )
    assert values[0]["pdf_size_bytes"] == len(datum["pdf"])
    assert values[0]["effective_at"] == datum["effective_at"]
    assert _stored_values([outputs[2]]) == _stored_values([outputs[0]])
    name = "hocba_storage_versions_total"
    for outcome, count in [
        ("VERSION_STORED", 1),
        ("VERSION_SUPERSEDED", 1),
        ("REDELIVERY_IGNORED", 1),
        ("VERSION_CONFLICT_REFUSED", 1),
        ("RECORD_ID_CONFLICT_REFUSED", 1),
    ]:
        assert _sample(metrics, name, outcome=outcome) == count
    rejected = "hocba_messages_rejected_total"
    assert _sample(metrics, rejected, code="E_STORAGE_VERSION_CONFLICT", vendor="vendor-a") == 1
    assert _sample(metrics, rejected, code="E_STORAGE_RECORD_ID_CONFLICT", vendor="vendor-a") == 1
    stored_bytes = _sample(metrics, "hocba_storage_pdf_bytes_total")
    assert stored_bytes == len(datum["pdf"]) + len(
        signed_record("HS1", version=2, days_absent=9)["pdf"]
    )


async def test_garbage_and_inconsistent_records_are_counted_logged_and_the_batch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, metrics = _handler(MemoryStore())
    unknown_fp = b"\xc3\x01" + b"\x00" * 8 + b"body"
    batch = [
        _incoming(b"not avro at all", 0),
        _incoming(None, 1),
        _incoming(unknown_fp, 2),
        _signed(3, grade=9),
        _signed(4, pdf_sha256="0" * 64),
        _signed(5, "HS2"),
    ]
    outputs = await handler(batch)
    assert len(outputs) == 1
    rejected = "hocba_messages_rejected_total"
    assert _sample(metrics, rejected, code="E_NOT_AVRO_SINGLE_OBJECT", vendor="unknown") == 2
    assert _sample(metrics, rejected, code="E_UNKNOWN_SCHEMA_FINGERPRINT", vendor="unknown") == 1
    assert _sample(metrics, rejected, code="E_STORAGE_BAD_GRADE", vendor="vendor-a") == 1
    assert _sample(metrics, rejected, code="E_STORAGE_HASH_MISMATCH", vendor="vendor-a") == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [getattr(r, "offset", None) for r in errors] == [0, 1, 2, 3, 4]


async def test_conflicts_are_logged_with_the_version_they_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    handler, _ = _handler(store)
    await handler([_signed(0)])
    assert await handler([_signed(1, days_absent=30)]) == []
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert getattr(error, "code", None) == "E_STORAGE_VERSION_CONFLICT"
    assert (getattr(error, "record_id", None), getattr(error, "version", None)) == (
        record_id_of("HS1"),
        1,
    )


async def test_transient_failures_are_retried_then_stored() -> None:
    store = MemoryStore([StorageUnavailableError("down", "57P01"), StorageUnavailableError("x")])
    handler, metrics = _handler(store)
    outputs = await handler([_signed(0)])
    assert len(outputs) == 1 and store.calls == 3
    assert _sample(metrics, "hocba_storage_db_retries_total", sqlstate="57P01") == 1
    assert _sample(metrics, "hocba_storage_db_retries_total", sqlstate="none") == 1


async def test_an_outage_longer_than_the_budget_raises_without_output() -> None:
    store = MemoryStore([StorageUnavailableError("down")] * 1000)
    metrics = StorageMetrics(ServiceMetrics("storage"))

    async def no_sleep(_: float) -> None:
        return None

    handler = StoreSignedRecords(
        store, metrics, stored_topic="out", retry_budget_s=0.0, sleep=no_sleep
    )
    with pytest.raises(StorageUnavailableError):
        await handler([_signed(0)])


async def test_a_value_the_database_refuses_is_isolated_and_refused_alone() -> None:
    store = MemoryStore()
    handler, metrics = _handler(store)
    batch = [_signed(0), _signed(1, "HS2", full_name="refuse-me"), _signed(2, "HS3")]

    # The whole batch fails once (as one transaction would), then one by one.
    original = store.store_batch

    async def whole_batch_fails(deliveries: Sequence[Delivery]) -> list[StoreResult]:
        if len(deliveries) > 1:
            raise StorageDataError("22021 bad", "22021")
        return await original(deliveries)

    store.store_batch = whole_batch_fails  # type: ignore[method-assign]
    outputs = await handler(batch)
    assert len(outputs) == 2
    assert _sample(metrics, "hocba_storage_isolated_batches_total") == 1
    assert (
        _sample(
            metrics, "hocba_messages_rejected_total", code="E_STORAGE_DB_REFUSED", vendor="vendor-a"
        )
        == 1
    )


# --- public surface (the lookup API: tests/unit/test_storage_lookup_http.py) -----------


def test_public_surface() -> None:
    assert sorted(services.storage.__all__) == [
        "CodeKind",
        "KnownState",
        "Outcome",
        "RecordCode",
        "StorageSettings",
        "StoredVersion",
        "VersionCandidate",
        "decide_versions",
        "is_record_id",
        "parse_code",
    ]
    for name in services.storage.__all__:
        assert hasattr(services.storage, name)
