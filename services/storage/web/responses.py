"""How every record page is sent: HTML in UTF-8 with the security headers.

Every answer is ``Cache-Control: no-store`` (a birth date and a record are on it), framed by
no one, referred to no one, and allowed no script (the Content-Security-Policy of
:mod:`services.storage.web.templates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiohttp import web

from services.storage.web.style import CONTENT_SECURITY_POLICY
from services.storage.web.texts import Lang

__all__ = ["SECURITY_HEADERS", "html_response"]

#: Headers of every page (and of the PDF download).
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


def html_response(body: str, lang: Lang, status: int = 200, **headers: str) -> web.Response:
    """A page, with the security headers and its language."""
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Content-Language": lang, **headers},
    )
