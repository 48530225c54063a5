"""The database work of a record lookup (:mod:`services.storage.lookup`): PostgreSQL.

One lookup is one transaction, the same statements whether the code exists or not:

1. upsert the code's ``lookup_attempts`` row and hold its lock (concurrent attempts on a
   code, from any replica, are counted one after the other); a locked code stops here;
2. find the record the code names and compare the birth date with the one on the
   record's latest page (identity corrections go forward), in one statement;
3. write the row's next state (:func:`~services.storage.lookup_guard.after_attempt`);
4. read what was asked for (found only): the pages, a PDF, or the access log;
5. write the audit row: READ naming the record, or READ_NOT_FOUND / READ_REFUSED naming
   nothing but the code in ``detail`` (operators see attempts; parents' access logs,
   read by record id, never show them).

A lookup without a second factor (the national database fetching a PDF) skips 1 and 3.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import asyncpg

from services.core.avro_types import CompletionStatus, YearResult
from services.core.classification import completion_statement
from services.core.signing_flow import fully_signed
from services.messaging.metrics import ServiceMetrics
from services.storage.audit import audit_row, insert_audit_rows
from services.storage.errors import translate_db_error
from services.storage.lookup import (
    AccessEntry,
    AccessLog,
    LookupQuery,
    LookupView,
    PageView,
    PdfFound,
    ReadBy,
    Resource,
    SignatureView,
    StoreAnswer,
)
from services.storage.lookup_guard import AttemptState, CodeLimits, after_attempt, code_retry_after
from services.storage.record_ids import CodeKind
from services.storage.repository import signatures_from_column

__all__ = ["ACCESS_LOG_LIMIT", "PgLookupStore", "page_view"]

_log = logging.getLogger("hocba.storage.lookup")
_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
#: Entries an access log shows at most (newest first).
ACCESS_LOG_LIMIT: Final = 200
#: Lookups between two purges of ``lookup_attempts`` rows that no longer hold anything.
_PURGE_EVERY: Final = 1000

_ATTEMPT = """
INSERT INTO lookup_attempts AS a (lookup_code, failures, window_started)
VALUES ($1, 0, now())
ON CONFLICT (lookup_code) DO UPDATE SET failures = a.failures
RETURNING a.failures, a.window_started, a.locked_until, now() AS now
"""
# Both branches run for every code (each one index probe): a lookup code and a record id
# cost the same, found or not. $2 NULL: no second factor.
_IDENTITY = """
WITH named AS (
    SELECT record_id, school_year FROM lookup_codes WHERE lookup_code = $1
    UNION ALL
    SELECT record_id, NULL FROM records WHERE record_id = $1
)
SELECT n.record_id, n.school_year AS named_year,
       ($2::text IS NULL OR coalesce(latest.date_of_birth = $2::text, false)) AS matched
FROM named n
CROSS JOIN LATERAL (
    SELECT v.record->'student'->>'date_of_birth' AS date_of_birth
    FROM current_versions c
    JOIN record_versions v
      ON (v.record_id, v.school_year, v.version) = (c.record_id, c.school_year, c.version)
    WHERE c.record_id = n.record_id
    ORDER BY c.school_year DESC
    LIMIT 1
) AS latest
"""
_SAVE_ATTEMPT = """
UPDATE lookup_attempts SET failures = $2, window_started = $3, locked_until = $4
WHERE lookup_code = $1
"""
_PAGES = """
SELECT v.school_year, v.version, v.grade, v.school_code, v.lookup_code, v.year_result,
       v.record->'school'->>'school_name' AS school_name,
       v.record->'student'->>'full_name' AS student_name,
       v.record->'completion'->>'status' AS completion_status,
       v.effective_at, v.signatures::text AS signatures,
       (SELECT count(*) FROM record_versions o
        WHERE o.record_id = c.record_id AND o.school_year = c.school_year
          AND o.version < c.version) AS superseded_versions
FROM current_versions c
JOIN record_versions v
  ON (v.record_id, v.school_year, v.version) = (c.record_id, c.school_year, c.version)
WHERE c.record_id = $1
ORDER BY c.school_year
"""
# The PDF of one page: the version asked for ($3), else the current one; the page of $2,
# else the latest school year.
_PDF = """
SELECT v.school_year, v.version, v.lookup_code, v.pdf, v.pdf_sha256
FROM current_versions c
JOIN record_versions v
  ON (v.record_id, v.school_year) = (c.record_id, c.school_year)
 AND v.version = coalesce($3::int, c.version)
WHERE c.record_id = $1 AND ($2::text IS NULL OR c.school_year = $2::text)
  AND v.pdf IS NOT NULL
ORDER BY c.school_year DESC
LIMIT 1
"""
_STUDENT_NAME = """
SELECT v.record->'student'->>'full_name'
FROM current_versions c
JOIN record_versions v
  ON (v.record_id, v.school_year, v.version) = (c.record_id, c.school_year, c.version)
