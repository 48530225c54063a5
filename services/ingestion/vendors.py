"""The PostgreSQL adapter of :class:`~services.ingestion.store.VendorStore`: all of ingestion's SQL.

Tables (``services/storage/migrations/0001_vendors.sql``): ``vendors``,
``vendor_tokens`` (SHA-256 of each token, never the token), ``vendor_schools`` (dated
assignments) and ``ingested_events`` (event id → content hash, for de-duplication);
(``0005_student_transfers.sql``) ``student_transfers`` (accepted school transfers).
Every hot-path method is one round trip for a whole batch. Driver errors are translated
here by class and SQLSTATE, never by message text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, Final

import asyncpg

from services.ingestion.authorization import Assignment, Transfer, VendorEntry
from services.ingestion.store import (
    IngestedEvent,
    InvalidRequestError,
    IssuedToken,
    StoreError,
    StoreUnavailableError,
    TokenInfo,
    VendorExistsError,
    VendorNotFoundError,
    VendorSummary,
    check_assignment,
    check_vendor_id,
)
from services.ingestion.tokens import new_token, token_sha256
from services.messaging.metrics import ServiceMetrics

__all__ = ["PostgresVendorStore", "translate_error"]

_UNIQUE_VIOLATION: Final = "23505"
_FOREIGN_KEY_VIOLATION: Final = "23503"
_CHECK_VIOLATION: Final = "23514"
# SQLSTATE classes that mean "try again later": connection exception, insufficient
# resources, operator intervention (shutdown, cannot connect now), transaction rollback.
_TRANSIENT_CLASSES: Final = ("08", "53", "57", "40")

_TOKEN_VENDOR = """
SELECT vendor_id FROM vendor_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL
"""
_VENDOR_ENTRIES = """
SELECT v.vendor_id, v.active, s.school_code, s.valid_from, s.valid_to
FROM vendors v LEFT JOIN vendor_schools s ON s.vendor_id = v.vendor_id
WHERE v.vendor_id = ANY($1::text[])
"""
_KNOWN_EVENTS = """
SELECT event_id, content_sha256 FROM ingested_events WHERE event_id = ANY($1::uuid[])
"""
_RECORD_EVENTS = """
INSERT INTO ingested_events (event_id, vendor_id, content_sha256)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[])
ON CONFLICT (event_id) DO NOTHING
"""
_STUDENT_TRANSFERS = """
SELECT event_id, student_id, from_school_code, to_school_code, effective_on, school_year,
       vendor_id
FROM student_transfers WHERE student_id = ANY($1::text[])
ORDER BY student_id, effective_on, recorded_at, event_id
"""
_RECORD_TRANSFERS = """
INSERT INTO student_transfers (event_id, student_id, from_school_code, to_school_code,
                               effective_on, school_year, vendor_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[],
                     $7::text[])
ON CONFLICT (event_id) DO NOTHING
"""
_ADD_VENDOR = "INSERT INTO vendors (vendor_id, name) VALUES ($1, $2)"
_SET_ACTIVE = "UPDATE vendors SET active = $2 WHERE vendor_id = $1"
_ISSUE_TOKEN = """
INSERT INTO vendor_tokens (token_id, vendor_id, token_sha256) VALUES ($1, $2, $3)
"""
_REVOKE_TOKEN = """
UPDATE vendor_tokens SET revoked_at = coalesce(revoked_at, now())
WHERE vendor_id = $1 AND token_id = $2
"""
_ASSIGN = """
INSERT INTO vendor_schools (vendor_id, school_code, valid_from, valid_to)
VALUES ($1, $2, $3, $4)
ON CONFLICT (vendor_id, school_code, valid_from) DO UPDATE SET valid_to = EXCLUDED.valid_to
"""
_UNASSIGN_LATER = """
DELETE FROM vendor_schools WHERE vendor_id = $1 AND school_code = $2 AND valid_from >= $3
"""
_UNASSIGN_CURRENT = """
UPDATE vendor_schools SET valid_to = $3::date - 1
WHERE vendor_id = $1 AND school_code = $2 AND valid_from < $3
  AND (valid_to IS NULL OR valid_to >= $3)
