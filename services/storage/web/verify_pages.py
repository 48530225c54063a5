"""The verification pages (xác minh tệp học bạ số), served by storage.

* ``GET /xac-minh`` — the form: one PDF file (``accept=application/pdf``), posted as
  ``multipart/form-data`` with the page language;
* ``POST /xac-minh`` — the verdict (hợp lệ và đang có hiệu lực / hợp lệ nhưng đã được đính
  chính / không hợp lệ / không tìm thấy trên hệ thống), the platform's view and each
  signature (role, signer, timestamp, integrity, trust anchor, revocation).

The PDF goes through :class:`~services.storage.verify_api.PdfVerification`, the same object
as ``POST /v1/verify``: the same size limit, concurrency, audit row and metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from services.storage.access import Requester
from services.storage.verify_api import (
    NotAPdf,
    TooLarge,
    UnsupportedMediaType,
    Verified,
    VerifyOutcome,
    read_upload,
)
from services.storage.web.responses import html_response
from services.storage.web.templates import (
    FieldError,
    unavailable_page,
    verify_form_page,
    verify_result_page,
)
from services.storage.web.texts import Lang, lang_of

__all__ = ["Verification", "VerifyPages"]


class Verification(Protocol):
    """What the pages need of :class:`~services.storage.verify_api.PdfVerification`."""

    max_bytes: int

    async def verify(self, pdf: bytes, requester: Requester) -> VerifyOutcome: ...

    def too_large(self) -> TooLarge: ...


class VerifyPages:
    """The verification routes; mounted in the storage service's :class:`ServiceShell`."""

    def __init__(self, verification: Verification) -> None:
        self._verification = verification

    def routes(self) -> Sequence[web.RouteDef]:
        return [
            web.get("/xac-minh", self.get_form),
            web.post("/xac-minh", self.post_verify),
        ]

    async def get_form(self, request: web.Request) -> web.Response:
        lang = lang_of(request.query.get("lang"))
        return html_response(verify_form_page(lang, self._verification.max_bytes), lang)

    def _form_again(self, lang: Lang, status: int, key: str) -> web.Response:
        limit = self._verification.max_bytes
        values = {"mib": f"{limit / (1024 * 1024):g}"} if key == "err_too_large" else None
        page = verify_form_page(lang, limit, [FieldError("pdf", key, values)])
        return html_response(page, lang, status)

    async def post_verify(self, request: web.Request) -> web.Response:
        """``POST /xac-minh``: the verdict on the file handed in."""
        # The form's action carries the language too: a file too large is refused before
        # the form's other fields are read.
        lang = lang_of(request.query.get("lang"))
        upload = await read_upload(request, self._verification.max_bytes)
        if isinstance(upload, UnsupportedMediaType):
            return self._form_again(lang, 415, "err_form_type")
        if isinstance(upload, TooLarge):
            self._verification.too_large()
            return self._form_again(lang, 413, "err_too_large")
        lang = lang_of(upload.fields.get("lang") or request.query.get("lang"))
        if not upload.pdf:  # a form sent without a file chosen has an empty part
            return self._form_again(lang, 400, "err_pdf_missing")
        outcome = await self._verification.verify(upload.pdf, Requester.of(request, None, "web"))
        if isinstance(outcome, Verified):
            return html_response(verify_result_page(lang, outcome.report, outcome.platform), lang)
        if isinstance(outcome, NotAPdf):
            return self._form_again(lang, 400, "err_not_a_pdf")
        if isinstance(outcome, TooLarge):
            return self._form_again(lang, 413, "err_too_large")
        return html_response(unavailable_page(lang, verify=True), lang, 503)
