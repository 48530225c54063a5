"""``render_year_page``: a validated year record to its official PDF page, in one pure call."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from services.core.record_page.content import page_content
from services.core.record_page.contract import (
    PageFonts,
    PageIdentity,
    RecordPageError,
)
from services.core.record_page.fonts import register_fonts
from services.core.record_page.form import add_form
from services.core.record_page.layout import lay_out
from services.core.record_page.paint import paint
from services.core.record_page.pdf import DocumentInfo, PdfWriter, ref

__all__ = ["render_year_page"]


def render_year_page(
    validated: Mapping[str, Any], identity: PageIdentity, record_json: bytes, fonts: PageFonts
) -> bytes:
    """The PDF of one school year's page of the học bạ, ready to be signed.

    ``validated``: a ValidatedRecord datum as fastavro decodes it. ``record_json``: the
    canonical JSON of the record, attached to the PDF as ``hoc-ba.json``
    (``EMBEDDED_RECORD_NAME``) with its SHA-256 printed on the page. The same arguments
    give the same bytes. Raises :class:`RecordPageError` for a datum that does not follow
    the schema or an unusable font.
    """
    sha256 = hashlib.sha256(record_json).hexdigest()
    names = register_fonts(fonts)
    try:
        content = page_content(validated, identity, sha256)
        record = validated["record"]
        student, school_year = record["student"]["full_name"], record["school_year"]
        author = record["school"]["school_name"]
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise RecordPageError(f"not a ValidatedRecord datum: {exc!r}") from exc
    layout = lay_out(content, names)
    validated_at = validated.get("validated_at")
    info = DocumentInfo(
        title=f"Học bạ năm học {school_year} — {student}",
        author=author,
        subject=content.subtitle,
        keywords=f"{identity.record_id}; phiên bản {identity.version}; SHA-256 {sha256}",
        creator="Nền tảng học bạ số",
        created=validated_at if isinstance(validated_at, dt.datetime) else None,
    )
    # One revision: the pages, their signature fields and the attached record together.
    writer = PdfWriter()
    pages = [writer.reserve() for _ in layout.pages]
    form = add_form(
        writer, pages, layout.fields, record_json, f"Dữ liệu học bạ (JSON), SHA-256 {sha256}"
    )
    tree = paint(writer, pages, layout.pages, names, form.annotations)
    catalog = writer.add(f"<< /Type /Catalog /Pages {ref(tree)} /Lang (vi-VN) {form.catalog} >>")
    return writer.write(catalog, writer.add(info.dictionary()))