WHERE c.record_id = $1
ORDER BY c.school_year DESC
LIMIT 1
"""
# Reads of the record only: never refused or not-found attempts (they name no record).
_ACCESS_LOG = """
SELECT a.at, a.action, a.school_year, a.purpose,
       CASE WHEN a.client_id IS NOT NULL THEN coalesce(k.kind, 'CLIENT') END AS client_kind,
       CASE WHEN a.client_id IS NOT NULL THEN coalesce(k.name, a.client_id) END AS client_name
FROM record_audit a
LEFT JOIN access_clients k ON k.client_id = a.client_id
WHERE a.record_id = $1 AND a.action IN ('READ', 'VERIFIED')
ORDER BY a.at DESC, a.audit_id DESC
LIMIT $2
"""
_PURGE = """
DELETE FROM lookup_attempts
WHERE (locked_until IS NULL OR locked_until < now())
  AND window_started < now() - make_interval(secs => $1)
"""


def _signatures(text: str | None) -> tuple[SignatureView, ...]:
    return tuple(
        SignatureView(role=s.role, signer_name=s.signer_name, signed_at=s.signed_at)
        for s in signatures_from_column(text)
    )


def page_view(row: Mapping[str, Any], named_year: str | None, code: str | None) -> PageView:
    """A page of the lookup's answer from a row of :data:`_PAGES`; ``named_year`` None:
    every page is named (a record id), each with its own lookup code."""
    signatures = _signatures(row["signatures"])
    grade = int(row["grade"])
    result = cast(YearResult | None, row["year_result"])
    status = cast(CompletionStatus | None, row["completion_status"])
    named = named_year is None or row["school_year"] == named_year
    return PageView(
        school_year=row["school_year"],
        grade=grade,
        school_code=row["school_code"],
        school_name=row["school_name"],
        year_result=result,
        # What the page printed (TT27 Art. 11), from the stored result and completion
        # status: storage does not keep the validated statement itself.
        completion_statement=completion_statement(grade, result, status),
        version=int(row["version"]),
        effective_at=row["effective_at"],
        signatures=signatures,
        signed_complete=fully_signed(s.role for s in signatures),
        superseded_versions=int(row["superseded_versions"]),
        is_named_page=named,
        lookup_code=(code if named_year is not None else row["lookup_code"]) if named else None,
    )


def _view(rows: Sequence[Mapping[str, Any]], named_year: str | None, code: str) -> LookupView:
    pages = tuple(page_view(r, named_year, code) for r in rows)
    # The latest page's name: identity corrections go forward.
    return LookupView(student_name=str(rows[-1]["student_name"] or ""), pages=pages)


class PgLookupStore:
    """:class:`~services.storage.lookup.LookupStore` on an asyncpg pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        limits: CodeLimits | None = None,
        *,
        metrics: ServiceMetrics | None = None,
        access_log_limit: int = ACCESS_LOG_LIMIT,
    ) -> None:
        self._pool = pool
        self.limits = limits or CodeLimits()
        self._metrics = metrics
        self._access_log_limit = access_log_limit
        self._reads = 0

    async def read(self, query: LookupQuery, by: ReadBy) -> StoreAnswer:
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                answer = await self._read(conn, query, by)
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, f"lookup_{query.resource}") from exc
        finally:
            self._observe(f"lookup_{query.resource}", started)
        self._reads += 1
        if self._reads % _PURGE_EVERY == 0:
            await self.purge()
        return answer

    async def audit_invalid(self, typed: str, resource: Resource, by: ReadBy) -> None:
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn:
                await self._audit(conn, by, "READ_NOT_FOUND", None, None, None, {})
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "lookup_invalid") from exc
        finally:
            self._observe("lookup_invalid", started)

    async def purge(self) -> int:
        """Delete the rows of ``lookup_attempts`` that hold nothing any more (no lock, the
        failure window over); best effort. Returns how many went."""
        try:
            async with self._pool.acquire() as conn:
                status = await conn.execute(_PURGE, float(self.limits.window_s))
        except _DB_ERRORS as exc:
            _log.warning("purging lookup_attempts failed: %s", exc)
            return 0
        return int(status.rpartition(" ")[2] or 0)

    async def _read(self, conn: asyncpg.Connection, query: LookupQuery, by: ReadBy) -> StoreAnswer:
        code = query.code.value
        factor = query.birth_date
        state: AttemptState | None = None
        now: dt.datetime | None = None
        if factor is not None:
            row = await conn.fetchrow(_ATTEMPT, code)
            now = row["now"]
            state = AttemptState(row["failures"], row["window_started"], row["locked_until"])
            retry_after = code_retry_after(state, now)
            if retry_after is not None:
                await self._audit(conn, by, "READ_REFUSED", None, None, None, {"reason": "locked"})
                return StoreAnswer("locked", retry_after_s=retry_after)
        found = await conn.fetchrow(_IDENTITY, code, None if factor is None else factor.isoformat())
        matched = found is not None and bool(found["matched"])
        locked_now = False
        if state is not None and now is not None:
            after = after_attempt(state, matched, now, self.limits)
            locked_now = after.locked(now)
            if after != state:
                await conn.execute(
                    _SAVE_ATTEMPT, code, after.failures, after.window_started, after.locked_until
                )
        if found is None or not matched:
            # The same statements for an unknown code and a wrong birth date; only the
            # operators' audit tells them apart, and it names no record either way.
            action, reason = (
                ("READ_NOT_FOUND", "unknown_code")
                if found is None
                else ("READ_REFUSED", "birth_date_mismatch")
            )
            await self._audit(conn, by, action, None, None, None, {"reason": reason})
            return StoreAnswer("not_found", locked_now=locked_now)
        record_id: str = found["record_id"]
        named_year: str | None = found["named_year"]
        if query.resource == "record":
            return await self._pages(conn, query, by, record_id, named_year)
        if query.resource == "pdf":
            return await self._pdf(conn, query, by, record_id, named_year)
        return await self._access_log(conn, by, record_id, named_year)

    async def _pages(
        self,
        conn: asyncpg.Connection,
        query: LookupQuery,
        by: ReadBy,
        record_id: str,
        named_year: str | None,
    ) -> StoreAnswer:
        rows = await conn.fetch(_PAGES, record_id)
        view = _view(rows, named_year, query.code.value)
        named = next((p for p in view.pages if p.school_year == named_year), None)
        await self._audit(
            conn,
            by,
            "READ",
            record_id,
            named_year,
            None if named is None else named.version,
            {
                "versions": [
                    {"school_year": p.school_year, "version": p.version} for p in view.pages
                ]
            },
        )
        return StoreAnswer("found", view=view)

    async def _pdf(
        self,
        conn: asyncpg.Connection,
        query: LookupQuery,
        by: ReadBy,
        record_id: str,
        named_year: str | None,
    ) -> StoreAnswer:
        year = named_year if query.code.kind is CodeKind.LOOKUP_CODE else query.school_year
        row = None
        # A lookup code names one school year: it must be the one asked for, if any.
        if query.school_year in (None, year):
            row = await conn.fetchrow(_PDF, record_id, year, query.version)
        if row is None:
            await self._audit(
                conn, by, "READ_NOT_FOUND", None, None, None, {"reason": "no_such_version"}
            )
            return StoreAnswer("not_found")
        school_year, version = row["school_year"], int(row["version"])
        await self._audit(
            conn,
            by,
            "READ",
            record_id,
            school_year,
            version,
            {"versions": [{"school_year": school_year, "version": version}]},
        )
        pdf = PdfFound(
            pdf=bytes(row["pdf"]),
            sha256=bytes(row["pdf_sha256"]).hex(),
            school_year=school_year,
            version=version,
            filename=f"hocba-{row['lookup_code']}-v{version}.pdf",
        )
        return StoreAnswer("found", pdf=pdf)

    async def _access_log(
        self, conn: asyncpg.Connection, by: ReadBy, record_id: str, named_year: str | None
    ) -> StoreAnswer:
        name = await conn.fetchval(_STUDENT_NAME, record_id)
        rows = await conn.fetch(_ACCESS_LOG, record_id, self._access_log_limit + 1)
        entries = tuple(
            AccessEntry(
                at=r["at"],
                action=r["action"],
                client_kind=r["client_kind"],
                client_name=r["client_name"],
                purpose=r["purpose"],
                school_year=r["school_year"],
            )
            for r in rows[: self._access_log_limit]
        )
        # Audited after the log is read: a request does not list itself.
        await self._audit(conn, by, "READ", record_id, named_year, None, {})
        truncated = len(rows) > self._access_log_limit
        log = AccessLog(str(name or ""), entries, self._access_log_limit, truncated)
        return StoreAnswer("found", log=log)

    async def _audit(
        self,
        conn: asyncpg.Connection,
        by: ReadBy,
        action: str,
        record_id: str | None,
        school_year: str | None,
        version: int | None,
        extra: Mapping[str, Any],
    ) -> None:
        row = audit_row(
            by.actor,
            action,
            record_id=record_id,
            school_year=school_year,
            version=version,
            detail={**by.detail, **extra},
            client_id=by.client_id,
            purpose=by.purpose,
        )
        await insert_audit_rows(conn, [row])

    def _observe(self, operation: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.db_seconds.labels(self._metrics.service, operation).observe(
                time.perf_counter() - started
            )
