"""The storage API's error answers: one JSON body for every refusal, never cached.

``{"code": "E_...", "message_vi": ..., "message_en": ...}`` with ``Cache-Control: no-store``
(a refusal may concern a record, and the same request may be answered differently later),
as ``docs/errors.md`` lists the codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final, Literal

from aiohttp import web

__all__ = ["NO_STORE", "RefusedRequest", "error_response", "storage_unavailable", "utc_stamp"]

#: The caching header of every JSON answer of the storage API.
NO_STORE: Final = {"Cache-Control": "no-store"}


def error_response(
    status: int,
    code: str,
    message_vi: str,
    message_en: str,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An error answer: ``status``, the code and its messages; ``headers`` added."""
    return web.json_response(
        {"code": code, "message_vi": message_vi, "message_en": message_en},
        status=status,
        headers={**NO_STORE, **(headers or {})},
    )


class RefusedRequest(Exception):
    """A request refused as a whole; carries the HTTP answer's parts (:meth:`response`)."""

    def __init__(self, status: int, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(message_en)
        self.status = status
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en

    def headers(self) -> Mapping[str, str]:
        """Headers the answer carries besides ``Cache-Control`` (none here)."""
        return {}

    def response(self) -> web.Response:
        return error_response(
            self.status, self.code, self.message_vi, self.message_en, self.headers()
        )


def storage_unavailable() -> web.Response:
    """503 ``E_STORAGE_UNAVAILABLE``: the database did not answer; nothing was read."""
    return error_response(
        503,
        "E_STORAGE_UNAVAILABLE",
        "Kho học bạ tạm thời không truy cập được; vui lòng thử lại sau.",
        "The record store is temporarily unavailable; please retry later.",
    )


def utc_stamp(
    value: dt.datetime | None, timespec: Literal["seconds", "milliseconds"] = "milliseconds"
) -> str | None:
    """A time in the answers' form: ISO 8601 in UTC with ``Z`` (None stays None)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
