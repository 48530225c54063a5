"""PostgreSQL adapter of the record store: every SQL statement of the storage service.

Tables (migration ``0002_records.sql``): ``records`` (student → stable record id),
``record_versions`` (append-only), ``current_versions`` (page → version in force) and
``record_audit``. One Kafka batch is one database transaction:

1. assign record ids to new students (``ON CONFLICT DO NOTHING``, then read back) and
   lock every student's ``records`` row in a fixed order, so two replicas (a zombie
   during a rebalance) never interleave on one student;
2. read the pages' current versions and which of the incoming contents are stored;
3. decide versions in Python (:func:`~services.storage.versions.decide_versions`);
4. COPY the new versions and the audit rows, move the current pointers (unnest upsert).

Driver errors never leave this module untranslated (:mod:`services.storage.errors`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import asyncpg

from services.messaging.metrics import ServiceMetrics
from services.storage.errors import StorageUnavailableError, translate_db_error
from services.storage.record_ids import new_record_id
from services.storage.versions import (
    Delivery,
    Outcome,
    PageKey,
    StoredVersion,
    StoreResult,
    decide_versions,
)

__all__ = ["AuditEntry", "PgRecordStore", "ReadAudit", "RecordStore"]

_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_ID_ATTEMPTS: Final = 3

_LOCK_RECORDS = """
SELECT student_id, record_id FROM records
WHERE student_id = ANY($1::text[])
ORDER BY student_id
FOR NO KEY UPDATE
"""
_INSERT_RECORDS = """
INSERT INTO records (record_id, student_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING
RETURNING student_id, record_id
"""
_CURRENT = """
SELECT c.record_id, c.school_year, c.version
FROM current_versions c
JOIN unnest($1::text[], $2::text[]) AS k (record_id, school_year) USING (record_id, school_year)
"""
_VERSION_COLUMNS = """
v.record_id, v.school_year, v.version, v.record_key, v.school_code, v.student_id,
v.national_id, v.grade, v.year_result, v.supersedes_version, v.stored_at, v.content_sha256,
v.status, v.lookup_code
"""
_KNOWN = f"""
SELECT {_VERSION_COLUMNS}
FROM record_versions v
JOIN unnest($1::text[], $2::text[], $3::bytea[]) AS k (record_id, school_year, content_sha256)
  USING (record_id, school_year, content_sha256)
"""
_MOVE_CURRENT = """
INSERT INTO current_versions (record_id, school_year, version, updated_at)
SELECT k.record_id, k.school_year, k.version, $4
FROM unnest($1::text[], $2::text[], $3::int[]) AS k (record_id, school_year, version)
ON CONFLICT (record_id, school_year) DO UPDATE
SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE current_versions.version < EXCLUDED.version
"""
_READ_CURRENT = f"""
SELECT {_VERSION_COLUMNS}
FROM current_versions c
JOIN record_versions v USING (record_id, school_year, version)
WHERE c.record_id = $1
ORDER BY v.school_year
"""
_ALL_VERSIONS = f"""
SELECT {_VERSION_COLUMNS}
FROM record_versions v
WHERE v.record_id = $1
ORDER BY v.school_year, v.version
"""
_RECORD_ID_OF = "SELECT record_id FROM records WHERE student_id = $1"
_INSERT_AUDIT = """
INSERT INTO record_audit (actor, vendor_id, action, record_id, school_year, version, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
"""
_AUDIT_COLUMNS = """
audit_id, at, actor, vendor_id, action, record_id, school_year, version, detail::text
"""
_AUDIT_TRAIL = f"SELECT {_AUDIT_COLUMNS} FROM record_audit WHERE record_id = $1 ORDER BY audit_id"
_AUDIT_OF_CODE = f"""
SELECT {_AUDIT_COLUMNS} FROM record_audit
WHERE action IN ('READ', 'READ_NOT_FOUND') AND detail->>'code' = $1
ORDER BY audit_id
"""
_VERSION_COPY_COLUMNS: Final = (
    "record_id",
    "school_year",
    "version",
    "record_key",
    "school_code",
    "student_id",
    "national_id",
    "grade",
    "vendor_id",
    "year_result",
    "rule_set_version",
    "validated_at",
    "content_sha256",
    "record",
    "status",
    "supersedes_version",
    "stored_at",
)
_AUDIT_COPY_COLUMNS: Final = (
    "actor",
    "vendor_id",
    "action",
    "record_id",
    "school_year",
    "version",
    "detail",
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit trail (nhật ký truy cập và thay đổi)."""

    audit_id: int
    at: dt.datetime
    actor: str
    vendor_id: str | None
    action: str
    record_id: str | None
    school_year: str | None
    version: int | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReadAudit:
    """Who reads, for the audit row every read writes."""

    actor: str
    detail: Mapping[str, Any]


class RecordStore(Protocol):
    """The port the handler and the HTTP API use; :class:`PgRecordStore` is the adapter."""

    async def store_batch(self, deliveries: Sequence[Delivery]) -> list[StoreResult]: ...

    async def read_current(self, record_id: str | None, audit: ReadAudit) -> list[StoredVersion]:
        """The current version of each school year (empty: not found); audited either way."""
        ...

    async def ping(self) -> bool: ...


def _stored_version(row: Mapping[str, Any]) -> StoredVersion:
    return StoredVersion(
        record_id=row["record_id"],
        school_year=row["school_year"],
        version=row["version"],
        record_key=row["record_key"],
        school_code=row["school_code"],
        student_id=row["student_id"],
        national_id=row["national_id"],
        grade=row["grade"],
        year_result=row["year_result"],
        supersedes_version=row["supersedes_version"],
        stored_at=row["stored_at"],
        content_sha256=bytes(row["content_sha256"]),
        status=row["status"],
        lookup_code=row["lookup_code"],
    )


class PgRecordStore:
    """The record store on an asyncpg pool (built in ``bootstrap``, closed by the app)."""

    def __init__(self, pool: asyncpg.Pool, metrics: ServiceMetrics, *, actor: str) -> None:
        self._pool = pool
        self._metrics = metrics
        #: Who writes: the service (and, per row, the vendor behind the data).
        self.actor = actor

    def _observe(self, operation: str, started: float) -> None:
        self._metrics.db_seconds.labels(self._metrics.service, operation).observe(
            time.perf_counter() - started
        )

    async def store_batch(self, deliveries: Sequence[Delivery]) -> list[StoreResult]:
        """Store a batch in one transaction; results in input order."""
        if not deliveries:
            return []
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                return await self._store(conn, deliveries)
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "store_batch") from exc
        finally:
            self._observe("store_batch", started)

    async def _store(
        self, conn: asyncpg.Connection, deliveries: Sequence[Delivery]
    ) -> list[StoreResult]:
        # Milliseconds: stored_at travels as Avro timestamp-millis and must equal the row.
        now: dt.datetime = await conn.fetchval("SELECT date_trunc('milliseconds', now())")
        record_ids = await self._lock_records(
            conn, sorted({d.candidate.student_id for d in deliveries})
        )
        pages: list[PageKey] = [
            (record_ids[d.candidate.student_id], d.candidate.school_year) for d in deliveries
        ]
        distinct_pages = sorted(set(pages))
        current = {
            (r["record_id"], r["school_year"]): int(r["version"])
            for r in await conn.fetch(
                _CURRENT, [p[0] for p in distinct_pages], [p[1] for p in distinct_pages]
            )
        }
        contents = sorted(
            {(page, d.candidate.content_sha256) for page, d in zip(pages, deliveries, strict=True)}
        )
        known_rows = await conn.fetch(
            _KNOWN,
            [c[0][0] for c in contents],
            [c[0][1] for c in contents],
            [c[1] for c in contents],
        )
        by_version: dict[tuple[str, str, int], StoredVersion] = {}
        known: dict[tuple[PageKey, bytes], int] = {}
        for row in known_rows:
            stored = _stored_version(row)
            by_version[(stored.record_id, stored.school_year, stored.version)] = stored
            known[((stored.record_id, stored.school_year), stored.content_sha256)] = stored.version
        decisions = decide_versions(
            [(page, d.candidate.content_sha256) for page, d in zip(pages, deliveries, strict=True)],
            current,
            known,
        )
        new_rows: list[tuple[Any, ...]] = []
        audit_rows: list[tuple[Any, ...]] = []
        moved: dict[PageKey, int] = {}
        results: list[StoreResult] = []
        for delivery, decision in zip(deliveries, decisions, strict=True):
            c = delivery.candidate
            key = (decision.record_id, decision.school_year, decision.version)
            if decision.outcome is not Outcome.REDELIVERED:
                by_version[key] = StoredVersion(
                    record_id=decision.record_id,
                    school_year=c.school_year,
                    version=decision.version,
                    record_key=c.record_key,
                    school_code=c.school_code,
                    student_id=c.student_id,
                    national_id=c.national_id,
                    grade=c.grade,
                    year_result=c.year_result,
                    supersedes_version=decision.supersedes_version,
                    stored_at=now,
                    content_sha256=c.content_sha256,
                )
                new_rows.append(
                    (
                        decision.record_id,
                        c.school_year,
                        decision.version,
                        c.record_key,
                        c.school_code,
                        c.student_id,
                        c.national_id,
                        c.grade,
                        c.vendor_id,
                        c.year_result,
                        c.rule_set_version,
                        c.validated_at,
                        c.content_sha256,
                        c.record_json,
                        "VALIDATED",
                        decision.supersedes_version,
                        now,
                    )
                )
                moved[(decision.record_id, c.school_year)] = decision.version
            detail = {
                "topic": delivery.topic,
                "partition": delivery.partition,
                "offset": delivery.offset,
                "record_key": c.record_key,
                "content_sha256": c.content_sha256.hex(),
                "rule_set_version": c.rule_set_version,
                "supersedes_version": decision.supersedes_version,
            }
            audit_rows.append(
                (
                    self.actor,
                    c.vendor_id,
                    decision.outcome.value,
                    decision.record_id,
                    c.school_year,
                    decision.version,
                    json.dumps(detail, ensure_ascii=False),
                )
            )
            results.append(StoreResult(decision.outcome, by_version[key]))
        if new_rows:
            await conn.copy_records_to_table(
                "record_versions", records=new_rows, columns=_VERSION_COPY_COLUMNS
            )
            await conn.execute(
                _MOVE_CURRENT,
                [page[0] for page in moved],
                [page[1] for page in moved],
                list(moved.values()),
                now,
            )
        await conn.copy_records_to_table(
            "record_audit", records=audit_rows, columns=_AUDIT_COPY_COLUMNS
        )
        return results

    async def _lock_records(
        self, conn: asyncpg.Connection, students: Sequence[str]
    ) -> dict[str, str]:
        """Each student's record id, creating missing ones; the rows stay locked."""
        found = {r["student_id"]: r["record_id"] for r in await conn.fetch(_LOCK_RECORDS, students)}
        missing = [s for s in students if s not in found]
        for _ in range(_ID_ATTEMPTS):
            if not missing:
                return found
            # DO NOTHING on either conflict: another replica created the student first
            # (read back below), or an 80-bit random id collided (a fresh one next round).
            # Rows this transaction inserted are its own until it commits: no lock needed.
            inserted = await conn.fetch(
                _INSERT_RECORDS, [new_record_id() for _ in missing], missing
            )
            found.update({r["student_id"]: r["record_id"] for r in inserted})
            raced = [s for s in missing if s not in found]
            if raced:
                locked = await conn.fetch(_LOCK_RECORDS, raced)
                found.update({r["student_id"]: r["record_id"] for r in locked})
            missing = [s for s in missing if s not in found]
        if missing:
            raise StorageUnavailableError(f"no record id could be assigned to {len(missing)}")
        return found

    async def read_current(self, record_id: str | None, audit: ReadAudit) -> list[StoredVersion]:
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = [] if record_id is None else await conn.fetch(_READ_CURRENT, record_id)
                versions = [_stored_version(row) for row in rows]
                detail = {
                    **audit.detail,
                    "versions": [
                        {"school_year": v.school_year, "version": v.version} for v in versions
                    ],
                }
                await conn.execute(
                    _INSERT_AUDIT,
                    audit.actor,
                    None,
                    "READ" if versions else "READ_NOT_FOUND",
                    record_id if versions else None,
                    None,
                    None,
                    json.dumps(detail, ensure_ascii=False),
                )
                return versions
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "read_current") from exc
        finally:
            self._observe("read_current", started)

    async def ping(self) -> bool:
        """True when the database answers a trivial query within 2 s."""
        started = time.perf_counter()
        try:
            async with self._pool.acquire(timeout=2) as conn:
                return bool(await conn.fetchval("SELECT true", timeout=2))
        except _DB_ERRORS:
            return False
        finally:
            self._observe("ping", started)

    # Operator and test reads: not audited (they are not record lookups by the public).

    async def record_id_of(self, student_id: str) -> str | None:
        """The record id of a student (mã định danh học sinh), if stored."""
        found = await self._fetch_value(_RECORD_ID_OF, student_id)
        return None if found is None else str(found)

    async def all_versions(self, record_id: str) -> list[StoredVersion]:
        """Every version of every school year, oldest first."""
        try:
            async with self._pool.acquire() as conn:
                return [_stored_version(r) for r in await conn.fetch(_ALL_VERSIONS, record_id)]
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "all_versions") from exc

    async def audit_trail(self, record_id: str) -> list[AuditEntry]:
        """Every audit row naming the record, oldest first."""
        return await self._audit(_AUDIT_TRAIL, record_id)

    async def reads_of_code(self, code: str) -> list[AuditEntry]:
        """Every audited read that asked for ``code`` (found or not), oldest first."""
        return await self._audit(_AUDIT_OF_CODE, code)

    async def _audit(self, query: str, argument: str) -> list[AuditEntry]:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(query, argument)
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "audit") from exc
        return [
            AuditEntry(
                audit_id=r["audit_id"],
                at=r["at"],
                actor=r["actor"],
                vendor_id=r["vendor_id"],
                action=r["action"],
                record_id=r["record_id"],
                school_year=r["school_year"],
                version=r["version"],
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]

    async def _fetch_value(self, query: str, *args: object) -> Any:
        try:
            async with self._pool.acquire() as conn:
                return await conn.fetchval(query, *args)
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "fetch") from exc
