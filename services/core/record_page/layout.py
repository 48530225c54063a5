"""Where everything goes: the page content as a display list of positioned texts, lines and boxes.

A4 portrait, points from the bottom-left corner (PDF coordinates). The layout flows
top-down and starts a continuation page when a table row or a block does not fit,
so an unusually long record is never cut; a normal year fits on one page. Tables
repeat their header after a page break; the signature block is kept whole and
always ends the document, so the signature fields sit on the last page.

Laying out first and painting afterwards (:mod:`.paint`) lets the footer say
"Trang 1/2" and lets tests read what was placed without parsing a PDF.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

from services.core.record_page.content import PageContent, Row, SignatureBox
from services.core.record_page.fonts import FontNames

__all__ = ["Box", "FieldPlace", "Line", "Op", "PageLayout", "Qr", "Text", "lay_out"]

Align = Literal["left", "center", "right"]

PAGE_WIDTH: Final[float] = A4[0]
PAGE_HEIGHT: Final[float] = A4[1]
_MARGIN: Final = 36.0
_LEFT: Final = _MARGIN
_RIGHT: Final = PAGE_WIDTH - _MARGIN
_WIDTH: Final = _RIGHT - _LEFT
_TOP: Final = PAGE_HEIGHT - 30.0
_BOTTOM: Final = 36.0  # above the footer
_FOOTER_Y: Final = 22.0

_BODY: Final = 7.0  # body text size (pt)
_LEADING: Final = 8.4
_SMALL: Final = 6.2
_SECTION: Final = 8.0
_PAD: Final = 1.5  # vertical padding inside a table cell
_CELL_X: Final = 2.5  # horizontal padding inside a table cell
_GAP: Final = 5.0  # between sections
_HEADER_FILL: Final = 0.9  # gray level of table headers
_GROUP_FILL: Final = 0.96
_LABEL_GRAY: Final = 0.3
_QR_SIZE: Final = 74.0  # 26 mm, quiet zone included
_SIGNATURE_HEIGHT: Final = 46.0

_SUBJECT_HEADER: Final = (
    "Môn học và hoạt động giáo dục",
    "Mức đạt được",
    "Điểm KTĐK cuối năm",
    "Nhận xét",
)
_RATING_HEADER: Final = ("Nội dung", "Mức", "Nhận xét")
_MOTTO: Final = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text; ``y`` is its baseline."""

    x: float
    y: float
    text: str
    size: float = _BODY
    bold: bool = False
    align: Align = "left"
    gray: float = 0.0


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.5


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle from its lower-left corner; ``fill`` is a gray level, None for no fill."""

    x: float
    y: float
    width: float
    height: float
    fill: float | None = None
    stroke: bool = True


@dataclass(frozen=True, slots=True)
class Qr:
    """A QR code encoding ``payload``, quiet zone included in ``size``."""

    x: float
    y: float
    size: float
    payload: str


Op = Text | Line | Box | Qr


@dataclass(frozen=True, slots=True)
class FieldPlace:
    """Where an empty signature field goes: page index and integer box (llx, lly, urx, ury)."""

    name: str
    label: str
    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class PageLayout:
    pages: tuple[tuple[Op, ...], ...]
    fields: tuple[FieldPlace, ...]


@dataclass(frozen=True, slots=True)
class _Table:
    """A table with its cells already wrapped to the column widths."""

    widths: tuple[float, ...]
    aligns: tuple[Align, ...]
    header: tuple[tuple[str, ...], ...]
    header_height: float
    rows: tuple[tuple[tuple[str, ...], ...], ...]
    kinds: tuple[str, ...]
    heights: tuple[float, ...]

    @property
    def height(self) -> float:
        return self.header_height + sum(self.heights)


@functools.lru_cache(maxsize=16384)
def _string_width(text: str, font: str, size: float) -> float:
    # Pages repeat most words (labels, headings, the usual comments): measured once each.
    return float(stringWidth(text, font, size))


@dataclass(slots=True)
class _Flow:
    """The cursor of the top-down layout and the pages laid out so far."""

    fonts: FontNames
    pages: list[list[Op]] = field(default_factory=lambda: [[]])
    y: float = _TOP

    @property
    def ops(self) -> list[Op]:
        return self.pages[-1]

    @property
    def room(self) -> float:
        return self.y - _BOTTOM

    def new_page(self) -> None:
        self.pages.append([])
        self.ops.append(
            Text(
                _LEFT + _WIDTH / 2, _TOP - _SECTION, "HỌC BẠ (tiếp theo)", _SECTION, True, "center"
            )
        )
        self.y = _TOP - _SECTION - _GAP - 4

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` fits below the cursor (a block taller than a
        whole page is started on the current page and left to split where it can)."""
        if height > self.room and self.y < _TOP - _SECTION - _GAP - 4:
            self.new_page()

    def width(self, text: str, size: float = _BODY, bold: bool = False) -> float:
        return _string_width(text, self.fonts.bold if bold else self.fonts.regular, size)

    def wrap(self, text: str, width: float, size: float = _BODY, bold: bool = False) -> list[str]:
        """Greedy line breaking at spaces; a word longer than the line is cut where it must.

        Widths add up word by word (reportlab applies no kerning), so each word is
        measured once.
        """
        space = self.width(" ", size, bold)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, line_width = "", 0.0
            for word in paragraph.split():
                word_width = self.width(word, size, bold)
                if line and line_width + space + word_width <= width:
                    line, line_width = f"{line} {word}", line_width + space + word_width
                    continue
                if line:
                    lines.append(line)
                while word_width > width and len(word) > 1:
                    cut = len(word) - 1
                    while cut > 1 and self.width(word[:cut], size, bold) > width:
                        cut -= 1
                    lines.append(word[:cut])
                    word = word[cut:]
                    word_width = self.width(word, size, bold)
                line, line_width = word, word_width
            lines.append(line)
        return lines or [""]


