"""Schools reading their students' records by student id, those transferred to them included.

* ``GET /v1/students/{student_id}/records?purpose=...`` — the current version of each
  school year of the student's record (metadata, signatures, a link to each PDF);
* ``GET /v1/students/{student_id}/records/{school_year}/pdf?purpose=...`` — that year's
  signed PDF (current version).

Only ``SCHOOL`` access clients (``Authorization: Bearer <token>``), with a stated purpose.
A school may read when the student has a stored page at one of its schools, or a grant
to one of them in effect today (a school transfer, :mod:`services.storage.grants`).
Every answer is audited in the read's own transaction with the client and the purpose:
``READ`` (found), ``READ_NOT_FOUND`` (entitled, nothing stored yet), ``READ_REFUSED``
(unknown student or not entitled: the row names no record). Unknown and not entitled get
the same 404 E_RECORD_NOT_FOUND, so the answer says nothing about students of other
schools.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from aiohttp import web

from services.storage.access import (
    AccessClient,
    AccessDenied,
    ClientKind,
    PgAccessStore,
    Requester,
    authenticate_as,
    check_purpose,
)
from services.storage.answers import NO_STORE, error_response, storage_unavailable, utc_stamp
from services.storage.audit import audit_row, insert_audit_rows
from services.storage.errors import StorageError, translate_db_error
from services.storage.grants import entitlement, vietnam_today
from services.storage.metrics import StorageMetrics

__all__ = ["PgSchoolReads", "SchoolPdf", "SchoolRead", "SchoolRecordsApi", "page_view"]

RECORDS_ROUTE: Final = "/v1/students/{student_id}/records"
PDF_ROUTE: Final = "/v1/students/{student_id}/records/{school_year}/pdf"
# Student ids are opaque (domain.md 7) but printable and short; anything else is unknown.
_STUDENT_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SCHOOL_YEAR: Final = re.compile(r"[0-9]{4}-[0-9]{4}")
_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

_STUDENT = """
SELECT r.record_id,
       ARRAY(SELECT DISTINCT v.school_code FROM record_versions v
             WHERE v.record_id = r.record_id) AS page_schools
FROM records r WHERE r.student_id = $1
"""
_GRANTS = "SELECT school_code, granted_from FROM record_grants WHERE student_id = $1"
_PAGE_COLUMNS = """
v.record_id, v.school_year, v.version, v.grade, v.school_code,
v.record->'school'->>'school_name' AS school_name,
v.record->'student'->>'full_name' AS student_name,
v.year_result, v.record->'completion'->>'status' AS completion_status, v.effective_at,
v.status, v.supersedes_version, v.correction_reason, v.pdf_sha256,
v.signatures::text AS signatures,
(SELECT count(*) FROM record_versions w
  WHERE w.record_id = v.record_id AND w.school_year = v.school_year
    AND w.version < v.version)::int AS superseded_versions
"""
_PAGES = f"""
SELECT {_PAGE_COLUMNS}
FROM current_versions c
JOIN record_versions v USING (record_id, school_year, version)
WHERE c.record_id = $1
ORDER BY c.school_year
"""
_PDF = f"""
SELECT {_PAGE_COLUMNS}, v.pdf
FROM current_versions c
JOIN record_versions v USING (record_id, school_year, version)
WHERE c.record_id = $1 AND c.school_year = $2 AND v.pdf IS NOT NULL
"""


def page_view(row: Mapping[str, Any], student_id: str) -> dict[str, Any]:
    """What a school sees of one school year's current version (no lookup code: that is
    the family's to give)."""
    signatures = json.loads(row["signatures"]) if row["signatures"] else []
    pdf_sha256 = row["pdf_sha256"]
    return {
        "school_year": row["school_year"],
        "grade": row["grade"],
        "school_code": row["school_code"],
        "school_name": row["school_name"],
        "year_result": row["year_result"],
        "completion_status": row["completion_status"],
        "version": row["version"],
        "supersedes_version": row["supersedes_version"],
        "correction_reason": row["correction_reason"],
        "superseded_versions": row["superseded_versions"],
        "status": row["status"],
        "effective_at": utc_stamp(row["effective_at"]),
        "signatures": [
            {"role": s["role"], "signer_name": s["signer_name"], "signed_at": s["signed_at"]}
            for s in signatures
        ],
        "pdf_sha256": None if pdf_sha256 is None else bytes(pdf_sha256).hex(),
        "pdf_path": f"/v1/students/{student_id}/records/{row['school_year']}/pdf",
    }


