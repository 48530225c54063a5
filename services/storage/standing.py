"""The platform's view of a PDF handed in for verification (tình trạng trên nền tảng): is it
the version in force of its page, a version a correction replaced, or unknown here?

A PDF is matched first by its own SHA-256 against ``record_versions.pdf_sha256`` (the very
file the platform issued), else by the SHA-256 of its embedded ``hoc-ba.json`` against
``content_sha256`` (the same record in a file that differs: re-saved, or tampered with — the
signature report says which). Among several matches the current version wins, then the latest.
:func:`platform_view` decides from the rows (pure); :class:`PgStanding` reads them and writes
the audit row in the same transaction (``VERIFIED`` when matched, ``READ_NOT_FOUND`` when not):
no audit, no answer. A database that does not answer gives ``unknown`` with the reason
``unavailable``, never "invalid" (:func:`unavailable_view`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import asyncpg

from services.messaging.metrics import ServiceMetrics
from services.storage.audit import audit_row, insert_audit_rows
from services.storage.errors import translate_db_error

__all__ = [
    "PageVersion",
    "PgStanding",
    "PlatformStatus",
    "PlatformView",
    "Supersession",
    "UnknownReason",
    "VerifyAudit",
    "platform_view",
    "unavailable_view",
]

PlatformStatus = Literal["current", "superseded", "unknown"]
#: Why the platform cannot place a PDF: no stored version matches, or the database is down.
UnknownReason = Literal["not_stored", "unavailable"]

_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

_REASON_TEXT: Final[Mapping[UnknownReason, tuple[str, str]]] = {
    "not_stored": (
        "Nền tảng không lưu phiên bản học bạ nào khớp với tệp này.",
        "The platform holds no record version matching this file.",
    ),
    "unavailable": (
        "Tạm thời không tra được cơ sở dữ liệu của nền tảng; kết quả kiểm tra chữ ký vẫn có "
        "giá trị.",
        "The platform's database cannot be reached right now; the signature check still stands.",
    ),
}

# Every signed version of the pages holding a version whose PDF or embedded record matches,
# with each page's current version. Never the PDF bytes.
_STANDING: Final = """
WITH pages AS (
    SELECT DISTINCT record_id, school_year FROM record_versions
    WHERE status = 'SIGNED' AND (pdf_sha256 = $1 OR content_sha256 = $2)
)
SELECT v.record_id, v.school_year, v.version, c.version AS current_version, v.effective_at,
       v.correction_reason,
       coalesce(v.pdf_sha256 = $1, false) AS pdf_matches,
       coalesce(v.content_sha256 = $2, false) AS content_matches
FROM pages
JOIN record_versions v USING (record_id, school_year)
JOIN current_versions c USING (record_id, school_year)
WHERE v.status = 'SIGNED'
ORDER BY v.record_id, v.school_year, v.version
"""


@dataclass(frozen=True, slots=True)
class VerifyAudit:
    """Who asks, for the audit row: the actor (``http:<address>``, ``client:<id>``,
    ``hocba-verify``), the access client if any, and what else the row keeps (the requester's
    address and user agent, the signature report's verdict)."""

    actor: str
    client_id: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Supersession:
    """The version that replaced a superseded one (bản đính chính): when it took effect, why."""

    version: int
    effective_at: dt.datetime | None
    correction_reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "effective_at": None if self.effective_at is None else self.effective_at.isoformat(),
            "correction_reason": self.correction_reason,
        }


@dataclass(frozen=True, slots=True)
class PlatformView:
    """What the platform says of a PDF: ``current``, ``superseded`` (by whom, when, why) or
    ``unknown`` (``reason``). ``pdf_matches_stored``: the file is byte for byte the one
    issued (False: only its embedded record matches; None: nothing matches)."""

    status: PlatformStatus
    record_id: str | None = None
    school_year: str | None = None
    version: int | None = None
    current_version: int | None = None
    pdf_matches_stored: bool | None = None
    superseded_by: Supersession | None = None
    reason: UnknownReason | None = None

    @property
    def reason_vi(self) -> str | None:
        return None if self.reason is None else _REASON_TEXT[self.reason][0]

    @property
    def reason_en(self) -> str | None:
        return None if self.reason is None else _REASON_TEXT[self.reason][1]

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "record_id": self.record_id,
            "school_year": self.school_year,
            "version": self.version,
            "current_version": self.current_version,
            "pdf_matches_stored": self.pdf_matches_stored,
            "superseded_by": None if self.superseded_by is None else self.superseded_by.as_json(),
            "reason": self.reason,
            "reason_vi": self.reason_vi,
            "reason_en": self.reason_en,
        }