def _baseline(top: float, line: int, size: float = _BODY) -> float:
    return top - _PAD - line * _LEADING - 0.82 * size - (_LEADING - size) / 2


def _cell_x(x: float, width: float, align: Align) -> float:
    if align == "center":
        return x + width / 2
    if align == "right":
        return x + width - _CELL_X
    return x + _CELL_X


def _prepare(
    flow: _Flow,
    widths: Sequence[float],
    aligns: Sequence[Align],
    header: Sequence[str],
    rows: Sequence[Row],
) -> _Table:
    inner = [w - 2 * _CELL_X for w in widths]
    header_lines = tuple(
        tuple(flow.wrap(h, w, bold=True)) for h, w in zip(header, inner, strict=True)
    )
    wrapped: list[tuple[tuple[str, ...], ...]] = []
    heights: list[float] = []
    for row in rows:
        if row.kind == "group":
            cells: tuple[tuple[str, ...], ...] = (
                tuple(flow.wrap(row.cells[0], sum(inner), bold=True)),
            )
        else:
            indent = 8.0 if row.kind == "part" else 0.0
            cells = tuple(
                tuple(flow.wrap(text, w - (indent if i == 0 else 0.0)))
                for i, (text, w) in enumerate(zip(row.cells, inner, strict=True))
            )
        wrapped.append(cells)
        heights.append(max(len(c) for c in cells) * _LEADING + 2 * _PAD)
    return _Table(
        widths=tuple(widths),
        aligns=tuple(aligns),
        header=header_lines,
        header_height=max(len(c) for c in header_lines) * _LEADING + 2 * _PAD,
        rows=tuple(wrapped),
        kinds=tuple(row.kind for row in rows),
        heights=tuple(heights),
    )


