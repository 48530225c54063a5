"""The visible signature stamp (hình thức chữ ký): Vietnamese text in DejaVu Sans.

Two measured pyhanko pitfalls are handled here once per process:

* pyhanko's default stamp font is a PDF standard font whose encoding has no Vietnamese letters, so
  "Nguyễn Thị Lan" comes out mangled: the stamp embeds DejaVu Sans (Debian fonts-dejavu-core);
* pyhanko's embedded-font engine writes glyph widths and TJ adjustments in the font's own units but
  PDF reads them as 1/1000 em, so a 2048-units-per-em font like DejaVu doubles the letter spacing:
  the font is rescaled to 1000 units per em before pyhanko sees it.

The rescaled font is also pre-subset to the characters Vietnamese text uses (≈ 45 KB instead of
≈ 750 KB), because pyhanko parses and subsets the font again for every signature: a small font
keeps that cheap. :func:`vietnamese_stamp_style` builds the style once; reuse it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from fontTools import subset, ttLib  # type: ignore[import-untyped]  # fontTools is untyped
from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

from services.signing.errors import SigningError

if TYPE_CHECKING:
    from pyhanko.pdf_utils.writer import BasePdfFileWriter

__all__ = [
    "DEFAULT_FONT",
    "STAMP_TEMPLATE",
    "PreparedFont",
    "prepare_font",
    "stamp_text_params",
    "vietnamese_stamp_style",
]

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
"""Debian fonts-dejavu-core: covers every Vietnamese letter, precomposed."""

STAMP_TEMPLATE = "%(role)s\n%(signer)s\nKý lúc / Signed: %(ts)s"
"""Lines of the stamp: the role (caller's text), the signer's name (certificate CN), the time."""

_TIMESTAMP_FORMAT = "%d/%m/%Y %H:%M:%S %Z"

# Printable ASCII, Latin-1 and Latin Extended-A/B letters Vietnamese uses (ă â đ ê ô ơ ư, ĩ ũ),
# combining tone marks (for text that arrives decomposed), the Vietnamese block of Latin
# Extended Additional, and general punctuation (dashes, quotes, ellipsis).
_UNICODES: tuple[range, ...] = (
    range(0x20, 0x7F),
    range(0xA0, 0x180),
    range(0x1A0, 0x1B1),
    range(0x300, 0x324),
    range(0x1EA0, 0x1EFA),
    range(0x2010, 0x2027),
)
_UNITS_PER_EM = 1000


@dataclass(frozen=True)
class PreparedFont:
    """A TrueType font rescaled to 1000 units/em and subset to Vietnamese, as bytes."""

    name: str
    data: bytes


@cache
def prepare_font(path: Path = DEFAULT_FONT) -> PreparedFont:
    """Load, subset and rescale the stamp font (cached: done once per process and path)."""
    try:
        font = ttLib.TTFont(str(path))
    except (OSError, ttLib.TTLibError) as exc:
        raise SigningError(
            f"stamp font {path} cannot be loaded ({exc}); install fonts-dejavu-core"
        ) from exc
    options = subset.Options()
    options.hinting = False  # TrueType instructions do not survive rescaling; a stamp needs none
    # No OpenType layout tables: pyhanko re-subsets the font for every signature and decompiling
    # GSUB/GPOS is most of that cost (≈ 60 ms); precomposed Vietnamese letters need no shaping.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=[cp for block in _UNICODES for cp in block])
    subsetter.subset(font)
    if font["head"].unitsPerEm != _UNITS_PER_EM:
        scale_upem(font, _UNITS_PER_EM)
    out = BytesIO()
    font.save(out)
    return PreparedFont(name=path.stem, data=out.getvalue())


@dataclass(frozen=True)
class _PreparedFontFactory(FontEngineFactory):
    """pyhanko font engine factory over in-memory font bytes (pyhanko's own one wants a path)."""

    font: PreparedFont
    font_size: int

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: object | None = None
    ) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]  # pyhanko
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(self.font.data),
            font_size=self.font_size,
            obj_stream=obj_stream,
            bcp47_lang_code="vi",
        )


def vietnamese_stamp_style(font_path: Path = DEFAULT_FONT, *, font_size: int = 9) -> TextStampStyle:
    """The stamp style of record signatures: thin border, three lines of Vietnamese text."""
    factory = _PreparedFontFactory(prepare_font(font_path), font_size)
    return TextStampStyle(
        stamp_text=STAMP_TEMPLATE,
        text_box_style=TextBoxStyle(font=factory, font_size=font_size, leading=font_size + 3),
        timestamp_format=_TIMESTAMP_FORMAT,
        border_width=1,
        background=None,
    )


def stamp_text_params(role_text: str, signer_name: str | None = None) -> dict[str, str]:
    """Text parameters for :data:`STAMP_TEMPLATE`, normalised to NFC (the font's precomposed forms).

    ``signer_name`` overrides the certificate's common name that pyhanko fills in otherwise.
    """
    params = {"role": unicodedata.normalize("NFC", role_text)}
    if signer_name is not None:
        params["signer"] = unicodedata.normalize("NFC", signer_name)
    return params