@dataclass(frozen=True, slots=True)
class SchoolRead:
    """A school's read of a student's record: ``None`` pages when not entitled/unknown."""

    record_id: str | None
    entitlement: str | None
    pages: tuple[dict[str, Any], ...] = ()
    student_name: str | None = None


@dataclass(frozen=True, slots=True)
class SchoolPdf:
    """A year's signed PDF as a school reads it (``pdf`` None: refused or not found)."""

    entitled: bool
    pdf: bytes | None = None
    filename: str = ""
    sha256: str = ""


class PgSchoolReads:
    """Entitlement, read and audit row, in one transaction per read."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: StorageMetrics,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._clock = clock

    async def _entitled(
        self, conn: asyncpg.Connection, student_id: str, client: AccessClient
    ) -> tuple[str | None, str | None]:
        """(record id, why entitled) of a student for a client; (.., None) when not."""
        student = await conn.fetchrow(_STUDENT, student_id)
        grants = await conn.fetch(_GRANTS, student_id)
        why = entitlement(
            client.school_codes,
            student["page_schools"] if student is not None else (),
            [(g["school_code"], g["granted_from"]) for g in grants],
            vietnam_today(self._clock()),
        )
        return (None if student is None else student["record_id"]), why

    async def records(
        self, student_id: str, client: AccessClient, purpose: str, requester: Requester
    ) -> SchoolRead:
        """The current version of each school year, if the client may read them."""
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, why = await self._entitled(conn, student_id, client)
                rows = (
                    [] if why is None or record_id is None else await conn.fetch(_PAGES, record_id)
                )
                pages = tuple(page_view(r, student_id) for r in rows)
                detail: dict[str, Any] = {
                    **requester.audit_detail(),
                    "resource": "school_records",
                    "student_id": student_id,
                }
                if why is None:
                    await self._audit(
                        conn, "READ_REFUSED", None, None, None, detail, client, purpose
                    )
                    return SchoolRead(None, None)
                detail.update(
                    entitlement=why,
                    versions=[
                        {"school_year": p["school_year"], "version": p["version"]} for p in pages
                    ],
                )
                action = "READ" if pages else "READ_NOT_FOUND"
                await self._audit(conn, action, record_id, None, None, detail, client, purpose)
                name = rows[-1]["student_name"] if rows else None
                return SchoolRead(record_id, why, pages, name)
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "school_records") from exc
        finally:
            self._observe("school_records", started)

    async def pdf(
        self,
        student_id: str,
        school_year: str,
        client: AccessClient,
        purpose: str,
        requester: Requester,
    ) -> SchoolPdf:
        """A school year's signed PDF (current version), if the client may read it."""
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, why = await self._entitled(conn, student_id, client)
                detail: dict[str, Any] = {
                    **requester.audit_detail(),
                    "resource": "school_pdf",
                    "student_id": student_id,
                    "school_year": school_year,
                }
                if why is None:
                    await self._audit(
                        conn, "READ_REFUSED", None, None, None, detail, client, purpose
                    )
                    return SchoolPdf(False)
                row = (
                    None if record_id is None else await conn.fetchrow(_PDF, record_id, school_year)
                )
                detail["entitlement"] = why
                if row is None:
                    await self._audit(
                        conn,
                        "READ_NOT_FOUND",
                        record_id,
                        school_year,
                        None,
                        detail,
                        client,
                        purpose,
                    )
                    return SchoolPdf(True)
                version = int(row["version"])
                await self._audit(
                    conn, "READ", record_id, school_year, version, detail, client, purpose
                )
                return SchoolPdf(
                    True,
                    bytes(row["pdf"]),
                    f"hocba-{record_id}-{school_year}-v{version}.pdf",
                    bytes(row["pdf_sha256"]).hex(),
                )
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "school_pdf") from exc
        finally:
            self._observe("school_pdf", started)

    @staticmethod
    async def _audit(
        conn: asyncpg.Connection,
        action: str,
        record_id: str | None,
        school_year: str | None,
        version: int | None,
        detail: Mapping[str, Any],
        client: AccessClient,
        purpose: str,
    ) -> None:
        row = audit_row(
            f"client:{client.client_id}",
            action,
            record_id=record_id,
            school_year=school_year,
            version=version,
            detail=detail,
            client_id=client.client_id,
            purpose=purpose,
        )
        await insert_audit_rows(conn, [row])

    def _observe(self, operation: str, started: float) -> None:
        shared = self._metrics.shared
        shared.db_seconds.labels(shared.service, operation).observe(time.perf_counter() - started)


