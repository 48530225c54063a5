"""The storage service's HTTP API for holders of a lookup code, and its OpenAPI document.

* ``GET /v1/records/{code}`` — what a receiving school needs of the record the code names
  (:class:`~services.storage.lookup.LookupView`): the student's name and, per school year,
  the current version's school, grade, result, completion statement and signatures.
* ``GET /v1/records/{code}/pdf`` — a page's signed PDF (``?version=N``: a superseded
  version stays retrievable; ``?school_year=`` picks the year of a record id), its
  SHA-256 as the ETag.
* ``GET /v1/records/{code}/access-log`` — who read the record, when and why.

Each needs the student's date of birth in ``X-Birth-Date: YYYY-MM-DD`` (400
``E_LOOKUP_BIRTH_DATE_REQUIRED`` without it, before any lookup), except the PDF for an
authenticated national database (``Authorization: Bearer``). An unknown code and a wrong
birth date are the same 404; repeated failures answer 429 ``E_LOOKUP_LOCKED`` with
``Retry-After``. The lookup itself (limits, response-time floor, audit) is
:class:`~services.storage.lookup.RecordLookup`, shared with the web pages.

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

from services.storage.access import (
    AccessDenied,
    ClientKind,
    PgAccessStore,
    Requester,
    authenticate,
    check_purpose,
)
from services.storage.answers import NO_STORE, error_response, storage_unavailable
from services.storage.errors import StorageError
from services.storage.lookup import (
    AccessLogFound,
    BirthDateRequired,
    Found,
    InvalidCode,
    Locked,
    NotFound,
    PdfFound,
    RecordLookup,
    Resource,
    Unavailable,
)
from services.storage.metrics import StorageMetrics

__all__ = [
    "BIRTH_DATE_HEADER",
    "OpenApiError",
    "RecordsApi",
    "default_openapi_path",
    "load_openapi",
]

#: The request header carrying the student's date of birth (the second factor).
BIRTH_DATE_HEADER: Final = "X-Birth-Date"
_SCHOOL_YEAR: Final = re.compile(r"[0-9]{4}-[0-9]{4}")
_MAX_VERSION: Final = 2**31 - 1
#: Clients that state a purpose for every read (design: access model).
_PURPOSE_REQUIRED: Final = frozenset({ClientKind.SCHOOL, ClientKind.ADMISSIONS_OFFICE})


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


def _not_found() -> web.Response:
    # One body for an unknown code and a wrong birth date: nothing in it may differ.
    return error_response(
        404,
        "E_RECORD_NOT_FOUND",
        "Không tìm thấy học bạ với mã số tra cứu và ngày sinh này; vui lòng kiểm tra lại.",
        "No record found for this code and date of birth; please check both.",
    )


def _invalid_code() -> web.Response:
    return error_response(
        400,
        "E_LOOKUP_CODE_INVALID",
        "Mã số tra cứu không hợp lệ (16 ký tự và một ký tự kiểm tra); "
        "vui lòng kiểm tra lại từng ký tự.",
        "Not a valid lookup code (16 characters and a check character); "
        "please check each character.",
    )


def _birth_date_required() -> web.Response:
    return error_response(
        400,
        "E_LOOKUP_BIRTH_DATE_REQUIRED",
        f"Cần ngày sinh của học sinh trong tiêu đề {BIRTH_DATE_HEADER} (YYYY-MM-DD).",
        f"The student's date of birth is required in the {BIRTH_DATE_HEADER} header (YYYY-MM-DD).",
    )


def _locked(retry_after_s: int) -> web.Response:
    wait = max(1, retry_after_s)
    minutes = max(1, -(-wait // 60))
    return error_response(
        429,
        "E_LOOKUP_LOCKED",
        f"Quá nhiều lần tra cứu không thành công; vui lòng thử lại sau khoảng {minutes} phút.",
        f"Too many failed lookups; please try again in about {minutes} minute(s).",
        {"Retry-After": str(wait)},
    )


def _query_invalid(problem: str) -> web.Response:
    return error_response(
        400,
        "E_LOOKUP_QUERY_INVALID",
        f"Tham số không hợp lệ: {problem}.",
        f"Invalid parameter: {problem}.",
    )


_REFUSALS: Final = {
    NotFound: ("not_found", _not_found),
    InvalidCode: ("invalid", _invalid_code),
    BirthDateRequired: ("birth_date_required", _birth_date_required),
    Unavailable: ("unavailable", storage_unavailable),
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


@dataclass(frozen=True, slots=True)
class _Caller:
    requester: Requester
    purpose: str | None


class RecordsApi:
    """The routes of the lookup API; mounted in the :class:`ServiceShell`."""

    def __init__(
        self,
        lookup: RecordLookup,
        access: PgAccessStore,
        metrics: StorageMetrics,
        openapi: Mapping[str, Any],
    ) -> None:
        self._lookup = lookup
        self._access = access
        self._metrics = metrics
        self._openapi = dict(openapi)

    def routes(self) -> Sequence[web.RouteDef]:
        return [
            web.get("/v1/records/{code}", self.get_record),
            web.get("/v1/records/{code}/pdf", self.get_pdf),
            web.get("/v1/records/{code}/access-log", self.get_access_log),
            web.get("/v1/openapi.json", self.get_openapi),
        ]

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._openapi)

    async def _caller(self, request: web.Request) -> _Caller | web.Response:
        """Who asks (an access client, or anonymous) and the purpose they state."""
        try:
            client = await authenticate(request, self._access)
            purpose = request.query.get("purpose")
            if client is not None and (client.kind in _PURPOSE_REQUIRED or purpose is not None):
                purpose = check_purpose(purpose)
        except AccessDenied as denied:
            return denied.response()
        except StorageError:
            return storage_unavailable()
        return _Caller(Requester.of(request, client, "api"), purpose)

    async def get_record(self, request: web.Request) -> web.Response:
        """``GET /v1/records/{code}``: the record's pages (400/404/429/503 as errors)."""
        caller = await self._caller(request)
        if isinstance(caller, web.Response):
            return self._answer("record", _outcome_of(caller), caller)
        outcome = await self._lookup.look_up(
            request.match_info["code"],
            request.headers.get(BIRTH_DATE_HEADER),
            caller.requester,
            purpose=caller.purpose,
        )
        if isinstance(outcome, Found):
            response = web.json_response(outcome.view.as_json(), headers=NO_STORE)
            return self._answer("record", "found", response)
        return self._refused("record", outcome)

    async def get_access_log(self, request: web.Request) -> web.Response:
        """``GET /v1/records/{code}/access-log``: the reads of the record, newest first."""
        caller = await self._caller(request)
        if isinstance(caller, web.Response):
            return self._answer("access_log", _outcome_of(caller), caller)
        outcome = await self._lookup.access_log(
            request.match_info["code"],
            request.headers.get(BIRTH_DATE_HEADER),
            caller.requester,
            purpose=caller.purpose,
        )
        if isinstance(outcome, AccessLogFound):
            response = web.json_response(outcome.log.as_json(), headers=NO_STORE)
            return self._answer("access_log", "found", response)
        return self._refused("access_log", outcome)

    async def get_pdf(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/records/{code}/pdf``: the signed PDF, ETag = its SHA-256."""
        query = _pdf_query(request.query)
        if isinstance(query, str):
            return self._answer("pdf", "invalid", _query_invalid(query))
        caller = await self._caller(request)
        if isinstance(caller, web.Response):
            return self._answer("pdf", _outcome_of(caller), caller)
        outcome = await self._lookup.pdf(
            request.match_info["code"],
            request.headers.get(BIRTH_DATE_HEADER),
            caller.requester,
            version=query.version,
            school_year=query.school_year,
            purpose=caller.purpose,
        )
        if not isinstance(outcome, PdfFound):
            return self._refused("pdf", outcome)
        etag = f'"{outcome.sha256}"'
        headers = {
            "ETag": etag,
            # Revalidate every time: each use is a read the audit trail must see.
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if _matches(request.headers.get("If-None-Match", ""), etag):
            return self._answer("pdf", "not_modified", web.Response(status=304, headers=headers))
        headers["Content-Disposition"] = f'attachment; filename="{outcome.filename}"'
        self._metrics.pdf_served_bytes.labels(self._metrics.service).inc(len(outcome.pdf))
        response = web.Response(body=outcome.pdf, content_type="application/pdf", headers=headers)
        return self._answer("pdf", "found", response)

    def _refused(self, resource: Resource, outcome: object) -> web.Response:
        if isinstance(outcome, Locked):
            return self._answer(resource, "locked", _locked(outcome.retry_after_s))
        label, respond = _REFUSALS[type(outcome)]
        return self._answer(resource, label, respond())

    def _answer(self, resource: Resource, outcome: str, response: web.Response) -> web.Response:
        self._metrics.reads.labels(self._metrics.service, resource, outcome).inc()
        return response


def _outcome_of(response: web.Response) -> str:
    """The reads counter's outcome for an answer given before the lookup."""
    if response.status == 503:
        return "unavailable"
    return "unauthorised" if response.status in (401, 403) else "invalid"


def _matches(if_none_match: str, etag: str) -> bool:
    """True when an ``If-None-Match`` header names ``etag`` (weak comparison) or is ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
