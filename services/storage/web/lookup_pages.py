"""The lookup pages (tra cứu học bạ số), served by storage.

========================  ===================================================================
``GET /``, ``/tra-cuu``   the form: lookup code and the student's date of birth
``GET /tra-cuu/{code}``   the same form with the code filled in: what the QR code printed on
                          every page opens (``{HOCBA_PUBLIC_URL}/tra-cuu/{code}``)
``POST /tra-cuu``         the record (student; per school year: school, grade, result,
                          completion, version, signature timeline), or the one "not found"
                          answer (unknown code and wrong birth date alike), or "locked"
``POST /tra-cuu/pdf``     the signed PDF of the page the code names (the birth date in the
                          body, never in a URL)
``POST /tra-cuu/nhat-ky`` who read the record (the access log)
========================  ===================================================================

The pages ask :class:`~services.storage.lookup.RecordLookup`, the same object as the JSON
API, so the second factor, the limits, the response-time floor and the audit trail are the
same for both. A form without a code or without a real birth date is answered with the
form and its errors, without a lookup (as the API answers 400 before any lookup).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from aiohttp import web

from services.storage.access import Requester
from services.storage.lookup import (
    AccessLogFound,
    AccessLogOutcome,
    BirthDateRequired,
    Found,
    InvalidCode,
    Locked,
    LookupOutcome,
    NotFound,
    PdfFound,
    PdfOutcome,
    Unavailable,
)
from services.storage.record_ids import parse_code
from services.storage.web.forms import BadForm, parse_birth_date, read_form
from services.storage.web.responses import SECURITY_HEADERS, html_response
from services.storage.web.templates import (
    FieldError,
    access_log_page,
    locked_page,
    lookup_form_page,
    not_found_page,
    result_page,
    unavailable_page,
)
from services.storage.web.texts import Lang, lang_of

__all__ = ["Lookup", "LookupPages"]

#: What a code shown back in a form keeps of what was typed or put in a URL.
_CODE_SHOWN_MAX: Final = 64


class Lookup(Protocol):
    """What the pages need of :class:`~services.storage.lookup.RecordLookup`."""

    async def look_up(
        self, code: str, birth_date: str | None, requester: Requester
    ) -> LookupOutcome: ...

    async def pdf(self, code: str, birth_date: str | None, requester: Requester) -> PdfOutcome: ...

    async def access_log(
        self, code: str, birth_date: str | None, requester: Requester
    ) -> AccessLogOutcome: ...


def _shown(code: str) -> str:
    return "".join(ch for ch in code if ch.isprintable())[:_CODE_SHOWN_MAX]


class _Form:
    """A lookup form read and checked: its language, code and ISO birth date, or the page
    that says what is wrong with it."""

    def __init__(
        self, lang: Lang, code: str, birth_date: str, refusal: web.Response | None
    ) -> None:
        self.lang = lang
        self.code = code
        self.birth_date = birth_date
        self.refusal = refusal


async def _checked_form(request: web.Request) -> _Form:
    try:
        form = await read_form(request)
    except BadForm:
        lang = lang_of(request.query.get("lang"))
        page = lookup_form_page(lang, errors=[FieldError("code", "err_form_too_large")])
        return _Form(lang, "", "", html_response(page, lang, 400))
    lang = lang_of(form.get("lang") or request.query.get("lang"))
    code = _shown(form.get("code", "").strip())
    typed_date = form.get("birth_date", "").strip()
    birth_date = parse_birth_date(typed_date) if typed_date else None
    errors: list[FieldError] = []
    if not code:
        errors.append(FieldError("code", "err_code_missing"))
    if not typed_date:
        errors.append(FieldError("birth_date", "err_birth_missing"))
    elif birth_date is None:
        errors.append(FieldError("birth_date", "err_birth_invalid"))
    if errors or birth_date is None:
        # Refused before any lookup, as the JSON API refuses a request without a birth
        # date; a mistyped code is said at the same time, to be corrected in one go.
        if code and parse_code(code) is None:
            errors.insert(0, FieldError("code", "err_code_invalid"))
        page = lookup_form_page(lang, code=code, birth_date=typed_date[:32], errors=errors)
        return _Form(lang, code, "", html_response(page, lang, 400))
    # A mistyped code with a good birth date goes to the lookup, which audits it and counts
    # it against the client's limit exactly as for the JSON API (InvalidCode: its page).
    return _Form(lang, code, birth_date, None)


def _refused(form: _Form, outcome: object) -> web.Response:
    """The page of every outcome that is not the thing asked for."""
    lang, code = form.lang, form.code
    if isinstance(outcome, NotFound):
        return html_response(not_found_page(lang, code), lang, 404)
    if isinstance(outcome, Locked):
        wait = max(1, outcome.retry_after_s)
        page = locked_page(lang, code, wait)
        return html_response(page, lang, 429, **{"Retry-After": str(wait)})
    if isinstance(outcome, InvalidCode):
        errors = [FieldError("code", "err_code_invalid")]
        page = lookup_form_page(lang, code=code, birth_date=form.birth_date, errors=errors)
        return html_response(page, lang, 400)
    if isinstance(outcome, BirthDateRequired):
        errors = [FieldError("birth_date", "err_birth_missing")]
        return html_response(lookup_form_page(lang, code=code, errors=errors), lang, 400)
    if not isinstance(outcome, Unavailable):
        raise TypeError(f"no page for the lookup outcome {type(outcome).__name__}")
    return html_response(unavailable_page(lang), lang, 503)


class LookupPages:
    """The lookup routes; mounted in the storage service's :class:`ServiceShell`."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup

    def routes(self) -> Sequence[web.RouteDef]:
        return [
            web.get("/", self.get_form),
            web.get("/tra-cuu", self.get_form),
            web.get("/tra-cuu/{code}", self.get_form_for_code),
            web.post("/tra-cuu", self.post_lookup),
            web.post("/tra-cuu/pdf", self.post_pdf),
            web.post("/tra-cuu/nhat-ky", self.post_access_log),
        ]

    async def get_form(self, request: web.Request) -> web.Response:
        lang = lang_of(request.query.get("lang"))
        return html_response(lookup_form_page(lang), lang)

    async def get_form_for_code(self, request: web.Request) -> web.Response:
        """The QR code's target: the form, the code filled in, the birth date to type."""
        lang = lang_of(request.query.get("lang"))
        code = _shown(request.match_info["code"])
        return html_response(lookup_form_page(lang, code=code, from_qr=True), lang)

    async def post_lookup(self, request: web.Request) -> web.Response:
        """``POST /tra-cuu``: the record, or why not."""
        form = await _checked_form(request)
        if form.refusal is not None:
            return form.refusal
        requester = Requester.of(request, None, "web")
        outcome = await self._lookup.look_up(form.code, form.birth_date, requester)
        if not isinstance(outcome, Found):
            return _refused(form, outcome)
        page = result_page(form.lang, outcome.view, form.code, form.birth_date)
        return html_response(page, form.lang)

    async def post_pdf(self, request: web.Request) -> web.Response:
        """``POST /tra-cuu/pdf``: the signed PDF as an attachment, or a page saying why not."""
        form = await _checked_form(request)
        if form.refusal is not None:
            return form.refusal
        requester = Requester.of(request, None, "web")
        outcome = await self._lookup.pdf(form.code, form.birth_date, requester)
        if not isinstance(outcome, PdfFound):
            return _refused(form, outcome)
        return web.Response(
            body=outcome.pdf,
            content_type="application/pdf",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="{outcome.filename}"',
            },
        )

    async def post_access_log(self, request: web.Request) -> web.Response:
        """``POST /tra-cuu/nhat-ky``: who read the record, when, and why."""
        form = await _checked_form(request)
        if form.refusal is not None:
            return form.refusal
        requester = Requester.of(request, None, "web")
        outcome = await self._lookup.access_log(form.code, form.birth_date, requester)
        if not isinstance(outcome, AccessLogFound):
            return _refused(form, outcome)
        log = outcome.log
        page = access_log_page(
            form.lang,
            log.entries,
            form.code,
            form.birth_date,
            log.student_name,
            truncated_at=log.limit if log.truncated else None,
        )
        return html_response(page, form.lang)