"""
_LIST_VENDORS = "SELECT vendor_id, name, active, created_at FROM vendors ORDER BY vendor_id"
_LIST_TOKENS = """
SELECT vendor_id, token_id, created_at, revoked_at FROM vendor_tokens ORDER BY created_at
"""
_LIST_SCHOOLS = """
SELECT vendor_id, school_code, valid_from, valid_to FROM vendor_schools
ORDER BY school_code, valid_from
"""


def translate_error(exc: BaseException, operation: str) -> StoreError:
    """The store error for a driver error: transient ones become StoreUnavailableError."""
    if isinstance(exc, asyncpg.PostgresError):
        state = str(exc.sqlstate or "")
        if state == _UNIQUE_VIOLATION:
            return VendorExistsError(f"{operation}: already exists ({exc.sqlstate})")
        if state == _FOREIGN_KEY_VIOLATION:
            return VendorNotFoundError(f"{operation}: no such vendor ({exc.sqlstate})")
        if state == _CHECK_VIOLATION or state.startswith("22"):
            return InvalidRequestError(f"{operation}: invalid value ({exc.sqlstate}: {exc})")
        if state[:2] in _TRANSIENT_CLASSES:
            return StoreUnavailableError(f"{operation}: database unavailable ({exc.sqlstate})")
        return StoreError(f"{operation}: {exc.sqlstate} {type(exc).__name__}")
    # Connection refused/reset, timeouts, a closed pool or connection.
    return StoreUnavailableError(f"{operation}: database unavailable ({type(exc).__name__})")


_DRIVER_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class PostgresVendorStore:
    """Vendor store on an asyncpg pool (built by the service's ``bootstrap``)."""

    def __init__(self, pool: asyncpg.Pool, metrics: ServiceMetrics | None = None) -> None:
        self._pool = pool
        self._metrics = metrics

    @contextlib.asynccontextmanager
    async def _operation(self, name: str) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            yield
        except _DRIVER_ERRORS as exc:
            raise translate_error(exc, name) from exc
        finally:
            if self._metrics is not None:
                self._metrics.db_seconds.labels(self._metrics.service, name).observe(
                    time.perf_counter() - started
                )

    async def _fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._operation(name):
            return list(await self._pool.fetch(sql, *args))

    async def _execute(self, name: str, sql: str, *args: Any) -> str:
        async with self._operation(name):
            return str(await self._pool.execute(sql, *args))

    # -- hot path --
    async def token_vendor(self, token_sha256: bytes) -> str | None:
        rows = await self._fetch("token_vendor", _TOKEN_VENDOR, token_sha256)
        return str(rows[0]["vendor_id"]) if rows else None

    async def vendor_entries(self, vendor_ids: Collection[str]) -> dict[str, VendorEntry]:
        if not vendor_ids:
            return {}
        rows = await self._fetch("vendor_entries", _VENDOR_ENTRIES, list(vendor_ids))
        active: dict[str, bool] = {}
        assignments: dict[str, list[Assignment]] = {}
        for row in rows:
            vendor_id = str(row["vendor_id"])
            active[vendor_id] = bool(row["active"])
            assigned = assignments.setdefault(vendor_id, [])
            if row["school_code"] is not None:
                assigned.append(
                    Assignment(vendor_id, row["school_code"], row["valid_from"], row["valid_to"])
                )
        return {v: VendorEntry.of(v, active[v], assignments[v]) for v in active}

    async def known_events(self, event_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        if not event_ids:
            return {}
        rows = await self._fetch("known_events", _KNOWN_EVENTS, list(event_ids))
        return {row["event_id"]: bytes(row["content_sha256"]) for row in rows}

    async def record_events(self, events: Sequence[IngestedEvent]) -> int:
        if not events:
            return 0
        status = await self._execute(
            "record_events",
            _RECORD_EVENTS,
            [e.event_id for e in events],
            [e.vendor_id for e in events],
            [e.content_sha256 for e in events],
        )
        return _affected(status)

    async def student_transfers(
        self, student_ids: Collection[str]
    ) -> dict[str, tuple[Transfer, ...]]:
        if not student_ids:
            return {}
        rows = await self._fetch("student_transfers", _STUDENT_TRANSFERS, list(student_ids))
        found: dict[str, list[Transfer]] = {}
        for row in rows:
            found.setdefault(row["student_id"], []).append(
                Transfer(
                    event_id=str(row["event_id"]),
                    student_id=row["student_id"],
                    from_school=row["from_school_code"],
                    to_school=row["to_school_code"],
                    effective_on=row["effective_on"],
                    school_year=row["school_year"],
                    vendor_id=row["vendor_id"],
                )
            )
        return {student: tuple(items) for student, items in found.items()}

    async def record_transfers(self, transfers: Sequence[Transfer]) -> int:
        if not transfers:
            return 0
        status = await self._execute(
            "record_transfers",
            _RECORD_TRANSFERS,
            [uuid.UUID(t.event_id) for t in transfers],
            [t.student_id for t in transfers],
            [t.from_school for t in transfers],
            [t.to_school for t in transfers],
            [t.effective_on for t in transfers],
            [t.school_year for t in transfers],
            [t.vendor_id for t in transfers],
        )
        return _affected(status)

    async def ping(self) -> bool:
        try:
            async with self._operation("ping"):
                return bool(await self._pool.fetchval("SELECT true", timeout=2))
        except StoreError:
            return False

    # -- operator commands --
    async def add_vendor(self, vendor_id: str, name: str) -> None:
        check_vendor_id(vendor_id)
        if not name.strip():
            raise InvalidRequestError("a vendor needs a name")
        await self._execute("add_vendor", _ADD_VENDOR, vendor_id, name.strip())

    async def set_active(self, vendor_id: str, active: bool) -> None:
        if _affected(await self._execute("set_active", _SET_ACTIVE, vendor_id, active)) == 0:
            raise VendorNotFoundError(f"no vendor {vendor_id!r}")

    async def issue_token(self, vendor_id: str) -> IssuedToken:
        token = new_token()
        token_id = uuid.uuid4()
        await self._execute("issue_token", _ISSUE_TOKEN, token_id, vendor_id, token_sha256(token))
        return IssuedToken(token_id, vendor_id, token)

    async def revoke_token(self, vendor_id: str, token_id: uuid.UUID) -> None:
        status = await self._execute("revoke_token", _REVOKE_TOKEN, vendor_id, token_id)
        if _affected(status) == 0:
            raise VendorNotFoundError(f"vendor {vendor_id!r} has no token {token_id}")

    async def assign(
        self, vendor_id: str, school_code: str, valid_from: dt.date, valid_to: dt.date | None
    ) -> None:
        check_assignment(school_code, valid_from, valid_to)
        await self._execute("assign", _ASSIGN, vendor_id, school_code, valid_from, valid_to)

    async def unassign(self, vendor_id: str, school_code: str, effective: dt.date) -> int:
        async with (
            self._operation("unassign"),
            self._pool.acquire() as connection,
            connection.transaction(),
        ):
            deleted = await connection.execute(_UNASSIGN_LATER, vendor_id, school_code, effective)
            ended = await connection.execute(_UNASSIGN_CURRENT, vendor_id, school_code, effective)
        return _affected(str(deleted)) + _affected(str(ended))

    async def list_vendors(self) -> list[VendorSummary]:
        vendors = await self._fetch("list_vendors", _LIST_VENDORS)
        tokens: dict[str, list[TokenInfo]] = {}
        for row in await self._fetch("list_tokens", _LIST_TOKENS):
            tokens.setdefault(row["vendor_id"], []).append(
                TokenInfo(row["token_id"], row["created_at"], row["revoked_at"])
            )
        schools: dict[str, list[Assignment]] = {}
        for row in await self._fetch("list_schools", _LIST_SCHOOLS):
            schools.setdefault(row["vendor_id"], []).append(
                Assignment(row["vendor_id"], row["school_code"], row["valid_from"], row["valid_to"])
            )
        return [
            VendorSummary(
                vendor_id=row["vendor_id"],
                name=row["name"],
                active=row["active"],
                created_at=row["created_at"],
                tokens=tuple(tokens.get(row["vendor_id"], ())),
                assignments=tuple(schools.get(row["vendor_id"], ())),
            )
            for row in vendors
        ]


def _affected(status: str) -> int:
    """Rows touched, from a command tag such as ``UPDATE 3`` or ``INSERT 0 5``."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0
