"""The display list painted as PDF pages: content streams, fonts, page objects.

Each page's content stream is written directly as PDF operators: boxes and lines first
(table fills lie under the text), then every text in one text object, then the QR
code; graphics state is set only when it changes. Text is set in the embedded subsets
of :mod:`.subsets`, positioned by the layout (which measured it with reportlab's
metrics of the same fonts). All pages share one resource dictionary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

from services.core.record_page.fonts import FontNames
from services.core.record_page.layout import PAGE_HEIGHT, PAGE_WIDTH, Box, Line, Op, Qr, Text
from services.core.record_page.pdf import PdfWriter, number, ref, stream
from services.core.record_page.qr import qr_rows
from services.core.record_page.subsets import DocumentFont

__all__ = ["paint"]

# Four modules of white on every side: the quiet zone scanners need (ISO/IEC 18004).
_QUIET_ZONE: Final = 4
_DARK_RUN: Final = re.compile("1+")
# Path painting by (stroke, fill): even-odd fill, as reportlab painted the page before.
_PAINT: Final = {(True, True): "B*", (True, False): "S", (False, True): "f*", (False, False): "n"}


def _qr(qr: Qr) -> list[str]:
    """The QR code as one path of rectangles, one per horizontal run of dark modules, drawn
    in module units with the origin at the top-left module and rows downwards."""
    rows = qr_rows(qr.payload)
    module = qr.size / (len(rows) + 2 * _QUIET_ZONE)
    left = qr.x + _QUIET_ZONE * module
    top = qr.y + qr.size - _QUIET_ZONE * module
    ops = ["q", f"{number(module)} 0 0 {number(-module)} {number(left)} {number(top)} cm", "0 g"]
    for y, row in enumerate(rows):
        ops.extend(f"{m.start()} {y} {m.end() - m.start()} 1 re" for m in _DARK_RUN.finditer(row))
    ops.extend(("f", "Q"))
    return ops


def _content(
    ops: Sequence[Op], fonts: FontNames, regular: DocumentFont, bold: DocumentFont
) -> bytes:
    parts = [".35 G", ".4 w"]
    fill: float | None = None
    for op in ops:
        if isinstance(op, Box):
            if op.fill is not None and op.fill != fill:
                parts.append(f"{number(op.fill)} g")
                fill = op.fill
            paint_op = _PAINT[op.stroke, op.fill is not None]
            parts.append(
                f"n {number(op.x)} {number(op.y)} {number(op.width)} {number(op.height)}"
                f" re {paint_op}"
            )
        elif isinstance(op, Line):
            parts.append(
                f"q .5 G {number(op.width)} w n {number(op.x1)} {number(op.y1)} m"
                f" {number(op.x2)} {number(op.y2)} l S Q"
            )
    parts.append("BT")
    font: tuple[str, float] | None = None
    for op in ops:
        if not isinstance(op, Text) or not op.text:
            continue
        if op.gray != fill:
            parts.append(f"{number(op.gray)} g")
            fill = op.gray
        x = op.x
        if op.align != "left":
            name = fonts.bold if op.bold else fonts.regular
            width = stringWidth(op.text, name, op.size)
            x -= width / 2 if op.align == "center" else width
        parts.append(f"1 0 0 1 {number(x)} {number(op.y)} Tm")
        for resource, text in (bold if op.bold else regular).runs(op.text):
            if (resource, op.size) != font:
                font = (resource, op.size)
                parts.append(f"/{resource} {number(op.size)} Tf")
            parts.append(f"({text}) Tj")
    parts.append("ET")
    for op in ops:
        if isinstance(op, Qr):
            parts.extend(_qr(op))
    return "\n".join(parts).encode("latin-1")


def paint(
    writer: PdfWriter,
    numbers: Sequence[int],
    pages: Sequence[Sequence[Op]],
    fonts: FontNames,
    annotations: Mapping[int, Sequence[int]],
) -> int:
    """Write ``pages`` as the page objects ``numbers`` (reserved in ``writer``), with the
    annotations (widgets) given by page index; returns the number of the page tree."""
    regular, bold = DocumentFont(fonts.regular, "R"), DocumentFont(fonts.bold, "B")
    contents = [writer.add(stream("", _content(ops, fonts, regular, bold))) for ops in pages]
    resources = regular.write(writer) | bold.write(writer)
    font_entries = " ".join(f"/{name} {ref(font)}" for name, font in resources.items())
    resources_number = writer.add(f"<< /Font << {font_entries} >> /ProcSet [/PDF /Text] >>")
    tree = writer.reserve()
    media_box = f"[0 0 {number(PAGE_WIDTH)} {number(PAGE_HEIGHT)}]"
    for index, (page, content) in enumerate(zip(numbers, contents, strict=True)):
        widgets = annotations.get(index)
        annots = f" /Annots [{' '.join(map(ref, widgets))}]" if widgets else ""
        writer.put(
            page,
            f"<< /Type /Page /Parent {ref(tree)} /MediaBox {media_box}"
            f" /Resources {ref(resources_number)} /Contents {ref(content)}{annots} >>",
        )
    kids = " ".join(map(ref, numbers))
    writer.put(tree, f"<< /Type /Pages /Kids [{kids}] /Count {len(numbers)} >>")
    return tree
