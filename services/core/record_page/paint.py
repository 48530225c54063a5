"""The display list painted onto PDF pages with reportlab, reproducibly.

reportlab runs in invariant mode: no clock, no random document id (the id is an MD5
of the document information, which here names the record, its version and the
SHA-256 of its data, so it differs between records). The document dates are the
caller's (the record's validation time); reportlab's own fixed date is used only
when none is given. Fonts are embedded as subsets of the registered TrueType files.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.graphics.barcode import qrencoder  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from services.core.record_page.fonts import FontNames
from services.core.record_page.layout import (
    PAGE_HEIGHT,
    PAGE_WIDTH,
    Box,
    Line,
    Op,
    Qr,
    Text,
)

__all__ = ["DocumentInfo", "paint", "qr_modules"]

# Four modules of white on every side: the quiet zone scanners need (ISO/IEC 18004).
_QUIET_ZONE = 4


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """The PDF document information dictionary."""

    title: str
    author: str
    subject: str
    keywords: str
    created: dt.datetime | None = None


def qr_modules(payload: str) -> list[list[bool]]:
    """The dark (True) and light modules of the QR code of ``payload``, top row first.

    Error correction level M (15 % of the code may be damaged or covered); the mask
    is the one of lowest penalty, as ISO/IEC 18004 asks.
    """
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(payload)
    code.make()
    return [list(row) for row in code.modules]


def _draw_qr(canvas: Any, qr: Qr) -> None:
    modules = qr_modules(qr.payload)
    module = qr.size / (len(modules) + 2 * _QUIET_ZONE)
    # One rectangle per horizontal run of dark modules, in module units with the origin at
    # the top-left module and rows downwards, written as PDF operators: whole numbers only,
    # which keeps the content stream small and the drawing fast.
    runs: list[str] = []
    for r, row in enumerate(modules):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            runs.append(f"{start} {r} {c - start} 1 re")
    canvas.saveState()
    canvas.translate(qr.x + _QUIET_ZONE * module, qr.y + qr.size - _QUIET_ZONE * module)
    canvas.scale(module, -module)
    canvas.setFillGray(0)
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()


def _pdf_date(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return utc.strftime("D:%Y%m%d%H%M%S+00'00'")


def _draw_page(canvas: Any, ops: Sequence[Op], fonts: FontNames) -> None:
    """Boxes and lines first (table fills lie under the text), then every text in one text
    object, then the QR code; graphics state is set only when it changes."""
    fill: float | None = None
    canvas.setStrokeGray(0.35)
    canvas.setLineWidth(0.4)
    for op in ops:
        if isinstance(op, Box):
            if op.fill is not None and op.fill != fill:
                canvas.setFillGray(op.fill)
                fill = op.fill
            canvas.rect(
                op.x,
                op.y,
                op.width,
                op.height,
                stroke=int(op.stroke),
                fill=int(op.fill is not None),
            )
        elif isinstance(op, Line):
            canvas.saveState()
            canvas.setStrokeGray(0.5)
            canvas.setLineWidth(op.width)
            canvas.line(op.x1, op.y1, op.x2, op.y2)
            canvas.restoreState()
    text = canvas.beginText()
    font: tuple[str, float] | None = None
    fill = None
    for op in ops:
        if not isinstance(op, Text):
            continue
        wanted = (fonts.bold if op.bold else fonts.regular, op.size)
        if wanted != font:
            text.setFont(*wanted)
            font = wanted
        if op.gray != fill:
            text.setFillGray(op.gray)
            fill = op.gray
        x = op.x
        if op.align != "left":
            width = canvas.stringWidth(op.text, *wanted)
            x -= width / 2 if op.align == "center" else width
        text.setTextOrigin(x, op.y)
        text.textLine(op.text)
    canvas.drawText(text)
    for op in ops:
        if isinstance(op, Qr):
            _draw_qr(canvas, op)


def paint(pages: Sequence[Sequence[Op]], fonts: FontNames, info: DocumentInfo) -> bytes:
    """The PDF (one revision, no form yet) of the laid-out pages."""
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        invariant=1,
        pageCompression=1,
        lang="vi-VN",
        # Otherwise reportlab starts every page in Helvetica, a font it does not embed.
        initialFontName=fonts.regular,
        initialFontSize=7,
    )
    canvas.setTitle(info.title)
    canvas.setAuthor(info.author)
    canvas.setSubject(info.subject)
    canvas.setKeywords(info.keywords)
    canvas.setCreator("Nền tảng học bạ số")
    if info.created is not None:
        stamp = _pdf_date(info.created)
        canvas.setDateFormatter(lambda *_: stamp)
    for ops in pages:
        _draw_page(canvas, ops, fonts)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
