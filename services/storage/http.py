"""The storage service's HTTP API: record lookup (tra cứu học bạ) and its OpenAPI document.

``GET /v1/records/{code}`` answers the current version of each school year of a record:
metadata only, never the personal data of the record itself. Until signing assigns
lookup codes (mã số tra cứu), ``code`` is a record id. Every lookup, found or not, is
written to the audit table in the same transaction as the read: no audit, no answer.

The OpenAPI document's one source is ``docs/openapi/storage.yaml``, written in the JSON
subset of YAML 1.2 so the service serves it with the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from services.storage.errors import StorageError
from services.storage.metrics import StorageMetrics
from services.storage.record_ids import is_record_id, normalise
from services.storage.repository import ReadAudit, RecordStore
from services.storage.versions import StoredVersion

__all__ = ["OpenApiError", "RecordsApi", "default_openapi_path", "load_openapi", "version_view"]

_USER_AGENT_MAX = 200


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
        {"code": code, "message_vi": message_vi, "message_en": message_en}, status=status
    )


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
        "stored_at": version.stored_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "content_sha256": version.content_sha256.hex(),
    }


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
            web.get("/v1/openapi.json", self.get_openapi),
        ]

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._openapi)

    async def get_record(self, request: web.Request) -> web.Response:
        requested = request.match_info["code"]
        code = normalise(requested)
        audit = ReadAudit(
            actor=f"http:{request.remote or 'unknown'}",
            detail={
                "code": code,
                "path": request.path,
                "user_agent": request.headers.get("User-Agent", "")[:_USER_AGENT_MAX],
            },
        )
        try:
            versions = await self._store.read_current(code if is_record_id(code) else None, audit)
        except StorageError:
            self._count("unavailable")
            return _error(
                503,
                "E_STORAGE_UNAVAILABLE",
                "Kho học bạ tạm thời không truy cập được; vui lòng thử lại sau.",
                "The record store is temporarily unavailable; please retry later.",
            )
        if not versions:
            self._count("not_found")
            return _error(
                404,
                "E_RECORD_NOT_FOUND",
                f"Không tìm thấy học bạ với mã {requested!r}.",
                f"No record found for code {requested!r}.",
            )
        self._count("found")
        return web.json_response(
            {
                "record_id": versions[0].record_id,
                "current_versions": [version_view(v) for v in versions],
            },
            headers={"Cache-Control": "no-store"},
        )

    def _count(self, outcome: str) -> None:
        self._metrics.reads.labels(self._metrics.service, outcome).inc()
