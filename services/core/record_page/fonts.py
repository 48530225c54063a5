"""The page's TrueType fonts, parsed once and registered with reportlab under content names.

reportlab looks fonts up by name in a process-wide registry; the name used here is
derived from the font's SHA-256, so two different files never share a name and the
same file is parsed once per process (parsing DejaVu Sans takes longer than drawing
a page). Every font must carry the Vietnamese letters: a missing glyph would print
as an empty box on an official document, so it is refused up front.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
from dataclasses import dataclass
from typing import Final

from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFError, TTFont  # type: ignore[import-untyped]

from services.core.record_page.contract import PageFonts, RecordPageError

__all__ = ["ALPHABET", "FontNames", "register_fonts"]

# Every letter with a diacritic of the Vietnamese alphabet, both cases.
_VIETNAMESE: Final = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
_REQUIRED: Final = frozenset(map(ord, _VIETNAMESE + _VIETNAMESE.upper() + "–—·"))
#: What the page is written with: printable ASCII and the letters and signs every font must have.
ALPHABET: Final = "".join(map(chr, range(0x20, 0x7F))) + "".join(map(chr, sorted(_REQUIRED)))


@dataclass(frozen=True, slots=True)
class FontNames:
    """The reportlab names of the registered regular and bold fonts."""

    regular: str
    bold: str


@functools.lru_cache(maxsize=8)
def _register(data: bytes, style: str) -> str:
    name = f"HocBa{style}-{hashlib.sha256(data).hexdigest()[:16]}"
    try:
        font = TTFont(name, io.BytesIO(data))
    except (TTFError, struct.error, ValueError, IndexError, KeyError) as exc:
        raise RecordPageError(
            f"the {style.lower()} font is not a usable TrueType font: {exc}"
        ) from exc
    missing = _REQUIRED - set(font.face.charToGlyph)
    if missing:
        letters = "".join(sorted(map(chr, missing)))
        raise RecordPageError(f"the {style.lower()} font lacks Vietnamese letters: {letters}")
    pdfmetrics.registerFont(font)
    return name


def register_fonts(fonts: PageFonts) -> FontNames:
    """Register both fonts (once per distinct file) and return their names."""
    return FontNames(_register(fonts.regular, "Regular"), _register(fonts.bold, "Bold"))
