"""PostgreSQL adapter of the record store: every SQL statement of the storage service.

Tables (migrations ``0002_records.sql``, ``0003_signed_records.sql``): ``records``
(student ↔ record id), ``lookup_codes`` (code → page), ``record_versions`` (append-only,
with the signed PDF), ``current_versions`` (page → version in force) and
``record_audit``. One Kafka batch is one database transaction:

1. lock the ``records`` rows of the batch's students and record ids in a fixed order, so
   two replicas (a zombie during a rebalance) never interleave on one student;
2. read the lookup codes, the pages' current versions and the versions already stored
   under the batch's ``(record_id, school_year, version)`` keys;
3. decide each candidate in Python (:func:`~services.storage.versions.decide_versions`);
4. insert the new records and lookup codes, COPY the new versions and the audit rows,
   move the current pointers (unnest upsert, never backwards).

A record or code another replica inserted between steps 1 and 4 makes the transaction
fail with a retriable error; the retry reads the winner's rows and decides again.
Driver errors never leave this module untranslated (:mod:`services.storage.errors`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import asyncpg

from services.messaging.metrics import ServiceMetrics
from services.storage.errors import StorageUnavailableError, translate_db_error
from services.storage.record_ids import CodeKind, RecordCode
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

__all__ = ["AuditEntry", "ContentStatus", "PgRecordStore", "ReadAudit", "RecordStore", "SignedPdf"]

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
_CURRENT_OF_RECORD = f"""
SELECT {_VERSION_COLUMNS}
FROM current_versions c
JOIN record_versions v USING (record_id, school_year, version)
WHERE c.record_id = $1
ORDER BY v.school_year
"""
_CURRENT_OF_CODE = f"""
SELECT {_VERSION_COLUMNS}
FROM lookup_codes l
JOIN current_versions c USING (record_id, school_year)
JOIN record_versions v
  ON (v.record_id, v.school_year, v.version) = (c.record_id, c.school_year, c.version)
WHERE l.lookup_code = $1
"""
# The PDF of one page: the version asked for ($3), else the current one; for a record id
# without a school year ($2), the latest school year.
_PDF_OF_RECORD = f"""
SELECT {_VERSION_COLUMNS}, v.pdf
FROM current_versions c
JOIN record_versions v
  ON (v.record_id, v.school_year) = (c.record_id, c.school_year)
 AND v.version = coalesce($3::int, c.version)
WHERE c.record_id = $1 AND ($2::text IS NULL OR c.school_year = $2::text)
ORDER BY c.school_year DESC
LIMIT 1
"""
_PDF_OF_CODE = f"""
SELECT {_VERSION_COLUMNS}, v.pdf
FROM lookup_codes l
JOIN current_versions c USING (record_id, school_year)
JOIN record_versions v
  ON (v.record_id, v.school_year) = (c.record_id, c.school_year)
 AND v.version = coalesce($2::int, c.version)
WHERE l.lookup_code = $1
"""
_ALL_VERSIONS = f"""
SELECT {_VERSION_COLUMNS}
FROM record_versions v
WHERE v.record_id = $1
ORDER BY v.school_year, v.version
"""
#: What the platform says of a record content (its page's current version or not).
ContentStatus = Literal["current", "superseded", "unknown"]

_RECORD_ID_OF = "SELECT record_id FROM records WHERE student_id = $1"
# Versions holding this record content, and whether each is its page's current one.
_CONTENT_STATUS = """
SELECT v.record_id, v.school_year, v.version, c.version = v.version AS is_current
FROM record_versions v
JOIN current_versions c USING (record_id, school_year)
WHERE v.content_sha256 = $1
ORDER BY v.version
"""
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
WHERE action IN ('READ', 'READ_NOT_FOUND', 'READ_REFUSED') AND detail->>'code' = $1
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


@dataclass(frozen=True, slots=True)
class SignedPdf:
    """A version's signed PDF and its metadata."""

    version: StoredVersion
    pdf: bytes