def _draw_header(ops: list[Op], table: _Table, x: float, top: float) -> float:
    height = table.header_height
    left = x
    for width, lines in zip(table.widths, table.header, strict=True):
        ops.append(Box(left, top - height, width, height, fill=_HEADER_FILL))
        # Header lines are centred vertically in the (possibly taller) header row.
        offset = (height - len(lines) * _LEADING - 2 * _PAD) / 2
        for i, text in enumerate(lines):
            ops.append(
                Text(left + width / 2, _baseline(top - offset, i), text, bold=True, align="center")
            )
        left += width
    return top - height


def _draw_row(ops: list[Op], table: _Table, index: int, x: float, top: float) -> float:
    height = table.heights[index]
    kind = table.kinds[index]
    if kind == "group":
        ops.append(Box(x, top - height, sum(table.widths), height, fill=_GROUP_FILL))
        for i, text in enumerate(table.rows[index][0]):
            ops.append(Text(x + _CELL_X, _baseline(top, i), text, bold=True))
        return top - height
    left = x
    for column, (width, lines) in enumerate(zip(table.widths, table.rows[index], strict=True)):
        ops.append(Box(left, top - height, width, height))
        align = table.aligns[column]
        indent = 8.0 if kind == "part" and column == 0 else 0.0
        for i, text in enumerate(lines):
            ops.append(
                Text(_cell_x(left + indent, width, align), _baseline(top, i), text, align=align)
            )
        left += width
    return top - height


def _flow_table(flow: _Flow, table: _Table) -> None:
    """Draw a table at the cursor, row by row, repeating the header after a page break."""
    first = table.heights[0] if table.heights else 0.0
    flow.need(table.header_height + first)
    flow.y = _draw_header(flow.ops, table, _LEFT, flow.y)
    for index, height in enumerate(table.heights):
        if height > flow.room:
            flow.new_page()
            flow.y = _draw_header(flow.ops, table, _LEFT, flow.y)
        flow.y = _draw_row(flow.ops, table, index, _LEFT, flow.y)
    flow.y -= _GAP


def _draw_rows(ops: list[Op], table: _Table, x: float, top: float, rows: range) -> None:
    y = _draw_header(ops, table, x, top)
    for index in rows:
        y = _draw_row(ops, table, index, x, y)


def _balanced_split(table: _Table) -> int:
    """Where to cut the rows into two columns of even height: between groups if possible."""
    count = len(table.heights)
    cuts = [k for k in range(1, count) if table.kinds[k] == "group"] or list(range(1, count))
    if not cuts:
        return count
    total = sum(table.heights)
    return min(cuts, key=lambda k: max(sum(table.heights[:k]), total - sum(table.heights[:k])))


def _section(flow: _Flow, title: str, keep_with: float) -> None:
    flow.need(_SECTION + 4 + keep_with)
    flow.ops.append(Text(_LEFT, flow.y - _SECTION, title, _SECTION, True))
    flow.y -= _SECTION + 4


def _pairs(
    flow: _Flow, pairs: Sequence[tuple[str, str]], x: float, width: float, top: float
) -> tuple[list[Op], float]:
    """Label: value lines in one column; returns the ops and the height used."""
    ops: list[Op] = []
    y = top
    for label, value in pairs:
        head = f"{label}: "
        label_width = flow.width(head)
        lines = flow.wrap(value, width - label_width)
        baseline = y - 0.82 * _BODY - 1
        ops.append(Text(x, baseline, head, gray=_LABEL_GRAY))
        for i, text in enumerate(lines):
            ops.append(Text(x + label_width, baseline - i * _LEADING, text))
        y -= len(lines) * _LEADING
    return ops, top - y


def _pair_columns(flow: _Flow, pairs: Sequence[tuple[str, str]]) -> None:
    """Pairs in two columns, left column first, kept together on one page."""
    half = (len(pairs) + 1) // 2
    column = (_WIDTH - 12) / 2
    left_ops, left_height = _pairs(flow, pairs[:half], _LEFT, column, flow.y)
    height = max(left_height, _pairs(flow, pairs[half:], _LEFT + column + 12, column, flow.y)[1])
    if height > flow.room:
        flow.new_page()
        left_ops, _ = _pairs(flow, pairs[:half], _LEFT, column, flow.y)
    right_ops, _ = _pairs(flow, pairs[half:], _LEFT + column + 12, column, flow.y)
    flow.ops.extend(left_ops + right_ops)
    flow.y -= height + _GAP


