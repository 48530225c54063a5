"""The storage service's HTTP API: record lookup (tra cứu học bạ) and its OpenAPI document.

* ``GET /v1/records/{code}`` — the current version of each school year the code names:
  a lookup code (mã số tra cứu, printed on one year page) names that page, a record id
  every school year of the student's record. Metadata only (with the signatures and the
  PDF's hash), never the personal data of the record itself.
* ``GET /v1/records/{code}/pdf`` — the signed PDF of the page's current version (or of
  ``?version=N``, so a superseded version stays retrievable; ``?school_year=`` picks the
  year of a record id, by default the latest), with its SHA-256 as the ETag.

A code is read as a person types it (any case, hyphens and spaces optional); a lookup
code with a wrong check character is refused (400 ``E_LOOKUP_CODE_INVALID``) rather than
looked up. Every request, found, not found or refused, is written to the audit table in
the same transaction as the read: no audit, no answer (503 when the database is down).

The OpenAPI document's one source is ``docs/openapi/storage.yaml``, written in the JSON
subset of YAML 1.2 so the service serves it with the standard library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from services.storage.errors import StorageError
from services.storage.metrics import StorageMetrics
from services.storage.record_ids import RecordCode, parse_code
from services.storage.repository import ReadAudit, RecordStore
from services.storage.versions import StoredVersion

__all__ = ["OpenApiError", "RecordsApi", "default_openapi_path", "load_openapi", "version_view"]

_USER_AGENT_MAX: Final = 200
# What an audit row keeps of a code that is not one (the path can be 8 KiB long).
_AUDITED_CODE_MAX: Final = 64
_SCHOOL_YEAR: Final = re.compile(r"[0-9]{4}-[0-9]{4}")
_MAX_VERSION: Final = 2**31 - 1


class OpenApiError(RuntimeError):
    """The OpenAPI document is missing or not valid JSON-form YAML."""


def default_openapi_path() -> Path:
    """``docs/openapi/storage.yaml`` at the root of this checkout."""
    return Path(__file__).resolve().parents[2] / "docs" / "openapi" / "storage.yaml"


def load_openapi(path: Path | None = None) -> dict[str, Any]:
    """Read the OpenAPI document once (at bootstrap); raise :class:`OpenApiError`."""
    source = path or default_openapi_path()
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OpenApiError(f"{source}: cannot read the OpenAPI document: {exc}") from exc
    if not isinstance(document, dict) or "openapi" not in document:
        raise OpenApiError(f"{source}: not an OpenAPI document (no 'openapi' field)")
    return document


def _error(status: int, code: str, message_vi: str, message_en: str) -> web.Response:
    return web.json_response(
        {"code": code, "message_vi": message_vi, "message_en": message_en},
        status=status,
        headers={"Cache-Control": "no-store"},
    )


def _unavailable() -> web.Response:
    return _error(
        503,
        "E_STORAGE_UNAVAILABLE",
        "Kho học bạ tạm thời không truy cập được; vui lòng thử lại sau.",
        "The record store is temporarily unavailable; please retry later.",
    )


def _not_found(requested: str) -> web.Response:
    return _error(
        404,
        "E_RECORD_NOT_FOUND",
        f"Không tìm thấy học bạ với mã {requested!r}.",
        f"No record found for code {requested!r}.",
    )


def _invalid_code(requested: str) -> web.Response:
    return _error(
        400,
        "E_LOOKUP_CODE_INVALID",
        f"{requested!r} không phải mã số tra cứu hợp lệ (16 ký tự và một ký tự kiểm tra); "
        "vui lòng kiểm tra lại từng ký tự.",
        f"{requested!r} is not a valid lookup code (16 characters and a check character); "
        "please check each character.",
    )


def _stamp(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def version_view(version: StoredVersion) -> dict[str, Any]:
    """What a lookup shows of one version (no personal data beyond the page's metadata)."""
    return {
        "record_id": version.record_id,
        "school_year": version.school_year,
        "version": version.version,
        "grade": version.grade,
        "school_code": version.school_code,
        "year_result": version.year_result,
        "status": version.status,
        "lookup_code": version.lookup_code,
        "supersedes_version": version.supersedes_version,
        "effective_at": _stamp(version.effective_at),
        "stored_at": _stamp(version.stored_at),
        "content_sha256": version.content_sha256.hex(),
        "pdf_sha256": None if version.pdf_sha256 is None else version.pdf_sha256.hex(),
        "pdf_size_bytes": version.pdf_size_bytes,
        "signatures": [
            {
                "role": s.role,
                "signer_name": s.signer_name,
                "certificate_sha256": s.certificate_sha256,
                "signed_at": _stamp(s.signed_at),
            }
            for s in version.signatures
        ],
    }


@dataclass(frozen=True, slots=True)
class _PdfQuery:
    school_year: str | None
    version: int | None


def _pdf_query(query: Mapping[str, str]) -> _PdfQuery | str:
    """The PDF request's parameters, or what is wrong with them (English)."""
    school_year = query.get("school_year")
    if school_year is not None and _SCHOOL_YEAR.fullmatch(school_year) is None:
        return f"school_year {school_year[:20]!r} is not 'YYYY-YYYY'"
    text = query.get("version")
    if text is None:
        return _PdfQuery(school_year, None)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= _MAX_VERSION:
        return f"version {text[:20]!r} is not a version number (1, 2, ...)"
    return _PdfQuery(school_year, int(text))


def _audited(text: str) -> str:
    """A code as the audit keeps it: printable, bounded (jsonb refuses U+0000)."""
    return "".join(ch for ch in text if ch.isprintable())[:_AUDITED_CODE_MAX]


class RecordsApi:
    """The routes of the lookup API; mounted in the :class:`ServiceShell`."""

    def __init__(
        self, store: RecordStore, metrics: StorageMetrics, openapi: Mapping[str, Any]
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._openapi = dict(openapi)

    def routes(self) -> Sequence[web.RouteDef]:
        return [
            web.get("/v1/records/{code}", self.get_record),
            web.get("/v1/records/{code}/pdf", self.get_pdf),
            web.get("/v1/openapi.json", self.get_openapi),
        ]

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._openapi)

    def _audit(
        self, request: web.Request, code: RecordCode | None, resource: str, **extra: Any
    ) -> ReadAudit:
        requested = request.match_info["code"]
        return ReadAudit(
            actor=f"http:{request.remote or 'unknown'}",
            detail={
                "code": code.value if code is not None else _audited(requested.upper()),
                "kind": None if code is None else code.kind.value,
                "resource": resource,
                "path": _audited(request.path) if code is None else request.path,
                "query": {k: _audited(v) for k, v in request.query.items()},
                "user_agent": request.headers.get("User-Agent", "")[:_USER_AGENT_MAX],
                **extra,
            },
        )

    async def get_record(self, request: web.Request) -> web.Response:
        """``GET /v1/records/{code}``: current versions' metadata (400/404/503 as errors)."""
        requested = request.match_info["code"]
        code = parse_code(requested)
        error = None if code is not None else "E_LOOKUP_CODE_INVALID"
        audit = self._audit(request, code, "record", **({"error": error} if error else {}))
        try:
            versions = await self._store.read_current(code, audit)
        except StorageError:
            return self._answer("record", "unavailable", _unavailable())
        if code is None:
            return self._answer("record", "invalid", _invalid_code(_audited(requested)))
        if not versions:
            return self._answer("record", "not_found", _not_found(_audited(requested)))
        body = {
            "record_id": versions[0].record_id,
            "current_versions": [version_view(v) for v in versions],
        }
        response = web.json_response(body, headers={"Cache-Control": "no-store"})
        return self._answer("record", "found", response)

    async def get_pdf(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/records/{code}/pdf``: the signed PDF, ETag = its SHA-256."""
        requested = request.match_info["code"]
        code = parse_code(requested)
        query = _pdf_query(request.query)
        error = (
            "E_LOOKUP_CODE_INVALID"
            if code is None
            else "E_LOOKUP_QUERY_INVALID"
            if isinstance(query, str)
            else None
        )
        audit = self._audit(request, code, "pdf", **({"error": error} if error else {}))
        try:
            if isinstance(query, str):
                found = await self._store.read_pdf(None, audit)
            else:
                found = await self._store.read_pdf(
                    code, audit, school_year=query.school_year, version=query.version
                )
        except StorageError:
            return self._answer("pdf", "unavailable", _unavailable())
        if code is None:
            return self._answer("pdf", "invalid", _invalid_code(_audited(requested)))
        if isinstance(query, str):
            response = _error(
                400,
                "E_LOOKUP_QUERY_INVALID",
                f"Tham số không hợp lệ: {query}.",
                f"Invalid parameter: {query}.",
            )
            return self._answer("pdf", "invalid", response)
        digest = None if found is None else found.version.pdf_sha256
        if found is None or digest is None:
            return self._answer("pdf", "not_found", _not_found(_audited(requested)))
        v = found.version
        etag = f'"{digest.hex()}"'
        headers = {
            "ETag": etag,
            # Revalidate every time: each use is a read the audit trail must see.
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if _matches(request.headers.get("If-None-Match", ""), etag):
            return self._answer("pdf", "not_modified", web.Response(status=304, headers=headers))
        filename = f"hocba-{v.record_id}-{v.school_year}-v{v.version}.pdf"
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        self._metrics.pdf_served_bytes.labels(self._metrics.service).inc(len(found.pdf))
        response = web.Response(body=found.pdf, content_type="application/pdf", headers=headers)
        return self._answer("pdf", "found", response)

    def _answer(self, resource: str, outcome: str, response: web.Response) -> web.Response:
        self._metrics.reads.labels(self._metrics.service, resource, outcome).inc()
        return response


def _matches(if_none_match: str, etag: str) -> bool:
    """True when an ``If-None-Match`` header names ``etag`` (weak comparison) or is ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