class RecordStore(Protocol):
    """The port the handler and the HTTP API use; :class:`PgRecordStore` is the adapter.

    The reads take the code as the reader gave it (None: not a code at all) and write
    the audit row in the same transaction as the read: no audit, no answer.
    """

    async def store_batch(self, deliveries: Sequence[Delivery]) -> list[StoreResult]:
        """Store a batch in one transaction; one result per delivery, in input order."""
        ...

    async def read_current(self, code: RecordCode | None, audit: ReadAudit) -> list[StoredVersion]:
        """The current version of each page the code names (empty: not found)."""
        ...

    async def read_pdf(
        self,
        code: RecordCode | None,
        audit: ReadAudit,
        *,
        school_year: str | None = None,
        version: int | None = None,
    ) -> SignedPdf | None:
        """One page's signed PDF: ``version`` or the current one (None: not found)."""
        ...

    async def ping(self) -> bool: ...


def _signatures(text: str | None) -> tuple[Signature, ...]:
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
        signatures=_signatures(row["signatures"]),
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
        await conn.copy_records_to_table(
            "record_audit", records=audit_rows, columns=_AUDIT_COPY_COLUMNS
        )
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
        return (
            self.actor,
            c.vendor_id,
            decision.outcome.value,
            c.record_id,
            c.school_year,
            c.version,
            json.dumps(detail, ensure_ascii=False),
        )

    # -- reads (audited) -----------------------------------------------------------------

    async def read_current(self, code: RecordCode | None, audit: ReadAudit) -> list[StoredVersion]:
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = []
                if code is not None:
                    query = (
                        _CURRENT_OF_RECORD if code.kind is CodeKind.RECORD_ID else _CURRENT_OF_CODE
                    )
                    rows = await conn.fetch(query, code.value)
                versions = [_stored_version(row) for row in rows]
                page = versions[0] if len(versions) == 1 else None
                await self._audit_read(conn, audit, versions, page)
                return versions
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "read_current") from exc
        finally:
            self._observe("read_current", started)

    async def read_pdf(
        self,
        code: RecordCode | None,
        audit: ReadAudit,
        *,
        school_year: str | None = None,
        version: int | None = None,
    ) -> SignedPdf | None:
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                row = None
                if code is not None and code.kind is CodeKind.RECORD_ID:
                    row = await conn.fetchrow(_PDF_OF_RECORD, code.value, school_year, version)
                elif code is not None:
                    row = await conn.fetchrow(_PDF_OF_CODE, code.value, version)
                found = None
                # A version stored before signing has no PDF; a lookup code names one
                # school year, which must be the one asked for, if any.
                if row is not None and row["pdf"] is not None:
                    page = _stored_version(row)
                    if school_year in (None, page.school_year):
                        found = SignedPdf(page, bytes(row["pdf"]))
                page_read = None if found is None else found.version
                versions = [] if page_read is None else [page_read]
                await self._audit_read(conn, audit, versions, page_read)
                return found
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "read_pdf") from exc
        finally:
            self._observe("read_pdf", started)

    async def _audit_read(
        self,
        conn: asyncpg.Connection,
        audit: ReadAudit,
        versions: Sequence[StoredVersion],
        page: StoredVersion | None,
    ) -> None:
        detail = {
            **audit.detail,
            "versions": [{"school_year": v.school_year, "version": v.version} for v in versions],
        }
        await conn.execute(
            _INSERT_AUDIT,
            audit.actor,
            None,
            "READ" if versions else "READ_NOT_FOUND",
            versions[0].record_id if versions else None,
            None if page is None else page.school_year,
            None if page is None else page.version,
            json.dumps(detail, ensure_ascii=False),
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

    async def content_status(self, content_sha256: bytes, audit: ReadAudit) -> ContentStatus:
        """Whether a record content is its page's current version: ``current``,
        ``superseded`` (a later version replaced it) or ``unknown`` (never stored here).

        The content hash is the SHA-256 of the record's canonical JSON, the file embedded in
        every signed PDF. Audited like every other read of a record.
        """
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(_CONTENT_STATUS, content_sha256)
                status: ContentStatus = "unknown"
                if rows:
                    current = any(r["is_current"] for r in rows)
                    status = "current" if current else "superseded"
                first = rows[0] if rows else None
                detail = {**audit.detail, "content_sha256": content_sha256.hex(), "status": status}
                await conn.execute(
                    _INSERT_AUDIT,
                    audit.actor,
                    None,
                    "READ" if rows else "READ_NOT_FOUND",
                    first["record_id"] if first else None,
                    first["school_year"] if first else None,
                    None,
                    json.dumps(detail, ensure_ascii=False),
                )
                return status
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "content_status") from exc
        finally:
            self._observe("content_status", started)

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
        """Every audited read that asked for ``code`` (found, not found or refused), oldest
        first."""
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