def _heading(flow: _Flow, content: PageContent) -> None:
    column = _WIDTH * 0.46
    y = flow.y
    for i, text in enumerate(content.school_heading):
        for line in flow.wrap(text, column, bold=i == 0):
            y -= _LEADING + 0.5
            flow.ops.append(Text(_LEFT + column / 2, y, line, bold=i == 0, align="center"))
    right = _RIGHT - column / 2
    for i, text in enumerate(_MOTTO):
        flow.ops.append(
            Text(right, flow.y - (i + 1) * (_LEADING + 0.5), text, bold=True, align="center")
        )
    y = min(y, flow.y - 2 * (_LEADING + 0.5)) - 19
    flow.ops.append(Text(_LEFT + _WIDTH / 2, y, content.title, 16, True, "center"))
    y -= 12.5
    flow.ops.append(Text(_LEFT + _WIDTH / 2, y, content.subtitle, 9, False, "center"))
    flow.y = y - 4 - _GAP


def _ratings(flow: _Flow, content: PageContent) -> None:
    """Qualities and competencies in two columns when they fit, else one full-width table."""
    aligns: tuple[Align, ...] = ("left", "center", "left")
    gap = 8.0
    half = (_WIDTH - gap) / 2
    # The comment column is wide enough for a usual comment on one line.
    table = _prepare(flow, (66.0, 22.0, half - 88.0), aligns, _RATING_HEADER, content.ratings)
    split = _balanced_split(table)
    height = table.header_height + max(sum(table.heights[:split]), sum(table.heights[split:]))
    _section(flow, "Phẩm chất chủ yếu và năng lực cốt lõi", height)
    if height <= flow.room:
        _draw_rows(flow.ops, table, _LEFT, flow.y, range(split))
        if split < len(table.heights):
            _draw_rows(
                flow.ops, table, _LEFT + half + gap, flow.y, range(split, len(table.heights))
            )
        flow.y -= height + _GAP
        return
    widths = (_WIDTH * 0.3, 24, _WIDTH * 0.7 - 24)
    _flow_table(flow, _prepare(flow, widths, aligns, _RATING_HEADER, content.ratings))


def _year_end(flow: _Flow, content: PageContent) -> None:
    _, height = _pairs(flow, content.year_end, _LEFT, _WIDTH, 0.0)
    statement = flow.wrap(content.completion, _WIDTH, _BODY + 0.5, True)
    _section(flow, "Kết quả giáo dục cuối năm học", height + len(statement) * _LEADING + 2)
    ops, _ = _pairs(flow, content.year_end, _LEFT, _WIDTH, flow.y)
    flow.ops.extend(ops)
    y = flow.y - height
    for line in statement:
        y -= _LEADING + 0.5
        flow.ops.append(Text(_LEFT, y, line, _BODY + 0.5, True))
    flow.y = y - 2 - _GAP


def _digital(flow: _Flow, content: PageContent) -> None:
    """The digital additions, with the QR code of the verification URL at their right."""
    text_width = _WIDTH - _QR_SIZE - 10
    _, height = _pairs(flow, content.digital, _LEFT, text_width, 0.0)
    block = max(_SECTION + 4 + height, _QR_SIZE)
    flow.need(block)
    top = flow.y
    _section(flow, "Thông tin học bạ số", height)
    ops, _ = _pairs(flow, content.digital, _LEFT, text_width, flow.y)
    flow.ops.extend(ops)
    flow.ops.append(Qr(_RIGHT - _QR_SIZE, top - _QR_SIZE, _QR_SIZE, content.qr_payload))
    flow.y = top - block - _GAP


