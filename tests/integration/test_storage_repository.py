"""The PostgreSQL record store on the real database, in a schema of its own.

Batch semantics, concurrent replicas, the append-only guards of the migration, and
a rough throughput figure of the batch insert path (printed with ``-s``).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.messaging.codec import Decoded, default_codec
from services.messaging.metrics import ServiceMetrics
from services.stack.migrations import apply_migrations
from services.storage.mapping import candidate_from_validated
from services.storage.repository import PgRecordStore, ReadAudit
from services.storage.versions import Delivery, Outcome, VersionCandidate
from tests.unit.test_storage_fixtures import VALIDATED, validated_record

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
CODEC = default_codec()


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    schema = f"storage_repo_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f"CREATE SCHEMA {schema}")
    await apply_migrations(DSN, MIGRATIONS, schema=schema)
    created = await asyncpg.create_pool(
        DSN, min_size=2, max_size=4, server_settings={"search_path": schema}
    )
    try:
        yield created
    finally:
        await created.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> PgRecordStore:
    return PgRecordStore(pool, ServiceMetrics("storage"), actor="hocba-storage/test")


def delivery(student: str, offset: int = 0, **changes: Any) -> Delivery:
    decoded = CODEC.decode(CODEC.encode(VALIDATED, validated_record(student, **changes)))
    assert isinstance(decoded, Decoded)
    candidate = candidate_from_validated(decoded.value)
    assert isinstance(candidate, VersionCandidate)
    return Delivery(candidate, "t", 0, offset)


async def test_one_batch_chains_versions_per_page(store: PgRecordStore) -> None:
    batch = [
        delivery("S1", 0),
        delivery("S1", 1, days_absent=7),
        delivery("S1", 2, school_year="2025-2026", grade=5),
        delivery("S1", 3),
        delivery("S2", 4),
    ]
    results = await store.store_batch(batch)
    assert [(r.outcome, r.stored.school_year, r.stored.version) for r in results] == [
        (Outcome.STORED, "2024-2025", 1),
        (Outcome.SUPERSEDED, "2024-2025", 2),
        (Outcome.STORED, "2025-2026", 1),
        (Outcome.REDELIVERED, "2024-2025", 1),
        (Outcome.STORED, "2024-2025", 1),
    ]
    assert len({r.stored.record_id for r in results[:4]}) == 1
    assert results[4].stored.record_id != results[0].stored.record_id
    audit = ReadAudit("test", {"code": results[0].stored.record_id})
    current = await store.read_current(results[0].stored.record_id, audit)
    assert [(v.school_year, v.version, v.supersedes_version) for v in current] == [
        ("2024-2025", 2, 1),
        ("2025-2026", 1, None),
    ]


async def test_concurrent_replicas_agree_on_record_ids_and_versions(store: PgRecordStore) -> None:
    students = [f"C{i:03d}" for i in range(60)]
    first = [delivery(s, i) for i, s in enumerate(students)]
    second = [delivery(s, i, days_absent=9) for i, s in enumerate(reversed(students))]
    results = await asyncio.gather(store.store_batch(first), store.store_batch(second))
    ids = {r.stored.student_id: r.stored.record_id for r in results[0]}
    assert all(ids[r.stored.student_id] == r.stored.record_id for r in results[1])
    for student in students:
        versions = await store.all_versions(ids[student])
        assert [v.version for v in versions] == [1, 2]


async def test_versions_and_audit_are_append_only(store: PgRecordStore, pool: asyncpg.Pool) -> None:
    (result,) = await store.store_batch([delivery("A1")])
    record_id = result.stored.record_id
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute(
                "UPDATE record_versions SET grade = 5 WHERE record_id = $1", record_id
            )
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("DELETE FROM record_versions WHERE record_id = $1", record_id)
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("DELETE FROM record_audit WHERE record_id = $1", record_id)
        # Signing may fill its columns once.
        await conn.execute(
            "UPDATE record_versions SET status = 'SIGNED', lookup_code = 'LC1', "
            "pdf_sha256 = $2, effective_at = now() WHERE record_id = $1",
            record_id,
            b"\x01" * 32,
        )
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute(
                "UPDATE record_versions SET lookup_code = 'LC2' WHERE record_id = $1", record_id
            )


async def test_batch_insert_throughput(store: PgRecordStore) -> None:
    batches = [[delivery(f"P{b:03d}-{i:03d}", i) for i in range(500)] for b in range(8)]
    started = time.perf_counter()
    for batch in batches:
        results = await store.store_batch(batch)
        assert all(r.outcome is Outcome.STORED for r in results)
    elapsed = time.perf_counter() - started
    rate = 4000 / elapsed
    print(f"\nbatch insert path: 4000 new records in {elapsed:.2f} s = {rate:,.0f} rows/s")
    started = time.perf_counter()
    for batch in batches:
        await store.store_batch(batch)
    replay = 4000 / (time.perf_counter() - started)
    print(f"replay (all re-deliveries): {replay:,.0f} rows/s")
    # Records are ~1/20 of events: 5,000 events/s need ~250 records/s. Keep a wide margin.
    assert rate > 1000
