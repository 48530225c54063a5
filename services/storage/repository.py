"""PostgreSQL adapter of the record store: the batch write of signed versions.

Tables (migrations ``0002_records.sql``, ``0003_signed_records.sql``): ``records``
(student ↔ record id), ``lookup_codes`` (code → page), ``record_versions`` (append-only,
with the signed PDF), ``current_versions`` (page → version in force) and
``record_audit`` (written through :mod:`services.storage.audit`). One Kafka batch is one
database transaction:

1. lock the ``records`` rows of the batch's students and record ids in a fixed order, so
   two replicas (a zombie during a rebalance) never interleave on one student;
2. read the lookup codes, the pages' current versions and the versions already stored
   under the batch's ``(record_id, school_year, version)`` keys;
3. decide each candidate in Python (:func:`~services.storage.versions.decide_versions`);
4. insert the new records and lookup codes, COPY the new versions, write the audit rows,
   move the current pointers (unnest upsert, never backwards).

A record or code another replica inserted between steps 1 and 4 makes the transaction
fail with a retriable error; the retry reads the winner's rows and decides again.
Driver errors never leave this module untranslated (:mod:`services.storage.errors`).

Besides the port (:class:`RecordStore`: the batch write and a ping), a few unaudited reads
for operators and tests (``all_versions``, ``audit_trail``, ``record_id_of``). The public's
reads are :mod:`services.storage.lookup_store`'s, verification's
:mod:`services.storage.standing`'s, the schools' :mod:`services.storage.school_api`'s.
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
from services.storage.audit import audit_row, insert_audit_rows
from services.storage.errors import StorageUnavailableError, translate_db_error
from services.storage.versions import (
    Delivery,
    KnownState,
    Outcome,
    PageKey,
    Signature,
    StoredVersion,
    StoreResult,
    VersionCandidate,
    VersionDecision,
    VersionKey,
    decide_versions,
)

__all__ = ["AuditEntry", "PgRecordStore", "RecordStore", "signatures_from_column"]

_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

_LOCK_RECORDS = """
SELECT record_id, student_id FROM records
WHERE record_id = ANY($1::text[]) OR student_id = ANY($2::text[])
ORDER BY record_id
FOR NO KEY UPDATE
"""
_INSERT_RECORDS = """
INSERT INTO records (record_id, student_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING
RETURNING record_id
"""
_LOOKUP_CODES = """
SELECT lookup_code, record_id, school_year FROM lookup_codes WHERE lookup_code = ANY($1::text[])
"""
_INSERT_LOOKUP_CODES = """
INSERT INTO lookup_codes (lookup_code, record_id, school_year)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT DO NOTHING
RETURNING lookup_code
"""
_CURRENT = """
SELECT c.record_id, c.school_year, c.version
FROM current_versions c
JOIN unnest($1::text[], $2::text[]) AS k (record_id, school_year) USING (record_id, school_year)
"""
# Never the PDF bytes: its size is read from the TOAST header without fetching them.
_VERSION_COLUMNS = """
v.record_id, v.school_year, v.version, v.record_key, v.school_code, v.student_id,
v.national_id, v.grade, v.year_result, v.supersedes_version, v.stored_at, v.content_sha256,
v.status, v.lookup_code, v.pdf_sha256, octet_length(v.pdf) AS pdf_size_bytes, v.effective_at,
v.signatures::text AS signatures, v.correction_reason
"""
_KNOWN = f"""
SELECT {_VERSION_COLUMNS}
FROM record_versions v
JOIN unnest($1::text[], $2::text[], $3::int[]) AS k (record_id, school_year, version)
  USING (record_id, school_year, version)
"""
_MOVE_CURRENT = """
INSERT INTO current_versions (record_id, school_year, version, updated_at)
SELECT k.record_id, k.school_year, k.version, $4
FROM unnest($1::text[], $2::text[], $3::int[]) AS k (record_id, school_year, version)
ON CONFLICT (record_id, school_year) DO UPDATE
SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE current_versions.version < EXCLUDED.version
"""
_ALL_VERSIONS = f"""
SELECT {_VERSION_COLUMNS}
FROM record_versions v
WHERE v.record_id = $1
ORDER BY v.school_year, v.version
"""
_RECORD_ID_OF = "SELECT record_id FROM records WHERE student_id = $1"
_AUDIT_COLUMNS = """
audit_id, at, actor, vendor_id, action, record_id, school_year, version, detail::text
"""
_AUDIT_TRAIL = f"SELECT {_AUDIT_COLUMNS} FROM record_audit WHERE record_id = $1 ORDER BY audit_id"
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
    "content_sha256",
    "record",
    "status",
    "supersedes_version",
    "lookup_code",
    "pdf",
    "pdf_sha256",
    "effective_at",
    "signatures",
    "correction_reason",
    "stored_at",
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


class RecordStore(Protocol):
    """The port the batch handler uses; :class:`PgRecordStore` is the adapter.

    Reads of records by the public go through :mod:`services.storage.lookup_store`,
    verification through :mod:`services.storage.standing`.
    """

    async def store_batch(self, deliveries: Sequence[Delivery]) -> list[StoreResult]:
        """Store a batch in one transaction; one result per delivery, in input order."""
        ...

    async def ping(self) -> bool: ...


def signatures_from_column(text: str | None) -> tuple[Signature, ...]:
    """The ``record_versions.signatures`` column (JSON, as :func:`_signatures_json` writes
    it) read back."""
    if text is None:
        return ()
    return tuple(
        Signature(
            role=s["role"],
            signer_name=s["signer_name"],
            certificate_sha256=s["certificate_sha256"],
            signed_at=dt.datetime.fromisoformat(s["signed_at"]),
        )
        for s in json.loads(text)
    )


def _signatures_json(signatures: Sequence[Signature]) -> str:
    return json.dumps(
        [
            {
                "role": s.role,
                "signer_name": s.signer_name,
                "certificate_sha256": s.certificate_sha256,
                "signed_at": s.signed_at.isoformat(),
            }
            for s in signatures
        ],
        ensure_ascii=False,
    )


def _stored_version(row: Mapping[str, Any]) -> StoredVersion:
    pdf_sha256 = row["pdf_sha256"]
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
        pdf_sha256=None if pdf_sha256 is None else bytes(pdf_sha256),
        pdf_size_bytes=row["pdf_size_bytes"],
        effective_at=row["effective_at"],
        signatures=signatures_from_column(row["signatures"]),
        correction_reason=row["correction_reason"],
    )


def _version_row(c: VersionCandidate, stored_at: dt.datetime) -> tuple[Any, ...]:
    return (
        c.record_id,
        c.school_year,
        c.version,
        c.record_key,
        c.school_code,
        c.student_id,
        c.national_id,
        c.grade,
        c.vendor_id,
        c.year_result,
        c.rule_set_version,
        c.content_sha256,
        c.record_json,
        "SIGNED",
        c.supersedes_version,
        c.lookup_code,
        c.pdf,
        c.pdf_sha256,
        c.effective_at,
        _signatures_json(c.signatures),
        c.correction_reason,
        stored_at,
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
        candidates = [d.candidate for d in deliveries]
        known, stored = await self._known(conn, candidates)
        decisions = decide_versions(candidates, known)
        await self._insert_mappings(conn, candidates, decisions)

        new_rows: list[tuple[Any, ...]] = []
        audit_rows: list[tuple[Any, ...]] = []
        moved: dict[PageKey, int] = {}
        results: list[StoreResult] = []
        for delivery, decision in zip(deliveries, decisions, strict=True):
            c = delivery.candidate
            if decision.outcome.writes_version:
                stored[c.key] = c.stored(now)
                new_rows.append(_version_row(c, now))
            if decision.outcome in (Outcome.STORED, Outcome.SUPERSEDED):
                moved[c.page] = max(moved.get(c.page, 0), c.version)
            audit_rows.append(self._audit_row(delivery, decision))
            result_version = (
                None if decision.outcome is Outcome.RECORD_ID_CONFLICT else stored.get(c.key)
            )
            results.append(StoreResult(decision.outcome, result_version, decision.reason))
        if new_rows:
            await conn.copy_records_to_table(
                "record_versions", records=new_rows, columns=_VERSION_COPY_COLUMNS
            )
        if moved:
            await conn.execute(
                _MOVE_CURRENT,
                [page[0] for page in moved],
                [page[1] for page in moved],
                list(moved.values()),
                now,
            )
        await insert_audit_rows(conn, audit_rows)
        return results

    async def _known(
        self, conn: asyncpg.Connection, candidates: Sequence[VersionCandidate]
    ) -> tuple[KnownState, dict[VersionKey, StoredVersion]]:
        """What the database holds about the batch; the students' rows stay locked."""
        mapping = await conn.fetch(
            _LOCK_RECORDS,
            sorted({c.record_id for c in candidates}),
            sorted({c.student_id for c in candidates}),
        )
        codes = await conn.fetch(_LOOKUP_CODES, sorted({c.lookup_code for c in candidates}))
        pages = sorted({c.page for c in candidates})
        current = await conn.fetch(_CURRENT, [p[0] for p in pages], [p[1] for p in pages])
        keys = sorted({c.key for c in candidates})
        rows = await conn.fetch(
            _KNOWN, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
        )
        stored = {v.key: v for v in (_stored_version(r) for r in rows)}
        known = KnownState(
            record_of_student={r["student_id"]: r["record_id"] for r in mapping},
            student_of_record={r["record_id"]: r["student_id"] for r in mapping},
            page_of_code={r["lookup_code"]: (r["record_id"], r["school_year"]) for r in codes},
            current={(r["record_id"], r["school_year"]): int(r["version"]) for r in current},
            fingerprints={k: (v.content_sha256, v.pdf_sha256) for k, v in stored.items()},
        )
        return known, stored

    async def _insert_mappings(
        self,
        conn: asyncpg.Connection,
        candidates: Sequence[VersionCandidate],
        decisions: Sequence[VersionDecision],
    ) -> None:
        """Insert first-seen students and lookup codes; a lost race fails the transaction.

        ``ON CONFLICT DO NOTHING`` waits for a concurrent inserter of the same key to
        finish; a row not inserted was therefore committed by another replica after
        this transaction read the mapping, and only a retry can decide against it.
        """
        records: dict[str, str] = {}
        codes: dict[str, PageKey] = {}
        for c, decision in zip(candidates, decisions, strict=True):
            if decision.new_record:
                records[c.record_id] = c.student_id
            if decision.new_lookup_code:
                codes[c.lookup_code] = c.page
        if records:
            ids = sorted(records)
            inserted = await conn.fetch(_INSERT_RECORDS, ids, [records[i] for i in ids])
            if len(inserted) != len(ids):
                raise StorageUnavailableError("a record id was created concurrently; retry")
        if codes:
            names = sorted(codes)
            inserted = await conn.fetch(
                _INSERT_LOOKUP_CODES,
                names,
                [codes[n][0] for n in names],
                [codes[n][1] for n in names],
            )
            if len(inserted) != len(names):
                raise StorageUnavailableError("a lookup code was created concurrently; retry")

    def _audit_row(self, delivery: Delivery, decision: VersionDecision) -> tuple[Any, ...]:
        c = delivery.candidate
        detail: dict[str, Any] = {
            "topic": delivery.topic,
            "partition": delivery.partition,
            "offset": delivery.offset,
            "record_key": c.record_key,
            "lookup_code": c.lookup_code,
            "content_sha256": c.content_sha256.hex(),
            "pdf_sha256": c.pdf_sha256.hex(),
            "rule_set_version": c.rule_set_version,
            "supersedes_version": c.supersedes_version,
        }
        if c.correction_reason is not None:
            detail["correction_reason"] = c.correction_reason
        code = decision.outcome.refusal_code
        if code is not None:
            detail.update(code=code, student_id=c.student_id, reason=decision.reason)
        return audit_row(
            self.actor,
            decision.outcome.value,
            vendor_id=c.vendor_id,
            record_id=c.record_id,
            school_year=c.school_year,
            version=c.version,
            detail=detail,
        )

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
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_AUDIT_TRAIL, record_id)
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
