"""The record pages as HTML (trang tra cứu và xác minh học bạ): small render functions, no script.

Every value that comes from outside (what a person typed, a school's or a signer's name,
a correction reason, a PDF's certificate subject) goes through :func:`esc`; the texts of
:mod:`services.storage.web.texts` are escaped too. The style sheet is inline and allowed
by its SHA-256 in the Content-Security-Policy (:data:`CONTENT_SECURITY_POLICY`), which
allows no script at all.

Accessibility (WCAG 2.1 AA as far as markup goes): ``<html lang>``, one ``<h1>`` a page,
a skip link, a label for every control, hints and errors tied to their control by
``aria-describedby``, an error summary that takes the focus (``autofocus``, ``role=alert``)
and links to each field, colours with a contrast of at least 4.5:1, and controls at least
48 px high for a finger.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol
from urllib.parse import quote

from services.storage.web.style import CONTENT_SECURITY_POLICY, CSS
from services.storage.web.texts import Lang, other_lang, text
from services.verification import SignatureReport, VerificationReport

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CSS",
    "AccessEntryLike",
    "FieldError",
    "LookupViewLike",
    "PageViewLike",
    "PlatformLike",
    "SignatureLike",
    "SupersessionLike",
    "Verdict",
    "access_log_page",
    "esc",
    "format_time",
    "locked_page",
    "lookup_form_page",
    "not_found_page",
    "result_page",
    "unavailable_page",
    "verdict",
    "verify_form_page",
    "verify_result_page",
]

#: Vietnam keeps one offset all year (UTC+7, no summer time): no time zone database needed.
_VIETNAM: Final = dt.timezone(dt.timedelta(hours=7))
#: Signature roles in the order they sign (the timeline's order).
_ROLES: Final = ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL")


def esc(value: object) -> str:
    """``value`` as HTML text: ``& < > " '`` escaped (safe in text and quoted attributes)."""
    return html.escape(str(value), quote=True)


def _t(lang: Lang, key: str, **values: object) -> str:
    return esc(text(lang, key, **values))


def _t_markup(lang: Lang, key: str, markup: Mapping[str, str], **values: object) -> str:
    """A text with some fields filled by markup made here (a ``<time>`` tag), the text and
    every other value escaped."""
    marks = {name: f"\x00{i}\x00" for i, name in enumerate(markup)}
    plain = {k: str(v).replace("\x00", "") for k, v in values.items()}
    result = esc(text(lang, key, **plain, **marks))
    for name, mark in marks.items():
        result = result.replace(mark, markup[name])
    return result


# --- what the pages show (structural types: the lookup and verification modules' data) -----