def _not_found() -> web.Response:
    # The same answer for an unknown student and one the school may not read.
    return error_response(
        404,
        "E_RECORD_NOT_FOUND",
        "Không tìm thấy học bạ của học sinh này trong các học bạ trường được phép xem.",
        "No record of this student among those the school may read.",
    )


class SchoolRecordsApi:
    """The school routes; mounted in the :class:`ServiceShell`."""

    def __init__(
        self, reads: PgSchoolReads, access: PgAccessStore, metrics: StorageMetrics
    ) -> None:
        self._reads = reads
        self._access = access
        self._metrics = metrics

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.get(RECORDS_ROUTE, self.get_records), web.get(PDF_ROUTE, self.get_pdf)]

    def _answer(self, resource: str, outcome: str, response: web.Response) -> web.Response:
        self._metrics.school_reads.labels(self._metrics.service, resource, outcome).inc()
        return response

    async def _client(self, request: web.Request) -> tuple[AccessClient, str]:
        client = await authenticate_as(request, self._access, ClientKind.SCHOOL)
        return client, check_purpose(request.query.get("purpose"))

    async def get_records(self, request: web.Request) -> web.Response:
        try:
            client, purpose = await self._client(request)
        except AccessDenied as denied:
            return self._answer("records", denied.outcome, denied.response())
        except StorageError:
            return self._answer("records", "unavailable", storage_unavailable())
        student_id = request.match_info["student_id"]
        if _STUDENT_ID.fullmatch(student_id) is None:
            student_id = "".join(ch for ch in student_id if ch.isprintable())[:64]
        try:
            read = await self._reads.records(
                student_id, client, purpose, Requester.of(request, client)
            )
        except StorageError:
            return self._answer("records", "unavailable", storage_unavailable())
        if read.entitlement is None:
            return self._answer("records", "not_entitled", _not_found())
        if not read.pages:
            return self._answer("records", "not_found", _not_found())
        body = {
            "student_id": student_id,
            "student_name": read.student_name,
            "record_id": read.record_id,
            "entitlement": read.entitlement,
            "purpose": purpose,
            "pages": list(read.pages),
        }
        response = web.json_response(body, headers=NO_STORE)
        return self._answer("records", "found", response)

    async def get_pdf(self, request: web.Request) -> web.Response:
        try:
            client, purpose = await self._client(request)
        except AccessDenied as denied:
            return self._answer("pdf", denied.outcome, denied.response())
        except StorageError:
            return self._answer("pdf", "unavailable", storage_unavailable())
        school_year = request.match_info["school_year"]
        if _SCHOOL_YEAR.fullmatch(school_year) is None:
            response = error_response(
                400,
                "E_LOOKUP_QUERY_INVALID",
                f"Năm học {school_year[:20]!r} phải có dạng 'YYYY-YYYY'.",
                f"school year {school_year[:20]!r} is not 'YYYY-YYYY'.",
            )
            return self._answer("pdf", "invalid", response)
        student_id = request.match_info["student_id"]
        if _STUDENT_ID.fullmatch(student_id) is None:
            student_id = "".join(ch for ch in student_id if ch.isprintable())[:64]
        try:
            found = await self._reads.pdf(
                student_id, school_year, client, purpose, Requester.of(request, client)
            )
        except StorageError:
            return self._answer("pdf", "unavailable", storage_unavailable())
        if not found.entitled:
            return self._answer("pdf", "not_entitled", _not_found())
        if found.pdf is None:
            return self._answer("pdf", "not_found", _not_found())
        headers = {
            "ETag": f'"{found.sha256}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{found.filename}"',
        }
        response = web.Response(body=found.pdf, content_type="application/pdf", headers=headers)
        return self._answer("pdf", "found", response)
