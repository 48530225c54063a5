"""One contract for the vendor store, run against PostgreSQL and the in-memory fake."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.ingestion.memory import InMemoryVendorStore
from services.ingestion.store import (
    IngestedEvent,
    InvalidRequestError,
    VendorExistsError,
    VendorNotFoundError,
    VendorStore,
)
from services.ingestion.tokens import token_sha256
from services.ingestion.vendors import PostgresVendorStore
from services.stack import apply_migrations

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"


@pytest.fixture(params=["postgres", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[VendorStore]:
    if request.param == "memory":
        yield InMemoryVendorStore()
        return
    await apply_migrations(DSN, MIGRATIONS)
    pool = await asyncpg.create_pool(DSN, min_size=1, max_size=2)
    try:
        yield PostgresVendorStore(pool)
    finally:
        await pool.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_vendors_and_tokens(store: VendorStore) -> None:
    vendor = unique("v")
    await store.add_vendor(vendor, "Công ty Phần mềm Giáo dục")
    with pytest.raises(VendorExistsError):
        await store.add_vendor(vendor, "again")
    with pytest.raises(InvalidRequestError):
        await store.add_vendor("bad id!", "x")
    with pytest.raises(VendorNotFoundError):
        await store.issue_token(unique("nobody"))
    first, second = await store.issue_token(vendor), await store.issue_token(vendor)
    assert await store.token_vendor(token_sha256(first.token)) == vendor
    await store.revoke_token(vendor, first.token_id)
    await store.revoke_token(vendor, first.token_id)  # revoking twice is harmless
    assert await store.token_vendor(token_sha256(first.token)) is None
    assert await store.token_vendor(token_sha256(second.token)) == vendor
    with pytest.raises(VendorNotFoundError):
        await store.revoke_token(unique("other"), second.token_id)
    listed = {v.vendor_id: v for v in await store.list_vendors()}[vendor]
    assert listed.name == "Công ty Phần mềm Giáo dục" and listed.active
    assert [t.revoked_at is None for t in listed.tokens] == [False, True]
    await store.set_active(vendor, False)
    entries = await store.vendor_entries([vendor, unique("ghost")])
    assert list(entries) == [vendor] and not entries[vendor].active


async def test_dated_assignments(store: VendorStore) -> None:
    vendor, school = unique("v"), unique("S")
    await store.add_vendor(vendor, "Vendor")
    with pytest.raises(VendorNotFoundError):
        await store.assign(unique("ghost"), school, dt.date(2024, 9, 1), None)
    with pytest.raises(InvalidRequestError):
        await store.assign(vendor, school, dt.date(2024, 9, 1), dt.date(2024, 8, 1))
    await store.assign(vendor, school, dt.date(2024, 9, 1), None)
    await store.assign(vendor, school, dt.date(2026, 9, 1), None)
    entry = (await store.vendor_entries([vendor]))[vendor]
    assert entry.assigned(school, dt.date(2025, 1, 1))
    # A transfer effective 2025-06-01: the last day is 2025-05-31, the later one is removed.
    assert await store.unassign(vendor, school, dt.date(2025, 6, 1)) == 2
    entry = (await store.vendor_entries([vendor]))[vendor]
    assert entry.assigned(school, dt.date(2025, 5, 31))
    assert not entry.assigned(school, dt.date(2025, 6, 1))
    assert not entry.assigned(school, dt.date(2026, 9, 1))
    assert await store.unassign(vendor, school, dt.date(2025, 6, 1)) == 0


async def test_ingested_events(store: VendorStore) -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    rows = [IngestedEvent(i, "v", bytes([n]) * 32) for n, i in enumerate(ids)]
    assert await store.known_events(ids) == {}
    assert await store.record_events(rows[:2]) == 2
    # The first row of an id stays: a later record of it changes nothing.
    assert await store.record_events([IngestedEvent(ids[0], "v", b"z" * 32), rows[2]]) == 1
    assert await store.known_events([*ids, uuid.uuid4()]) == {
        ids[0]: bytes([0]) * 32,
        ids[1]: bytes([1]) * 32,
        ids[2]: bytes([2]) * 32,
    }
    assert await store.ping()