class SignatureLike(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def signer_name(self) -> str: ...
    @property
    def signed_at(self) -> dt.datetime | str | None: ...


class PageViewLike(Protocol):
    @property
    def school_year(self) -> str: ...
    @property
    def grade(self) -> int: ...
    @property
    def school_code(self) -> str: ...
    @property
    def school_name(self) -> str | None: ...
    @property
    def year_result(self) -> str | None: ...
    @property
    def completion_statement(self) -> str | None: ...
    @property
    def version(self) -> int: ...
    @property
    def effective_at(self) -> dt.datetime | str | None: ...
    @property
    def signatures(self) -> Sequence[SignatureLike]: ...
    @property
    def signed_complete(self) -> bool: ...
    @property
    def superseded_versions(self) -> int: ...
    @property
    def is_named_page(self) -> bool: ...


class LookupViewLike(Protocol):
    @property
    def student_name(self) -> str: ...
    @property
    def pages(self) -> Sequence[PageViewLike]: ...


class AccessEntryLike(Protocol):
    """One row of a record's access log, as the parents see it."""

    @property
    def at(self) -> dt.datetime | str: ...
    @property
    def action(self) -> str: ...
    @property
    def client_kind(self) -> str | None: ...
    @property
    def client_name(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def school_year(self) -> str | None: ...


class SupersessionLike(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def effective_at(self) -> dt.datetime | None: ...
    @property
    def correction_reason(self) -> str | None: ...


class PlatformLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def record_id(self) -> str | None: ...
    @property
    def school_year(self) -> str | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def current_version(self) -> int | None: ...
    @property
    def pdf_matches_stored(self) -> bool | None: ...
    @property
    def superseded_by(self) -> SupersessionLike | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def reason_vi(self) -> str | None: ...
    @property
    def reason_en(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one form field: the control's id and the text key (with values)."""

    field_id: str
    key: str
    values: Mapping[str, object] | None = None

    def message(self, lang: Lang) -> str:
        return text(lang, self.key, **(self.values or {}))


# --- small pieces -------------------------------------------------------------------------


def _as_datetime(value: dt.datetime | dt.date | str | None) -> dt.datetime | dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(value: dt.datetime | dt.date | str | None, lang: Lang) -> str:
    """A time as people read it here: ``05/09/2024 14:03 (giờ Việt Nam)``; a date alone as
    ``05/09/2024``; an unreadable value as it came (plain text)."""
    parsed = _as_datetime(value)
    if parsed is None:
        return "" if value is None else str(value)
    if not isinstance(parsed, dt.datetime):
        return parsed.strftime("%d/%m/%Y")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    local = parsed.astimezone(_VIETNAM)
    return f"{local:%d/%m/%Y %H:%M} ({text(lang, 'time_zone')})"


def _date(value: dt.datetime | dt.date | str | None) -> str:
    parsed = _as_datetime(value)
    if isinstance(parsed, dt.datetime):
        tz_aware = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
        return tz_aware.astimezone(_VIETNAM).strftime("%d/%m/%Y")
    if isinstance(parsed, dt.date):
        return parsed.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def _time_tag(value: dt.datetime | dt.date | str | None, lang: Lang) -> str:
    parsed = _as_datetime(value)
    shown = format_time(value, lang)
    if parsed is None:
        return esc(shown)
    return f'<time datetime="{esc(parsed.isoformat())}">{esc(shown)}</time>'


def _role_key(role: str) -> str:
    """A signature role as the texts name it, from a SignerRole (``PRINCIPAL``) or a PDF
    field name (``principal``, ``homeroom_teacher``, ``school_seal``)."""
    return role.strip().upper()


def _role(lang: Lang, role: str) -> str:
    key = f"role_{_role_key(role)}"
    try:
        return _t(lang, key)
    except KeyError:
        return esc(role)


def _year_result(lang: Lang, code: str | None) -> str:
    if not code:
        return _t(lang, "not_stated")
    try:
        return _t(lang, f"result_{code}")
    except KeyError:
        return esc(code)


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def _lang_field(lang: Lang) -> str:
    return _hidden("lang", lang)


def _with_lang(path: str, lang: Lang) -> str:
    return path if lang == "vi" else f"{path}?lang=en"


def _switch_link(lang: Lang, path: str) -> str:
    """The language switch of a page reached by GET: the same path in the other language."""
    target = other_lang(lang)
    href = path if target == "vi" else f"{path}?lang=en"
    return (
        f'<a href="{esc(href)}" lang="{target}" hreflang="{target}" '
        f'title="{_t(lang, "switch_hint")}">{_t(lang, "switch_to")}</a>'
    )


def _switch_form(lang: Lang, action: str, fields: Mapping[str, str]) -> str:
    """The language switch of a page answering a POST: the same form sent again in the other
    language (a link would lose the answer, and the birth date must not go into a URL)."""
    target = other_lang(lang)
    hidden = "".join(_hidden(k, v) for k, v in fields.items())
    return (
        f'<form method="post" action="{esc(action)}">{hidden}{_hidden("lang", target)}'
        f'<button type="submit" lang="{target}" title="{_t(lang, "switch_hint")}">'
        f"{_t(lang, 'switch_to')}</button></form>"
    )


def _layout(lang: Lang, title: str, main: str, switch: str) -> str:
    """A whole page: head, skip link, header with the functions and the language switch,
    ``main`` (which holds the page's one ``<h1>``), footer. ``title`` is plain text."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(title)} — {_t(lang, 'site_name')}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        f'<a class="skip" href="#main">{_t(lang, "skip_link")}</a>\n'
        f'<header>\n<p class="brand">{_t(lang, "site_name")}</p>\n'
        f'<nav aria-label="{_t(lang, "nav_label")}"><ul>'
        f'<li><a href="{_with_lang("/tra-cuu", lang)}">{_t(lang, "nav_lookup")}</a></li>'
        f'<li><a href="{_with_lang("/xac-minh", lang)}">{_t(lang, "nav_verify")}</a></li>'
        f"<li>{switch}</li></ul></nav>\n</header>\n"
        f'<main id="main" tabindex="-1">\n{main}\n</main>\n'
        f"<footer><p>{_t(lang, 'footer_privacy')}</p><p>{_t(lang, 'site_owner')}</p></footer>\n"
        "</body>\n</html>\n"
    )


def _error_summary(lang: Lang, errors: Sequence[FieldError]) -> str:
    if not errors:
        return ""
    items = "".join(
        f'<li><a href="#{esc(e.field_id)}">{esc(e.message(lang))}</a></li>' for e in errors
    )
    # autofocus on the summary: a screen reader hears the problem first, without script.
    return (
        '<div class="error-summary" role="alert" tabindex="-1" autofocus '
        'aria-labelledby="error-summary-title">'
        f'<h2 id="error-summary-title">{_t(lang, "error_summary_title")}</h2>'
        f"<ul>{items}</ul></div>"
    )


def _field_error(lang: Lang, errors: Sequence[FieldError], field_id: str) -> FieldError | None:
    return next((e for e in errors if e.field_id == field_id), None)


def _text_field(
    lang: Lang,
    *,
    field_id: str,
    input_type: Literal["text", "date", "file"],
    label_key: str,
    hint_key: str,
    errors: Sequence[FieldError],
    value: str = "",
    extra: str = "",
    hint_values: Mapping[str, object] | None = None,
) -> str:
    """A labelled control with its hint and (if any) its error, both named by
    ``aria-describedby``."""
    error = _field_error(lang, errors, field_id)
    described = [f"{field_id}-hint"]
    error_html = ""
    if error is not None:
        described.append(f"{field_id}-error")
        error_html = (
            f'<p class="error-message" id="{field_id}-error">'
            f'<span class="visually-hidden">{_t(lang, "error_prefix")} </span>'
            f"{esc(error.message(lang))}</p>"
        )
    invalid = ' aria-invalid="true"' if error is not None else ""
    value_attr = f' value="{esc(value)}"' if input_type != "file" else ""
    return (
        f'<div class="field{" field-error" if error is not None else ""}">'
        f'<label for="{field_id}">{_t(lang, label_key)}</label>'
        f'<p class="hint" id="{field_id}-hint">{_t(lang, hint_key, **(hint_values or {}))}</p>'
        f"{error_html}"
        f'<input id="{field_id}" name="{field_id}" type="{input_type}"{value_attr} required '
        f'aria-describedby="{" ".join(described)}"{invalid}{extra}>'
        "</div>"
    )


# --- the lookup form and its refusals --------------------------------------------------


def _lookup_form(
    lang: Lang, code: str, birth_date: str, errors: Sequence[FieldError], focus_birth: bool
) -> str:
    code_field = _text_field(
        lang,
        field_id="code",
        input_type="text",
        label_key="code_label",
        hint_key="code_hint",
        errors=errors,
        value=code,
        extra=' autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="64"',
    )
    # A date picker where the browser has one; where it has none the field is plain text,
    # and the server reads dd/mm/yyyy as well as yyyy-mm-dd.
    birth_field = _text_field(
        lang,
        field_id="birth_date",
        input_type="date",
        label_key="birth_label",
        hint_key="birth_hint",
        errors=errors,
        value=birth_date,
        extra=' placeholder="dd/mm/yyyy" autocomplete="off" min="1990-01-01"'
        + (" autofocus" if focus_birth and not errors else ""),
    )
    return (
        '<form method="post" action="/tra-cuu" novalidate>'
        f"{_lang_field(lang)}{code_field}{birth_field}"
        f'<div class="actions"><button type="submit">{_t(lang, "lookup_submit")}</button></div>'
        "</form>"
    )


def lookup_form_page(
    lang: Lang,
    *,
    code: str = "",
    birth_date: str = "",
    errors: Sequence[FieldError] = (),
    from_qr: bool = False,
) -> str:
    """``GET /tra-cuu`` (empty), ``GET /tra-cuu/{code}`` (the QR target: prefilled, with a
    link to verification) and the form again with its errors."""
    intro = _t(lang, "qr_intro" if from_qr else "lookup_intro")
    verify = (
        f'<p><a href="{_with_lang("/xac-minh", lang)}">{_t(lang, "qr_verify_link")}</a></p>'
        if from_qr
        else ""
    )
    main = (
        f"{_error_summary(lang, errors)}"
        f"<h1>{_t(lang, 'lookup_title')}</h1><p>{intro}</p>"
        f"{_lookup_form(lang, code, birth_date, errors, focus_birth=from_qr)}{verify}"
    )
    path = "/tra-cuu" if not (from_qr and code) else f"/tra-cuu/{quote(code, safe='')}"
    return _layout(lang, text(lang, "lookup_title"), main, _switch_link(lang, path))


def _refusal_page(lang: Lang, title_key: str, body: str, code: str) -> str:
    """A lookup that found nothing to show: what happened, and the form again (the code
    kept, the birth date not: it may be the wrong one)."""
    main = (
        f'<div class="notice bad" role="alert"><h1>{_t(lang, title_key)}</h1>{body}</div>'
        f"{_lookup_form(lang, code, '', (), focus_birth=False)}"
    )
    return _layout(lang, text(lang, title_key), main, _switch_link(lang, "/tra-cuu"))


def not_found_page(lang: Lang, code: str) -> str:
    """The one answer to an unknown code and to a wrong birth date (they must not differ)."""
    body = f"<p>{_t(lang, 'not_found_text')}</p><p>{_t(lang, 'not_found_limit')}</p>"
    return _refusal_page(lang, "not_found_title", body, code)


def locked_page(lang: Lang, code: str, retry_after_s: int) -> str:
    minutes = max(1, -(-retry_after_s // 60))
    body = f"<p>{_t(lang, 'locked_text', minutes=minutes)}</p>"
    return _refusal_page(lang, "locked_title", body, code)


def unavailable_page(lang: Lang, *, verify: bool = False) -> str:
    key = "verify_unavailable" if verify else "unavailable_text"
    main = (
        f'<div class="notice bad" role="alert"><h1>{_t(lang, "unavailable_title")}</h1>'
        f"<p>{_t(lang, key)}</p></div>"
        f'<p><a href="{_with_lang("/xac-minh" if verify else "/tra-cuu", lang)}">'
        f"{_t(lang, 'try_again')}</a></p>"
    )
    return _layout(
        lang,
        text(lang, "unavailable_title"),
        main,
        _switch_link(lang, "/xac-minh" if verify else "/tra-cuu"),
    )


# --- the lookup result -----------------------------------------------------------------


def _post_button(
    lang: Lang, action: str, fields: Mapping[str, str], label_key: str, *, secondary: bool
) -> str:
    hidden = "".join(_hidden(k, v) for k, v in fields.items())
    css = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post" action="{esc(action)}">{hidden}{_lang_field(lang)}'
        f'<button type="submit"{css}>{_t(lang, label_key)}</button></form>'
    )


def _signature_timeline(lang: Lang, signatures: Sequence[SignatureLike]) -> str:
    by_role = {_role_key(s.role): s for s in signatures}
    order = [*_ROLES, *(r for r in by_role if r not in _ROLES)]
    items = []
    for role in order:
        signature = by_role.get(role)
        if signature is None:
            items.append(
                f'<li><span class="role">{_role(lang, role)}</span>: '
                f'<span class="status-warn">{_t(lang, "not_signed")}</span></li>'
            )
            continue
        when = (
            _t_markup(lang, "signed_at", {"time": _time_tag(signature.signed_at, lang)})
            if signature.signed_at is not None
            else _t(lang, "not_signed")
        )
        items.append(
            f'<li class="done"><span class="role">{_role(lang, role)}</span>: '
            f"{esc(signature.signer_name)}, {when}</li>"
        )
    return f'<ol class="timeline">{"".join(items)}</ol>'


def _year_section(lang: Lang, page: PageViewLike, fields: Mapping[str, str]) -> str:
    heading_id = f"year-{esc(page.school_year)}"
    school = esc(page.school_name) if page.school_name else ""
    school_text = f"{school} ({esc(page.school_code)})" if school else esc(page.school_code)
    facts = (
        f"<dt>{_t(lang, 'school')}</dt><dd>{school_text}</dd>"
        f"<dt>{_t(lang, 'grade')}</dt><dd>{esc(page.grade)}</dd>"
        f"<dt>{_t(lang, 'year_result')}</dt><dd>{_year_result(lang, page.year_result)}</dd>"
        f"<dt>{_t(lang, 'completion')}</dt>"
        f"<dd>{esc(page.completion_statement or text(lang, 'not_stated'))}</dd>"
        f"<dt>{_t(lang, 'version')}</dt><dd>{esc(page.version)}</dd>"
        f"<dt>{_t(lang, 'effective_at')}</dt><dd>{_time_tag(page.effective_at, lang)}</dd>"
    )
    complete = (
        f'<p class="status-ok">{_t(lang, "fully_signed")}</p>'
        if page.signed_complete
        else f'<p class="status-warn">{_t(lang, "not_fully_signed")}</p>'
    )
    superseded = (
        f'<p class="notice">{_t(lang, "superseded_versions", count=page.superseded_versions)}</p>'
        if page.superseded_versions
        else ""
    )
    button = _post_button(lang, "/tra-cuu/pdf", fields, "pdf_button", secondary=False)
    pdf = f'<div class="actions">{button}</div>' if page.is_named_page else ""
    return (
        f'<section class="year" aria-labelledby="{heading_id}">'
        f'<h2 id="{heading_id}">{_t(lang, "school_year_heading", year=page.school_year)}</h2>'
        f'<dl class="facts">{facts}</dl>{superseded}'
        f"<h3>{_t(lang, 'signatures_heading')}</h3>"
        f"{_signature_timeline(lang, page.signatures)}{complete}{pdf}</section>"
    )


def result_page(lang: Lang, view: LookupViewLike, code: str, birth_date: str) -> str:
    """``POST /tra-cuu`` found: the student, then each school year (newest first) with its
    signature timeline; the PDF button on the year the code names; the access log."""
    fields = {"code": code, "birth_date": birth_date}
    pages = sorted(view.pages, key=lambda p: p.school_year, reverse=True)
    years = "".join(_year_section(lang, p, fields) for p in pages)
    main = (
        f"<h1>{_t(lang, 'result_title')}</h1>"
        f'<p class="student">{_t(lang, "student")}: {esc(view.student_name)}</p>'
        f"{years}"
        '<div class="actions">'
        f"{_post_button(lang, '/tra-cuu/nhat-ky', fields, 'access_log_button', secondary=True)}"
        f'<a href="{_with_lang("/tra-cuu", lang)}">{_t(lang, "another_lookup")}</a>'
        f'<a href="{_with_lang("/xac-minh", lang)}">{_t(lang, "verify_this")}</a></div>'
    )
    return _layout(lang, text(lang, "result_title"), main, _switch_form(lang, "/tra-cuu", fields))


def _who(lang: Lang, entry: AccessEntryLike) -> str:
    if entry.client_kind is None:
        return _t(lang, "holder")
    try:
        kind = text(lang, f"kind_{entry.client_kind}")
    except KeyError:
        kind = entry.client_kind
    return esc(f"{kind}: {entry.client_name}" if entry.client_name else kind)


def _action(lang: Lang, entry: AccessEntryLike) -> str:
    try:
        what = _t(lang, f"action_{entry.action}")
    except KeyError:
        what = esc(entry.action)
    if entry.school_year:
        what += f" ({_t(lang, 'for_school_year', year=entry.school_year)})"
    return what


def access_log_page(
    lang: Lang,
    entries: Sequence[AccessEntryLike],
    code: str,
    birth_date: str,
    student_name: str | None = None,
    truncated_at: int | None = None,
) -> str:
    """``POST /tra-cuu/nhat-ky``: who read the record, when, and why (newest first;
    ``truncated_at``: the store gave only that many)."""
    fields = {"code": code, "birth_date": birth_date}
    intro = (
        _t(lang, "access_log_intro", name=student_name)
        if student_name
        else _t(lang, "access_log_intro_anonymous")
    )
    if entries:
        rows = "".join(
            f"<tr><td>{_time_tag(e.at, lang)}</td><td>{_who(lang, e)}</td>"
            f"<td>{_action(lang, e)}</td><td>{esc(e.purpose or '')}</td></tr>"
            for e in entries
        )
        table = (
            f'<table><caption class="visually-hidden">{_t(lang, "access_log_title")}</caption>'
            f'<thead><tr><th scope="col">{_t(lang, "col_when")}</th>'
            f'<th scope="col">{_t(lang, "col_who")}</th>'
            f'<th scope="col">{_t(lang, "col_what")}</th>'
            f'<th scope="col">{_t(lang, "col_purpose")}</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        table = f"<p>{_t(lang, 'access_log_empty')}</p>"
    if truncated_at is not None:
        table += f"<p>{_t(lang, 'access_log_truncated', count=truncated_at)}</p>"
    main = (
        f"<h1>{_t(lang, 'access_log_title')}</h1><p>{intro}</p>{table}"
        '<div class="actions">'
        f"{_post_button(lang, '/tra-cuu', fields, 'back_to_record', secondary=True)}</div>"
    )
    return _layout(
        lang, text(lang, "access_log_title"), main, _switch_form(lang, "/tra-cuu/nhat-ky", fields)
    )


# --- verification ------------------------------------------------------------------------


def _mib(limit: int) -> str:
    return f"{limit / (1024 * 1024):g}"


def verify_form_page(lang: Lang, max_bytes: int, errors: Sequence[FieldError] = ()) -> str:
    """``GET /xac-minh``: one file field (PDF only), posted as multipart/form-data."""
    field = _text_field(
        lang,
        field_id="pdf",
        input_type="file",
        label_key="pdf_label",
        hint_key="pdf_hint",
        errors=errors,
        extra=' accept="application/pdf,.pdf"',
    )
    main = (
        f"{_error_summary(lang, errors)}"
        f"<h1>{_t(lang, 'verify_title')}</h1>"
        f"<p>{_t(lang, 'verify_intro', mib=_mib(max_bytes))}</p>"
        # The language in the action too: a file too large is refused before its form's
        # other fields are read.
        f'<form method="post" action="{_with_lang("/xac-minh", lang)}" '
        'enctype="multipart/form-data" novalidate>'
        f"{_lang_field(lang)}{field}"
        f'<div class="actions"><button type="submit">{_t(lang, "verify_submit")}</button></div>'
        "</form>"
    )
    return _layout(lang, text(lang, "verify_title"), main, _switch_link(lang, "/xac-minh"))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The one-line conclusion of a verification, its tone and the sentence that explains it."""

    key: str
    tone: Literal["good", "warn", "bad"]
    detail: str


def _broken(report: VerificationReport) -> bool:
    return (
        any(not s.intact or not s.lock_holds for s in report.signatures)
        or any(not t.timestamp.intact or not t.lock_holds for t in report.document_timestamps)
        or report.seal_lock_holds is False
        or (report.embedded_file is not None and report.embedded_file.matches is False)
    )


def verdict(lang: Lang, report: VerificationReport, platform: PlatformLike) -> Verdict:
    """What the person needs to know first: may this file be used as the record?

    The signatures decide validity (offline); the platform only says whether a valid file
    is the version in force. A platform that cannot be asked never makes a file invalid.
    """
    if not report.valid:
        if not report.signatures:
            return Verdict("verdict_unsigned", "bad", text(lang, "verdict_invalid_text"))
        if _broken(report):
            return Verdict("verdict_broken", "bad", text(lang, "verdict_broken_text"))
        stamps = [s.timestamp for s in report.signatures if s.timestamp is not None]
        if any(s.revocation == "revoked" for s in report.signatures) or any(
            t.revocation == "revoked" for t in stamps
        ):
            return Verdict("verdict_revoked", "bad", text(lang, "verdict_invalid_text"))
        if any(s.trust_anchor is None for s in report.signatures) or any(
            not t.trusted for t in stamps
        ):
            return Verdict("verdict_untrusted", "bad", text(lang, "verdict_invalid_text"))
        return Verdict("verdict_invalid", "bad", text(lang, "verdict_invalid_text"))
    if platform.status == "current":
        detail = text(
            lang, "verdict_current_text", version=platform.version, year=platform.school_year
        )
        return Verdict("verdict_current", "good", detail)
    if platform.status == "superseded":
        successor = platform.superseded_by
        if successor is None:
            detail = text(
                lang,
                "verdict_superseded_short",
                version=platform.version,
                current=platform.current_version,
            )
        else:
            detail = text(
                lang,
                "verdict_superseded_text",
                version=platform.version,
                new_version=successor.version,
                date=_date(successor.effective_at) or "?",
                reason=successor.correction_reason or text(lang, "reason_not_stated"),
            )
        return Verdict("verdict_superseded", "warn", detail)
    reason = platform.reason_en if lang == "en" else platform.reason_vi
    if platform.reason == "unavailable":
        return Verdict("verdict_unknown", "warn", reason or "")
    return Verdict("verdict_not_found", "bad", reason or text(lang, "verdict_not_found_text"))


def _revocation(lang: Lang, value: str) -> str:
    css = {"good": "status-ok", "revoked": "status-bad"}.get(value, "status-warn")
    return f'<span class="{css}">{_t(lang, f"revocation_{value}")}</span>'


def _signature_item(lang: Lang, signature: SignatureReport) -> str:
    stamp = signature.timestamp
    when = (
        _t(lang, "no_timestamp")
        if stamp is None
        else _t_markup(
            lang, "timestamp_by", {"time": _time_tag(stamp.time, lang)}, authority=stamp.authority
        )
    )
    if not signature.intact:
        integrity = f'<span class="status-bad">{_t(lang, "tampered")}</span>'
    elif not signature.lock_holds:
        integrity = f'<span class="status-bad">{_t(lang, "lock_broken")}</span>'
    else:
        integrity = f'<span class="status-ok">{_t(lang, "intact")}</span>'
    trust = (
        f'<span class="status-ok">{_t(lang, "trusted_by", anchor=signature.trust_anchor)}</span>'
        if signature.trust_anchor
        else f'<span class="status-bad">{_t(lang, "untrusted")}</span>'
    )
    overall = (
        f'<span class="status-ok">{_t(lang, "signature_valid")}</span>'
        if signature.valid
        else f'<span class="status-bad">{_t(lang, "signature_invalid")}</span>'
    )
    css = "done" if signature.valid else "broken"
    problems = "".join(f'<li lang="en">{esc(p)}</li>' for p in signature.problems)
    return (
        f'<li class="{css}"><p><span class="role">{_role(lang, signature.field_name)}</span>: '
        f"{overall}</p>"
        f'<dl class="facts"><dt>{_t(lang, "signer")}</dt><dd>{esc(signature.signer_name)}</dd>'
        f"<dt>{_t(lang, 'time')}</dt><dd>{when}</dd>"
        f"<dt>{_t(lang, 'integrity')}</dt><dd>{integrity}</dd>"
        f"<dt>{_t(lang, 'trust')}</dt><dd>{trust}</dd>"
        f"<dt>{_t(lang, 'revocation')}</dt><dd>{_revocation(lang, signature.revocation)}</dd>"
        f"</dl>{f'<ul>{problems}</ul>' if problems else ''}</li>"
    )


def _platform_section(lang: Lang, platform: PlatformLike) -> str:
    if platform.status == "current":
        line = _t(
            lang,
            "platform_current",
            version=platform.version,
            record_id=platform.record_id,
            year=platform.school_year,
        )
    elif platform.status == "superseded":
        line = _t(
            lang,
            "platform_superseded",
            version=platform.version,
            record_id=platform.record_id,
            year=platform.school_year,
            current=platform.current_version,
        )
    else:
        line = esc((platform.reason_en if lang == "en" else platform.reason_vi) or "")
    same = ""
    if platform.pdf_matches_stored is True:
        same = f"<p>{_t(lang, 'platform_same_file')}</p>"
    elif platform.pdf_matches_stored is False:
        same = f"<p>{_t(lang, 'platform_same_content')}</p>"
    return (
        f'<section aria-labelledby="platform-heading">'
        f'<h2 id="platform-heading">{_t(lang, "platform_heading")}</h2><p>{line}</p>{same}'
        "</section>"
    )


def verify_result_page(lang: Lang, report: VerificationReport, platform: PlatformLike) -> str:
    """``POST /xac-minh``: the verdict first, then the platform's view, then each signature
    (teacher → principal → seal) and the document timestamps."""
    conclusion = verdict(lang, report, platform)
    signatures = "".join(_signature_item(lang, s) for s in report.signatures)
    stamps = "".join(
        f'<li class="{"done" if t.valid else "broken"}"><span class="role">'
        f"{_t(lang, 'document_timestamp')}</span>: "
        + _t_markup(
            lang,
            "timestamp_by",
            {"time": _time_tag(t.timestamp.time, lang)},
            authority=t.timestamp.authority,
        )
        + "</li>"
        for t in report.document_timestamps
    )
    problems = "".join(f'<li lang="en">{esc(p)}</li>' for p in report.problems)
    main = (
        f"<h1>{_t(lang, 'verify_result_title')}</h1>"
        f'<div class="verdict {conclusion.tone}" role="status">'
        f"<p>{_t(lang, 'verdict_label')}:</p>"
        f'<p class="verdict-line" id="verdict">{_t(lang, conclusion.key)}</p>'
        f"<p>{esc(conclusion.detail)}</p></div>"
        f"{_platform_section(lang, platform)}"
        '<section aria-labelledby="signatures-heading">'
        f'<h2 id="signatures-heading">{_t(lang, "signatures_report_heading")}</h2>'
        f'<ol class="timeline">{signatures}{stamps}</ol>'
        f"<p>{_t(lang, 'report_level', level=report.level)}</p>"
        + (f"<h3>{_t(lang, 'problems_heading')}</h3><ul>{problems}</ul>" if problems else "")
        + "</section>"
        f'<p><a href="{_with_lang("/xac-minh", lang)}">{_t(lang, "verify_another")}</a></p>'
    )
    return _layout(lang, text(lang, "verify_result_title"), main, _switch_link(lang, "/xac-minh"))
