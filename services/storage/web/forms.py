"""What the record pages read from a request: the language, a small urlencoded form, a birth date.

Forms are read by hand, never beyond :data:`FORM_MAX_BYTES` (the service accepts request
bodies of 64 MiB for other routes), and a birth date is read as people write it: the
date picker sends ``yyyy-mm-dd``; where a browser has no picker the field is plain text
and ``dd/mm/yyyy`` (also with ``-`` or ``.``) is read too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["FORM_MAX_BYTES", "BadForm", "parse_birth_date", "read_form"]

#: A lookup form is a code, a date and a language: far below this.
FORM_MAX_BYTES: Final = 4096
_FIELDS_MAX: Final = 16
_ISO: Final = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_DAY_FIRST: Final = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})")
#: No pupil of a primary school was born before this (the API accepts any real date).
_EARLIEST: Final = dt.date(1900, 1, 1)


class BadForm(Exception):
    """The body is not a small urlencoded form (too large, another type, undecodable)."""


async def read_form(request: web.Request) -> Mapping[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (first value of each);
    raises :class:`BadForm`. Never reads more than :data:`FORM_MAX_BYTES` + 1 bytes."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise BadForm(f"content type {request.content_type!r}")
    declared = request.content_length
    if declared is not None and declared > FORM_MAX_BYTES:
        raise BadForm(f"{declared} bytes")
    body = b""
    # read(n) returns what has arrived (up to n bytes), not necessarily the whole body.
    while chunk := await request.content.read(FORM_MAX_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            raise BadForm("too large")
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_FIELDS_MAX,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm(str(exc)) from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def parse_birth_date(value: str) -> str | None:
    """``value`` as an ISO date (``2014-09-05``), or None when it is not a real date.

    Reads ``yyyy-mm-dd`` (the date picker) and ``dd/mm/yyyy``, ``dd-mm-yyyy``,
    ``dd.mm.yyyy`` (typed, day first as Vietnamese dates are written).
    """
    cleaned = value.strip()
    if (iso := _ISO.fullmatch(cleaned)) is not None:
        year, month, day = (int(part) for part in iso.groups())
    elif (day_first := _DAY_FIRST.fullmatch(cleaned)) is not None:
        day, month, year = (int(part) for part in day_first.groups())
    else:
        return None
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    if not _EARLIEST <= date <= dt.date.today() + dt.timedelta(days=1):
        return None
    return date.isoformat()