@dataclass(frozen=True, slots=True)
class PageVersion:
    """One signed version of a page a PDF may be (a row of the standing query)."""

    record_id: str
    school_year: str
    version: int
    current_version: int
    effective_at: dt.datetime | None
    correction_reason: str | None
    #: This version's stored PDF has the uploaded file's SHA-256.
    pdf_matches: bool
    #: This version's record has the SHA-256 of the uploaded file's embedded hoc-ba.json.
    content_matches: bool

    @property
    def page(self) -> tuple[str, str]:
        return (self.record_id, self.school_year)


def unavailable_view() -> PlatformView:
    """The view when the database does not answer: unknown, never invalid."""
    return PlatformView("unknown", reason="unavailable")


def platform_view(rows: Sequence[PageVersion]) -> PlatformView:
    """Decide the platform's view from every signed version of the matching pages.

    The PDF's own hash first; the embedded record's only when no stored PDF is this file.
    Among matches (a correction undone repeats an earlier content), the page's current
    version wins, then the latest. A superseded version names the version that directly
    replaced it (the next one stored), which carries the reason of the correction.
    """
    by_pdf = [r for r in rows if r.pdf_matches]
    matches = by_pdf or [r for r in rows if r.content_matches]
    if not matches:
        return PlatformView("unknown", reason="not_stored")
    best = max(matches, key=lambda r: (r.version == r.current_version, r.version))
    base = PlatformView(
        "current",
        record_id=best.record_id,
        school_year=best.school_year,
        version=best.version,
        current_version=best.current_version,
        pdf_matches_stored=bool(by_pdf),
    )
    if best.version == best.current_version:
        return base
    later = [r for r in rows if r.page == best.page and r.version > best.version]
    successor = min(later, key=lambda r: r.version) if later else None
    return replace(
        base,
        status="superseded",
        superseded_by=None
        if successor is None
        else Supersession(successor.version, successor.effective_at, successor.correction_reason),
    )


def _page_version(row: Mapping[str, Any]) -> PageVersion:
    return PageVersion(
        record_id=row["record_id"],
        school_year=row["school_year"],
        version=row["version"],
        current_version=row["current_version"],
        effective_at=row["effective_at"],
        correction_reason=row["correction_reason"],
        pdf_matches=row["pdf_matches"],
        content_matches=row["content_matches"],
    )


class PgStanding:
    """The standing query and its audit row on the storage pool."""

    def __init__(self, pool: asyncpg.Pool, metrics: ServiceMetrics) -> None:
        self._pool = pool
        self._metrics = metrics

    async def standing(
        self,
        pdf_sha256: bytes,
        content_sha256: bytes | None,
        audit: VerifyAudit,
    ) -> PlatformView:
        """The platform's view of a PDF, audited in the same transaction.

        Raises :class:`~services.storage.errors.StorageError` when the database does not
        answer.
        """
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(_STANDING, pdf_sha256, content_sha256)
                view = platform_view([_page_version(r) for r in rows])
                detail = {
                    **audit.detail,
                    "resource": "verify",
                    "pdf_sha256": pdf_sha256.hex(),
                    "content_sha256": None if content_sha256 is None else content_sha256.hex(),
                    "status": view.status,
                    "pdf_matches_stored": view.pdf_matches_stored,
                }
                row = audit_row(
                    audit.actor,
                    "READ_NOT_FOUND" if view.record_id is None else "VERIFIED",
                    record_id=view.record_id,
                    school_year=view.school_year,
                    version=view.version,
                    detail=detail,
                    client_id=audit.client_id,
                )
                await insert_audit_rows(conn, [row])
                return view
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "standing") from exc
        finally:
            self._metrics.db_seconds.labels(self._metrics.service, "standing").observe(
                time.perf_counter() - started
            )