def _signatures(flow: _Flow, boxes: Sequence[SignatureBox]) -> list[FieldPlace]:
    gap = 12.0
    width = (_WIDTH - gap * (len(boxes) - 1)) / len(boxes)
    names = [flow.wrap(b.signer, width, bold=True) for b in boxes]
    height = _LEADING + 4 + _SIGNATURE_HEIGHT + 4 + max(map(len, names)) * _LEADING
    flow.need(height)
    places: list[FieldPlace] = []
    for index, (box, name_lines) in enumerate(zip(boxes, names, strict=True)):
        x = _LEFT + index * (width + gap)
        # "Hiệu trưởng (ký, ghi rõ họ tên)": the role in bold, how to sign in small type.
        role_width = flow.width(box.role, _BODY + 0.5, True)
        hint = f" {box.hint}"
        start = x + (width - role_width - flow.width(hint, _SMALL)) / 2
        y = flow.y - _LEADING
        flow.ops.append(Text(start, y, box.role, _BODY + 0.5, True))
        flow.ops.append(Text(start + role_width, y, hint, _SMALL, gray=_LABEL_GRAY))
        center = x + width / 2
        bottom = flow.y - _LEADING - 4 - _SIGNATURE_HEIGHT
        flow.ops.append(Box(x, bottom, width, _SIGNATURE_HEIGHT, fill=0.98))
        for i, line in enumerate(name_lines):
            flow.ops.append(
                Text(
                    center,
                    bottom - 4 - 0.82 * _BODY - i * _LEADING,
                    line,
                    bold=True,
                    align="center",
                )
            )
        # The field sits inside the drawn box, on whole points (pyHanko takes integers).
        box_ints = (
            int(x) + 2,
            int(bottom) + 2,
            int(x + width) - 2,
            int(bottom + _SIGNATURE_HEIGHT) - 1,
        )
        places.append(
            FieldPlace(box.field_name, f"Chữ ký số: {box.role}", len(flow.pages) - 1, box_ints)
        )
    flow.y -= height
    return places


def _footers(pages: list[list[Op]], running_title: str) -> None:
    total = len(pages)
    for number, ops in enumerate(pages, start=1):
        ops.append(Line(_LEFT, _FOOTER_Y + 8, _RIGHT, _FOOTER_Y + 8, 0.3))
        ops.append(Text(_LEFT, _FOOTER_Y, running_title, _SMALL, gray=_LABEL_GRAY))
        ops.append(
            Text(
                _RIGHT,
                _FOOTER_Y,
                f"Trang {number}/{total}",
                _SMALL,
                align="right",
                gray=_LABEL_GRAY,
            )
        )


def lay_out(content: PageContent, fonts: FontNames) -> PageLayout:
    """The display list of every page and the places of the signature fields."""
    flow = _Flow(fonts)
    _heading(flow, content)
    _section(flow, "Học sinh", 4 * _LEADING)
    _pair_columns(flow, content.student)
    _section(flow, "Nhà trường và lớp học", 2 * _LEADING)
    _pair_columns(flow, content.school)
    _section(flow, "Các môn học và hoạt động giáo dục", 40)
    subjects = _prepare(
        flow,
        (_WIDTH * 0.27, 40, 50, _WIDTH * 0.73 - 90),
        ("left", "center", "center", "left"),
        _SUBJECT_HEADER,
        content.subjects,
    )
    _flow_table(flow, subjects)
    _ratings(flow, content)
    legend = flow.wrap(content.legend, _WIDTH, _SMALL)
    flow.need(len(legend) * _LEADING)
    for line in legend:
        flow.y -= _SMALL + 1.5
        flow.ops.append(Text(_LEFT, flow.y, line, _SMALL, gray=_LABEL_GRAY))
    flow.y -= _GAP
    _year_end(flow, content)
    _digital(flow, content)
    fields = _signatures(flow, content.signatures)
    _footers(flow.pages, content.running_title)
    return PageLayout(tuple(tuple(ops) for ops in flow.pages), tuple(fields))
