"""Pure parts of the storage service: identifiers, version decisions, mapping, error
classification, settings, the handler over an in-memory store, the public surface."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

import services.storage
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
from services.storage.handlers import StoreValidatedRecords
from services.storage.http import RecordsApi, load_openapi
from services.storage.mapping import Refusal, candidate_from_validated, stored_record_datum
from services.storage.metrics import StorageMetrics
from services.storage.record_ids import is_record_id, new_record_id, normalise
from services.storage.repository import ReadAudit
from services.storage.settings import SettingsError, StorageSettings
from services.storage.versions import (
    Delivery,
    Outcome,
    PageKey,
    StoredVersion,
    StoreResult,
    VersionCandidate,
    decide_versions,
)
from tests.unit.test_storage_fixtures import VALIDATED, validated_record

pytestmark = pytest.mark.unit

CODEC = default_codec()
STORED = "vn.edu.hocba.StoredRecord"


# --- record ids -------------------------------------------------------------------------


def test_record_ids_are_hb_and_16_crockford_characters() -> None:
    ids = {new_record_id() for _ in range(2000)}
    assert len(ids) == 2000
    for rid in ids:
        assert len(rid) == 18 and rid.startswith("HB") and is_record_id(rid)
        assert not set(rid[2:]) & set("ILOU")


def test_record_id_normalisation_forgives_case_hyphens_and_lookalikes() -> None:
    assert normalise(" hb7k2m-9q4r-8t1v-3w5x ") == "HB7K2M9Q4R8T1V3W5X"
    assert normalise("HBOOOOIIIILLLL0000") == "HB0000111111110000"
    assert not is_record_id("HB123")
    assert not is_record_id("XX7K2M9Q4R8T1V3W5X")
    assert not is_record_id("HB7K2M9Q4R8T1V3W5U")  # U is not Crockford


# --- version decisions ------------------------------------------------------------------

PAGE: PageKey = ("HB0000000000000001", "2024-2025")
A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def test_first_content_is_version_1() -> None:
    (decision,) = decide_versions([(PAGE, A)], {}, {})
    assert (decision.version, decision.supersedes_version, decision.outcome) == (
        1,
        None,
        Outcome.STORED,
    )


def test_known_content_is_a_redelivery_of_its_version() -> None:
    decisions = decide_versions([(PAGE, A), (PAGE, B)], {PAGE: 2}, {(PAGE, A): 1, (PAGE, B): 2})
    assert [(d.version, d.outcome) for d in decisions] == [
        (1, Outcome.REDELIVERED),
        (2, Outcome.REDELIVERED),
    ]


def test_new_content_supersedes_the_current_version() -> None:
    (decision,) = decide_versions([(PAGE, C)], {PAGE: 2}, {(PAGE, A): 1, (PAGE, B): 2})
    assert (decision.version, decision.supersedes_version, decision.outcome) == (
        3,
        2,
        Outcome.SUPERSEDED,
    )


def test_one_batch_chains_versions_and_stores_repeated_content_once() -> None:
    other: PageKey = ("HB0000000000000001", "2025-2026")
    decisions = decide_versions([(PAGE, A), (other, A), (PAGE, B), (PAGE, A), (PAGE, B)], {}, {})
    assert [(d.school_year, d.version, d.supersedes_version, d.outcome) for d in decisions] == [
        ("2024-2025", 1, None, Outcome.STORED),
        ("2025-2026", 1, None, Outcome.STORED),
        ("2024-2025", 2, 1, Outcome.SUPERSEDED),
        ("2024-2025", 1, None, Outcome.REDELIVERED),
        ("2024-2025", 2, None, Outcome.REDELIVERED),
    ]


# --- mapping ----------------------------------------------------------------------------


def _decoded(datum: dict[str, Any]) -> dict[str, Any]:
    decoded = CODEC.decode(CODEC.encode(VALIDATED, datum), expected=VALIDATED)
    assert isinstance(decoded, Decoded)
    return decoded.value


def test_candidate_hashes_the_canonical_json_of_the_year_record() -> None:
    value = _decoded(validated_record("HS42"))
    candidate = candidate_from_validated(value)
    assert isinstance(candidate, VersionCandidate)
    canonical = canonical_json(
        default_registry().current("vn.edu.hocba.YearRecord"), value["record"]
    )
    assert candidate.record_json.encode() == canonical
    assert candidate.content_sha256 == hashlib.sha256(canonical).digest()
    assert json.loads(candidate.record_json)["student"]["full_name"] == "Nguyễn Thị Minh Anh"
    assert (candidate.record_key, candidate.student_id, candidate.school_year) == (
        "79000701|HS42|2024-2025",
        "HS42",
        "2024-2025",
    )
    assert (candidate.grade, candidate.year_result, candidate.vendor_id) == (4, "HTT", "vendor-a")
    assert candidate.validated_at == dt.datetime(2025, 5, 20, 8, 0, tzinfo=dt.UTC)


def test_different_content_gives_a_different_hash() -> None:
    first = candidate_from_validated(_decoded(validated_record("HS1", days_absent=2)))
    second = candidate_from_validated(_decoded(validated_record("HS1", days_absent=3)))
    assert isinstance(first, VersionCandidate) and isinstance(second, VersionCandidate)
    assert first.content_sha256 != second.content_sha256


@pytest.mark.parametrize(
    ("datum", "code"),
    [
        (validated_record("HS1", record_key="79000701|OTHER|2024-2025"), "E_STORAGE_KEY_MISMATCH"),
        (validated_record("HS1", grade=7), "E_STORAGE_BAD_GRADE"),
        (validated_record("HS1", school_year="2024/25"), "E_STORAGE_BAD_SCHOOL_YEAR"),
        (validated_record("", record_key="79000701||2024-2025"), "E_STORAGE_MISSING_IDENTIFIER"),
        (validated_record("HS1", full_name="A\x00B"), "E_STORAGE_NUL_CHARACTER"),
    ],
)
def test_values_the_database_cannot_hold_are_refused(datum: dict[str, Any], code: str) -> None:
    refusal = candidate_from_validated(_decoded(datum))
    assert isinstance(refusal, Refusal)
    assert refusal.code == code and refusal.vendor_id == "vendor-a"
    assert refusal.message_en and refusal.message_vi


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
        content_sha256=A,
    )


def test_stored_record_datum_encodes_and_round_trips() -> None:
    datum = stored_record_datum(_stored())
    decoded = CODEC.decode(CODEC.encode(STORED, datum), expected=STORED)
    assert isinstance(decoded, Decoded)
    assert decoded.value["record_id"] == "HB0000000000000001"
    assert (decoded.value["version"], decoded.value["supersedes_version"]) == (2, 1)
    assert decoded.value["stored_at"] == dt.datetime(2025, 6, 1, 1, 2, 3, 4000, tzinfo=dt.UTC)
    assert decoded.value["lookup_code"] is None and decoded.value["pdf_sha256"] is None


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (asyncpg.exceptions.SerializationError("x"), StorageUnavailableError),
        (asyncpg.exceptions.DeadlockDetectedError("x"), StorageUnavailableError),
        (asyncpg.exceptions.UniqueViolationError("x"), StorageUnavailableError),
        (asyncpg.exceptions.AdminShutdownError("x"), StorageUnavailableError),
        (asyncpg.exceptions.TooManyConnectionsError("x"), StorageUnavailableError),
        (asyncpg.exceptions.ConnectionDoesNotExistError("x"), StorageUnavailableError),
        (ConnectionRefusedError("x"), StorageUnavailableError),
        (TimeoutError(), StorageUnavailableError),
        (asyncpg.exceptions.CharacterNotInRepertoireError("x"), StorageDataError),
        (asyncpg.exceptions.NumericValueOutOfRangeError("x"), StorageDataError),
        (asyncpg.exceptions.ProgramLimitExceededError("x"), StorageDataError),
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
    assert default.validated_topic == "hocba.records.validated"
    assert default.stored_topic == "hocba.records.stored"
    custom = StorageSettings.from_env(
        {
            "HOCBA_KAFKA_BOOTSTRAP": "10.0.0.1:9092",
            "HOCBA_PG_DSN": "postgresql://u:p@db:5432/x",
            "HOCBA_INSTANCE_ID": "3",
            "HOCBA_STORAGE_PORT": "9000",
            "HOCBA_HTTP_HOST": "0.0.0.0",
            "HOCBA_LOG_LEVEL": "info",
        }
    )
    assert custom.kafka.bootstrap_servers == "10.0.0.1:9092"
    assert (custom.pg_dsn, custom.http_port, custom.http_host) == (
        "postgresql://u:p@db:5432/x",
        9000,
        "0.0.0.0",
    )
    assert (custom.transactional_id, custom.log_level) == ("hocba-storage-3", "info")


@pytest.mark.parametrize(
    "env",
    [
        {"HOCBA_STORAGE_PORT": "http"},
        {"HOCBA_STORAGE_PORT": "70000"},
        {"HOCBA_STORAGE_MAX_BATCH": "0"},
        {"HOCBA_INSTANCE_ID": "a b"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        StorageSettings.from_env(env)


# --- the handler over an in-memory store ------------------------------------------------


class MemoryStore:
    """A minimal in-memory record store (the port's semantics, without SQL)."""

    def __init__(self, failures: Sequence[StorageError] = ()) -> None:
        self.failures = list(failures)
        self.ids: dict[str, str] = {}
        self.current: dict[PageKey, int] = {}
        self.known: dict[tuple[PageKey, bytes], StoredVersion] = {}
        self.calls = 0

    async def store_batch(self, deliveries: Sequence[Delivery]) -> list[StoreResult]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        results = []
        for d in deliveries:
            c = d.candidate
            if "refuse-me" in c.record_json:
                raise StorageDataError("22021 bad", "22021")
            page = (self.ids.setdefault(c.student_id, new_record_id()), c.school_year)
            known = {k: v.version for k, v in self.known.items()}
            (decision,) = decide_versions([(page, c.content_sha256)], self.current, known)
            if decision.outcome is Outcome.REDELIVERED:
                results.append(StoreResult(decision.outcome, self.known[(page, c.content_sha256)]))
                continue
            stored = StoredVersion(
                page[0], c.school_year, decision.version, c.record_key, c.school_code,
                c.student_id, c.national_id, c.grade, c.year_result,
                decision.supersedes_version, dt.datetime.now(dt.UTC), c.content_sha256,
            )  # fmt: skip
            self.known[(page, c.content_sha256)] = stored
            self.current[page] = decision.version
            results.append(StoreResult(decision.outcome, stored))
        return results

    async def read_current(self, record_id: str | None, audit: ReadAudit) -> list[StoredVersion]:
        return [v for v in self.known.values() if v.record_id == record_id]

    async def ping(self) -> bool:
        return True


def _incoming(value: bytes | None, offset: int) -> Incoming:
    return Incoming("in", 0, offset, b"k", value, 0)


def _handler(store: MemoryStore) -> tuple[StoreValidatedRecords, StorageMetrics]:
    metrics = StorageMetrics(ServiceMetrics("storage"))

    async def no_sleep(_: float) -> None:
        return None

    handler = StoreValidatedRecords(
        store, metrics, stored_topic="out", retry_budget_s=30, sleep=no_sleep
    )
    return handler, metrics


def _sample(metrics: StorageMetrics, name: str, **labels: str) -> float:
    value = metrics.shared.registry.get_sample_value(name, {"service": "storage", **labels})
    return value or 0.0


async def test_handler_stores_and_emits_one_stored_record_per_message() -> None:
    store = MemoryStore()
    handler, metrics = _handler(store)
    batch = [
        _incoming(CODEC.encode(VALIDATED, validated_record("HS1")), 0),
        _incoming(CODEC.encode(VALIDATED, validated_record("HS1", days_absent=9)), 1),
        _incoming(CODEC.encode(VALIDATED, validated_record("HS1")), 2),
    ]
    outputs = await handler(batch)
    assert [o.topic for o in outputs] == ["out"] * 3
    assert {o.key for o in outputs} == {b"79000701|HS1|2024-2025"}
    values = []
    for out in outputs:
        decoded = CODEC.decode(out.value, expected=STORED)
        assert isinstance(decoded, Decoded)
        values.append((decoded.value["version"], decoded.value["supersedes_version"]))
    assert values == [(1, None), (2, 1), (1, None)]
    name = "hocba_storage_versions_total"
    assert _sample(metrics, name, outcome="VERSION_STORED") == 1
    assert _sample(metrics, name, outcome="VERSION_SUPERSEDED") == 1
    assert _sample(metrics, name, outcome="REDELIVERY_IGNORED") == 1


async def test_garbage_is_counted_logged_and_the_batch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, metrics = _handler(MemoryStore())
    unknown_fp = b"\xc3\x01" + b"\x00" * 8 + b"body"
    batch = [
        _incoming(b"not avro at all", 0),
        _incoming(None, 1),
        _incoming(unknown_fp, 2),
        _incoming(CODEC.encode(VALIDATED, validated_record("HS1", grade=9)), 3),
        _incoming(CODEC.encode(VALIDATED, validated_record("HS2")), 4),
    ]
    outputs = await handler(batch)
    assert len(outputs) == 1
    rejected = "hocba_messages_rejected_total"
    assert _sample(metrics, rejected, code="E_NOT_AVRO_SINGLE_OBJECT", vendor="unknown") == 2
    assert _sample(metrics, rejected, code="E_UNKNOWN_SCHEMA_FINGERPRINT", vendor="unknown") == 1
    assert _sample(metrics, rejected, code="E_STORAGE_BAD_GRADE", vendor="vendor-a") == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 4
    assert [getattr(r, "offset", None) for r in errors] == [0, 1, 2, 3]


async def test_transient_failures_are_retried_then_stored() -> None:
    store = MemoryStore([StorageUnavailableError("down", "57P01"), StorageUnavailableError("x")])
    handler, metrics = _handler(store)
    outputs = await handler([_incoming(CODEC.encode(VALIDATED, validated_record("HS1")), 0)])
    assert len(outputs) == 1 and store.calls == 3
    assert _sample(metrics, "hocba_storage_db_retries_total", sqlstate="57P01") == 1
    assert _sample(metrics, "hocba_storage_db_retries_total", sqlstate="none") == 1


async def test_an_outage_longer_than_the_budget_raises_without_output() -> None:
    store = MemoryStore([StorageUnavailableError("down")] * 1000)
    metrics = StorageMetrics(ServiceMetrics("storage"))
    clock = [0.0]

    async def fake_sleep(seconds: float) -> None:
        clock[0] += seconds

    handler = StoreValidatedRecords(
        store, metrics, stored_topic="out", retry_budget_s=0.0, sleep=fake_sleep
    )
    with pytest.raises(StorageUnavailableError):
        await handler([_incoming(CODEC.encode(VALIDATED, validated_record("HS1")), 0)])


async def test_a_value_the_database_refuses_is_isolated_and_refused_alone() -> None:
    store = MemoryStore()
    handler, metrics = _handler(store)
    batch = [
        _incoming(CODEC.encode(VALIDATED, validated_record("HS1")), 0),
        _incoming(CODEC.encode(VALIDATED, validated_record("HS2", full_name="refuse-me")), 1),
        _incoming(CODEC.encode(VALIDATED, validated_record("HS3")), 2),
    ]

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


# --- OpenAPI and public surface ---------------------------------------------------------


def test_openapi_document_describes_every_route() -> None:
    document = load_openapi()
    assert document["openapi"].startswith("3.")
    api = RecordsApi(MemoryStore(), StorageMetrics(ServiceMetrics("storage")), document)
    served = {route.path for route in api.routes()}
    assert served <= set(document["paths"])
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message_vi", "message_en"}


def test_public_surface() -> None:
    assert sorted(services.storage.__all__) == [
        "Outcome",
        "StorageSettings",
        "StoredVersion",
        "VersionCandidate",
        "decide_versions",
        "is_record_id",
        "new_record_id",
    ]
    for name in services.storage.__all__:
        assert hasattr(services.storage, name)
