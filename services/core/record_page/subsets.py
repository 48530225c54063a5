"""The page's fonts in the PDF: embedded TrueType subsets of at most 256 glyphs each.

Subset 0 of each font is the page's alphabet (:data:`.fonts.ALPHABET`: printable ASCII,
every Vietnamese letter in both cases, the dashes and the dot). Its objects (the subset
font program, compressed; its widths; its ToUnicode map) are made once per process and
written unchanged into every page, so a page costs no subsetting; the whole alphabet
takes only a few kilobytes more than the letters one page uses. Other characters (a name
in another script, a typographic quote) go into further subsets made for the one
document; a character the font lacks prints as its ``.notdef`` glyph.

Text is drawn with one-byte codes. In subset 0, ASCII keeps its own codes, so content
streams stay readable, and the other letters take codes 1–31 and 127 up.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, Final

from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import makeToUnicodeCMap  # type: ignore[import-untyped]

from services.core.record_page.fonts import ALPHABET
from services.core.record_page.pdf import PdfWriter, literal, number, ref, stream

__all__ = ["DocumentFont"]

_CODES: Final = 256  # a simple font's one-byte codes
_NOTDEF: Final = "\\000"  # code 0, escaped: the .notdef glyph
_OTHER: Final = "\uffff"  # in the alphabet's translation table: "not in the alphabet"


def _alphabet_codes() -> list[int]:
    """Code -> code point of subset 0: 0 (.notdef), ASCII at its own codes, the rest around."""
    ascii_points = list(range(0x20, 0x7F))
    others = sorted(set(map(ord, ALPHABET)) - set(ascii_points))
    codes = [0, *others[:31], *ascii_points, *others[31:]]
    if len(codes) > _CODES:
        raise ValueError(f"the alphabet needs {len(codes)} codes, a subset has {_CODES}")
    return codes


def _tag(font: str, codes: list[int]) -> str:
    """The six capital letters that name a subset (ISO 32000-1 § 9.6.4), from its contents."""
    digest = hashlib.sha256(f"{font} {codes}".encode()).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


@dataclass(frozen=True, slots=True)
class _Subset:
    """The objects of one subset, complete but for the numbers of the objects they refer to."""

    font: str  # the font dictionary: {descriptor} and {to_unicode} to fill in
    descriptor: str  # the font descriptor: {program} to fill in
    to_unicode: bytes
    program: bytes

    def write(self, writer: PdfWriter) -> int:
        """Add the subset's objects; returns the number of its font dictionary."""
        program = writer.add(self.program)
        descriptor = writer.add(self.descriptor.format(program=ref(program)))
        to_unicode = writer.add(self.to_unicode)
        return writer.add(self.font.format(descriptor=ref(descriptor), to_unicode=ref(to_unicode)))


def _make_subset(font: Any, codes: list[int]) -> _Subset:
    """Subset ``font`` to ``codes`` (code -> code point) with reportlab's TrueType subsetter."""
    face = font.face
    base = face.name.decode("latin-1")
    name = f"{_tag(base, codes)}+{base}"
    program = face.makeSubset(codes)
    widths = " ".join(number(face.getCharWidth(c)) for c in codes)
    bbox = " ".join(map(number, face.bbox))
    font_dictionary = (
        f"<< /Type /Font /Subtype /TrueType /BaseFont /{name} /FirstChar 0"
        f" /LastChar {len(codes) - 1} /Widths [{widths}]"
    )
    descriptor = (
        f"<< /Type /FontDescriptor /FontName /{name} /Flags {face.flags} /FontBBox [{bbox}]"
        f" /ItalicAngle {number(face.italicAngle)} /Ascent {number(face.ascent)}"
        f" /Descent {number(face.descent)} /CapHeight {number(face.capHeight)}"
        f" /StemV {number(face.stemV)} /MissingWidth {number(face.defaultWidth)}"
    )
    return _Subset(
        font=font_dictionary + " /FontDescriptor {descriptor} /ToUnicode {to_unicode} >>",
        descriptor=descriptor + " /FontFile2 {program} >>",
        to_unicode=stream("", makeToUnicodeCMap(name, codes).encode()),
        program=stream(f"/Length1 {len(program)}", program),
    )


@dataclass(frozen=True, slots=True)
class _Font:
    """One registered font, its alphabet subset made."""

    font: Any  # reportlab's TTFont
    #: For ``str.translate``: code point -> its code in subset 0 as literal string contents;
    #: every other code point below 256 -> ``_OTHER`` (the no-break space prints as a space,
    #: as reportlab measures it).
    table: dict[int, str]
    alphabet: _Subset


@functools.lru_cache(maxsize=8)
def _font(name: str) -> _Font:
    font = pdfmetrics.getFont(name)
    codes = _alphabet_codes()
    table = dict.fromkeys(range(_CODES), _OTHER)
    table.update({point: literal(chr(code)) for code, point in enumerate(codes) if point})
    table[0xA0] = " "
    return _Font(font, table, _make_subset(font, codes))


class DocumentFont:
    """One font as one document uses it: its subsets so far, and the codes beyond the alphabet."""

    def __init__(self, name: str, prefix: str) -> None:
        """``name``: reportlab's name of the registered font; ``prefix``: of its resource names
        (prefix and subset number)."""
        self._font = _font(name)
        self._prefix = prefix
        self._alphabet_used = False
        self._codes: dict[str, tuple[int, int]] = {}  # character -> subset, code
        self._subsets: list[list[int]] = []  # subsets 1, 2, ...: code -> code point

    def runs(self, text: str) -> list[tuple[str, str]]:
        """``text`` as (font resource name, literal string contents) runs, in order."""
        encoded = text.translate(self._font.table)
        try:
            encoded.encode("latin-1")  # only characters of the alphabet: one run in subset 0
        except UnicodeEncodeError:
            return self._mixed_runs(text)
        self._alphabet_used = True
        return [(f"{self._prefix}0", encoded)]

    def _mixed_runs(self, text: str) -> list[tuple[str, str]]:
        runs: list[tuple[str, str]] = []
        for character in text:
            piece = self._font.table.get(ord(character), _OTHER)
            if piece != _OTHER:
                subset = 0
            elif ord(character) not in self._font.font.face.charToGlyph:
                subset, piece = 0, _NOTDEF
            else:
                subset, code = self._code(character)
                piece = literal(chr(code))
            self._alphabet_used |= subset == 0
            resource = f"{self._prefix}{subset}"
            if runs and runs[-1][0] == resource:
                runs[-1] = (resource, runs[-1][1] + piece)
            else:
                runs.append((resource, piece))
        return runs

    def _code(self, character: str) -> tuple[int, int]:
        found = self._codes.get(character)
        if found is None:
            if not self._subsets or len(self._subsets[-1]) == _CODES:
                self._subsets.append([0])
            codes = self._subsets[-1]
            found = self._codes[character] = (len(self._subsets), len(codes))
            codes.append(ord(character))
        return found

    def write(self, writer: PdfWriter) -> dict[str, int]:
        """Add the objects of the subsets used; returns resource name -> font dictionary."""
        written: dict[str, int] = {}
        if self._alphabet_used:
            written[f"{self._prefix}0"] = self._font.alphabet.write(writer)
        for index, codes in enumerate(self._subsets, start=1):
            written[f"{self._prefix}{index}"] = _make_subset(self._font.font, codes).write(writer)
        return written
