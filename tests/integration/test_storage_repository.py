"""The PostgreSQL record store on the real database, in a schema of its own.

The store's contract (the same test bodies the in-memory fake passes), concurrent
replicas, the append-only guards and checks of the migrations, migration 0003 over
rows stored under 0002, and a rough throughput figure of the batch insert path
(printed with ``-s``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import asyncpg
import pytest

from services.messaging.metrics import ServiceMetrics
from services.stack.migrations import apply_migrations
from services.storage.errors import StorageUnavailableError
from services.storage.repository import PgRecordStore
from services.storage.standing import PgStanding, VerifyAudit
from services.storage.versions import Delivery, Outcome, StoreResult
from tests.unit.test_storage_contract import CONTRACT, StoreUnderTest, delivery
from tests.unit.test_storage_fixtures import lookup_code_of, record_id_of, signed_record

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"storage_repo_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        await admin.execute(f"DROP SCHEMA {name} CASCADE")
        await admin.close()


async def _pool(schema: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        DSN, min_size=2, max_size=4, server_settings={"search_path": schema}
    )


@pytest.fixture
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    await apply_migrations(DSN, MIGRATIONS, schema=schema)
    created = await _pool(schema)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> PgRecordStore:
    return PgRecordStore(pool, ServiceMetrics("storage"), actor="hocba-storage/test")


@pytest.mark.parametrize("case", CONTRACT, ids=lambda case: case.__name__)
async def test_postgres_store_keeps_the_contract(
    case: Callable[[StoreUnderTest], Awaitable[None]], store: PgRecordStore
) -> None:
    await case(store)


async def _retrying(store: PgRecordStore, batch: Sequence[Delivery]) -> list[StoreResult]:
    """What the handler does: a lost race is retried until the transaction commits."""
    for _ in range(20):
        try:
            return await store.store_batch(batch)
        except StorageUnavailableError:
            await asyncio.sleep(0.05)
    raise AssertionError("the batch never committed")


async def test_concurrent_replicas_agree_on_record_ids_versions_and_pointers(
    store: PgRecordStore, pool: asyncpg.Pool
) -> None:
    students = [f"C{i:03d}" for i in range(60)]
    first = [delivery(signed_record(s, days_absent=1), i) for i, s in enumerate(students)]
    second = [
        delivery(signed_record(s, version=2, days_absent=2), i)
        for i, s in enumerate(reversed(students))
    ]
    # The same first versions again at the same time: a zombie replaying its batch.
    results = await asyncio.gather(
        _retrying(store, first), _retrying(store, second), _retrying(store, first)
    )
    assert all(r.outcome.refusal_code is None for batch in results for r in batch)
    for student in students:
        record_id = record_id_of(student)
        assert await store.record_id_of(student) == record_id
        assert [v.version for v in await store.all_versions(record_id)] == [1, 2]
    async with pool.acquire() as conn:
        pointers = await conn.fetch("SELECT record_id, version FROM current_versions")
    assert {r["record_id"]: r["version"] for r in pointers} == {
        record_id_of(s): 2 for s in students
    }


async def test_versions_mappings_and_audit_are_append_only(
    store: PgRecordStore, pool: asyncpg.Pool
) -> None:
    datum = signed_record("A1")
    await store.store_batch([delivery(datum)])
    record_id = datum["record_id"]
    async with pool.acquire() as conn:
        for statement in (
            "UPDATE record_versions SET grade = 5 WHERE record_id = $1",
            "UPDATE record_versions SET correction_reason = 'x' WHERE record_id = $1",
            "DELETE FROM record_versions WHERE record_id = $1",
            "UPDATE records SET student_id = 'A2' WHERE record_id = $1",
            "DELETE FROM records WHERE record_id = $1",
            "UPDATE lookup_codes SET school_year = '2030-2031' WHERE record_id = $1",
            "DELETE FROM lookup_codes WHERE record_id = $1",
            "DELETE FROM record_audit WHERE record_id = $1",
        ):
            with pytest.raises(asyncpg.RestrictViolationError):
                await conn.execute(statement, record_id)


async def test_the_database_refuses_a_pdf_that_does_not_match_its_hash(
    store: PgRecordStore, pool: asyncpg.Pool
) -> None:
    datum = signed_record("A3")
    await store.store_batch([delivery(datum)])
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                """
                INSERT INTO record_versions
                SELECT record_id, school_year, 2, record_key, school_code, student_id,
                       national_id, grade, vendor_id, year_result, rule_set_version,
                       validated_at, content_sha256, record, status, 1, lookup_code,
                       'not the signed pdf'::bytea, pdf_sha256, effective_at, stored_at,
                       signatures, correction_reason
                FROM record_versions WHERE record_id = $1
                """,
                datum["record_id"],
            )


async def test_migration_0003_keeps_what_0002_stored(schema: str, tmp_path: Path) -> None:
    """A database with records stored before signing moves to 0003 intact."""
    for path in sorted(MIGRATIONS.glob("000[12]_*.sql")):
        shutil.copy(path, tmp_path / path.name)
    await apply_migrations(DSN, tmp_path, schema=schema)
    legacy_id = "HB0000000000000001"
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        await conn.execute(
            "INSERT INTO records (record_id, student_id) VALUES ($1, 'OLD1')", legacy_id
        )
        for version, code in ((1, None), (2, "LEGACY-CODE")):
            await conn.execute(
                """
                INSERT INTO record_versions (record_id, school_year, version, record_key,
                    school_code, student_id, grade, vendor_id, rule_set_version, validated_at,
                    content_sha256, record, supersedes_version, stored_at)
                VALUES ($1, '2024-2025', $2, 'S|OLD1|2024-2025', 'S', 'OLD1', 4, 'v',
                    'tt27', now(), $3, '{}', $4, now())
                """,
                legacy_id,
                version,
                bytes([version]) * 32,
                version - 1 or None,
            )
            if code is not None:
                await conn.execute(
                    "UPDATE record_versions SET status = 'SIGNED', lookup_code = $2, "
                    "pdf_sha256 = $3, effective_at = now() WHERE record_id = $1 AND version = 2",
                    legacy_id,
                    code,
                    b"\x02" * 32,
                )
        applied = await apply_migrations(DSN, MIGRATIONS, schema=schema)
        assert applied[0] == "0003_signed_records"  # (and those after it)
        assert await conn.fetchval("SELECT count(*) FROM record_versions") == 2
        page = await conn.fetchrow("SELECT * FROM lookup_codes WHERE lookup_code = 'LEGACY-CODE'")
        assert (page["record_id"], page["school_year"]) == (legacy_id, "2024-2025")
    finally:
        await conn.close()
    pool = await _pool(schema)
    try:
        store = PgRecordStore(pool, ServiceMetrics("storage"), actor="hocba-storage/test")
        versions = await store.all_versions(legacy_id)
        assert [(v.version, v.status, v.pdf_size_bytes) for v in versions] == [
            (1, "VALIDATED", None),
            (2, "SIGNED", None),
        ]
        # The same student's signed record under another record id is refused, not merged.
        (refused,) = await store.store_batch([delivery(signed_record("OLD1"))])
        assert refused.outcome is Outcome.RECORD_ID_CONFLICT
    finally:
        await pool.close()


async def test_batch_insert_throughput(store: PgRecordStore) -> None:
    batches = [
        [delivery(signed_record(f"P{b:03d}-{i:03d}"), i) for i in range(500)] for b in range(8)
    ]
    started = time.perf_counter()
    for batch in batches:
        results = await store.store_batch(batch)
        assert all(r.outcome is Outcome.STORED for r in results)
    elapsed = time.perf_counter() - started
    rate = 4000 / elapsed
    print(f"\nbatch insert path: 4000 signed versions in {elapsed:.2f} s = {rate:,.0f} rows/s")
    started = time.perf_counter()
    for batch in batches:
        await store.store_batch(batch)
    replay = 4000 / (time.perf_counter() - started)
    print(f"replay (all re-deliveries): {replay:,.0f} rows/s")
    # Records are ~1/20 of events: 5,000 events/s need ~250 records/s. Keep a wide margin.
    assert rate > 1000
    assert (
        lookup_code_of(record_id_of("P000-000"), "2024-2025") == batches[0][0].candidate.lookup_code
    )


async def test_a_content_is_current_then_superseded_and_each_question_is_audited(
    store: PgRecordStore, pool: asyncpg.Pool
) -> None:
    # What `hocba verify --platform` asks with the SHA-256 of the PDF's embedded record
    # (a PDF whose own bytes the platform does not hold: found by its content).
    first = signed_record("C1")
    await store.store_batch([delivery(first)])
    standing = PgStanding(pool, ServiceMetrics("verify"))
    audit = VerifyAudit("hocba-verify", None, {"purpose": "verify"})

    async def status(content_sha256: bytes) -> str:
        return (await standing.standing(bytes(32), content_sha256, audit)).status

    content = bytes.fromhex(first["record_sha256"])
    assert await status(content) == "current"
    second = signed_record("C1", version=2, days_absent=9)
    await store.store_batch([delivery(second, offset=1)])
    assert await status(content) == "superseded"
    assert await status(bytes.fromhex(second["record_sha256"])) == "current"
    assert await status(bytes(32)) == "unknown"
    async with pool.acquire() as conn:
        actions = await conn.fetch(
            "SELECT action, detail->>'status' AS status FROM record_audit "
            "WHERE actor = 'hocba-verify' ORDER BY audit_id"
        )
    assert [(a["action"], a["status"]) for a in actions] == [
        ("VERIFIED", "current"),
        ("VERIFIED", "superseded"),
        ("VERIFIED", "current"),
        ("READ_NOT_FOUND", "unknown"),
    ]
