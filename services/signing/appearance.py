"""The visible signature stamp (hình thức chữ ký): three lines of Vietnamese in DejaVu Sans.

The stamp reads::

    Giáo viên chủ nhiệm              (the role)
    Nguyễn Thị Lan (GVCN)            (the signer: certificate CN unless named)
    Ký lúc / Signed: 29/11/2026 08:15:02 UTC

Its font is embedded as a small subset: the glyphs of the role, the name and the time's digits
only. A PDF standard font has no Vietnamese letters ("Nguyễn" would come out mangled), and a
whole DejaVu Sans is ≈ 750 KB. The subset is made once per (role, name) and kept
(:func:`prepared_stamp`); each signature then writes the same font objects and a three-line
content stream, with no font work at all (pyhanko's stamp re-parsed and re-subset the font for
every signature: ≈ 17 % of signing time).

The font is first reduced to the characters Vietnamese text uses and rescaled to 1000 units per
em (:func:`prepare_font`), so glyph widths are PDF text-space units as they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path

from fontTools import subset, ttLib  # type: ignore[import-untyped]  # fontTools is untyped
from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]

from services.signing.errors import SigningError
from services.signing.pdfupdate import PreparedUpdate

__all__ = [
    "DEFAULT_FONT",
    "PreparedFont",
    "PreparedStamp",
    "prepare_font",
    "prepared_stamp",
    "stamp_lines",
]

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
"""Debian fonts-dejavu-core: covers every Vietnamese letter, precomposed."""

_SIGNED_AT = "Ký lúc / Signed: "
_TIME_FORMAT = "%d/%m/%Y %H:%M:%S UTC"
_TIME_CHARACTERS = "0123456789/: UTC"
_FONT_SIZE = 9.0
_LEADING = 1.3  # line height, in font sizes
_PADDING = 3.0

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
    options.layout_features = []  # precomposed Vietnamese letters need no shaping
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


def stamp_lines(role_text: str, signer_name: str) -> tuple[str, str]:
    """The stamp's first two lines, normalised to NFC (the font's precomposed letters)."""
    return unicodedata.normalize("NFC", role_text), unicodedata.normalize("NFC", signer_name)


@dataclass(frozen=True)
class PreparedStamp:
    """A stamp's font subset and text for one (role, signer), ready to be written per signature."""

    base_font: bytes  # e.g. b"ABCDEF+DejaVuSans"
    font_program: bytes  # the TrueType subset
    widths: bytes  # the /W array, PDF syntax
    to_unicode: bytes  # the ToUnicode CMap
    descriptor: bytes  # FontDescriptor entries other than /FontFile2
    lines: tuple[bytes, bytes]  # role and signer as hex glyph strings
    line_widths: tuple[float, float]  # in 1/1000 em
    glyphs: dict[str, tuple[str, int]]  # time characters -> (4 hex digits, width)

    def write(self, update: PreparedUpdate, width: float, height: float, when: dt.datetime) -> int:
        """Write the stamp's objects into ``update``; return the appearance XObject's number."""
        time_text = when.astimezone(dt.UTC).strftime(_TIME_FORMAT)
        time_hex = "".join(self.glyphs[c][0] for c in _SIGNED_AT + time_text).encode()
        time_width = sum(self.glyphs[c][1] for c in _SIGNED_AT + time_text)
        widest = max(*self.line_widths, time_width) / 1000
        size = min(_FONT_SIZE, (width - 2 * _PADDING) / widest if widest else _FONT_SIZE)
        size = min(size, (height - 2 * _PADDING) / (3 * _LEADING))
        leading = size * _LEADING
        top = height - _PADDING - size
        program, cmap, descriptor, cid_font, font, form = (update.allocate() for _ in range(6))
        update.put_stream(
            program, self.font_program, b"/Length1 %d" % len(self.font_program), compress=True
        )
        update.put_stream(cmap, self.to_unicode, compress=True)
        update.put(descriptor, b"<< %s /FontFile2 %d 0 R >>" % (self.descriptor, program))
        update.put(
            cid_font,
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry "
            b"(Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /W %s "
            b"/CIDToGIDMap /Identity >>" % (self.base_font, descriptor, self.widths),
        )
        update.put(
            font,
            b"<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H "
            b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (self.base_font, cid_font, cmap),
        )
        content = (
            b"q 0.6 w 0 0 0.55 RG %.2f %.2f %.2f %.2f re S Q\n"
            b"BT 0 0 0 rg /F1 %.2f Tf %.2f TL %.2f %.2f Td <%s> Tj T* <%s> Tj T* <%s> Tj ET"
            % (
                0.3,
                0.3,
                width - 0.6,
                height - 0.6,
                size,
                leading,
                _PADDING,
                top,
                self.lines[0],
                self.lines[1],
                time_hex,
            )
        )
        update.put_stream(
            form,
            content,
            b"/Type /XObject /Subtype /Form /BBox [0 0 %.2f %.2f] "
            b"/Resources << /Font << /F1 %d 0 R >> >>" % (width, height, font),
        )
        return form


@lru_cache(maxsize=4096)
def prepared_stamp(
    role_text: str, signer_name: str, font_path: Path = DEFAULT_FONT
) -> PreparedStamp:
    """The stamp of ``signer_name`` signing as ``role_text`` (cached per process)."""
    role, name = stamp_lines(role_text, signer_name)
    prepared = prepare_font(font_path)
    font = ttLib.TTFont(BytesIO(prepared.data))
    cmap = font.getBestCmap()
    text = role + name + _SIGNED_AT + _TIME_CHARACTERS
    missing = sorted({c for c in text if ord(c) not in cmap})
    if missing:
        raise SigningError(f"the stamp font has no glyph for {''.join(missing)!r}")
    gid = {c: font.getGlyphID(cmap[ord(c)]) for c in set(text)}
    advance = {c: int(font["hmtx"][cmap[ord(c)]][0]) for c in set(text)}
    options = subset.Options()
    options.retain_gids = True
    options.hinting = False
    options.layout_features = []
    options.notdef_outline = True
    options.name_IDs = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM", "post"]
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=sorted(set(gid.values())))
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    program = out.getvalue()
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(program).digest()[:6])
    base_font = f"{tag}+{prepared.name}".encode()
    head, os2 = font["head"], font["OS/2"]
    descriptor = (
        b"/Type /FontDescriptor /FontName /%s /Flags 32 /FontBBox [%d %d %d %d] /ItalicAngle 0 "
        b"/Ascent %d /Descent %d /CapHeight %d /StemV 80"
        % (
            base_font,
            head.xMin,
            head.yMin,
            head.xMax,
            head.yMax,
            os2.sTypoAscender,
            os2.sTypoDescender,
            getattr(os2, "sCapHeight", os2.sTypoAscender),
        )
    )
    by_gid = {gid[c]: (c, advance[c]) for c in gid}
    widths = b"[" + b" ".join(b"%d [%d]" % (g, by_gid[g][1]) for g in sorted(by_gid)) + b"]"
    pairs = [
        b"<%04X> <%s>" % (g, by_gid[g][0].encode("utf-16-be").hex().upper().encode())
        for g in sorted(by_gid)
    ]
    # At most 100 mappings per bfchar block (PDF 32000-1 § 9.10.3, Adobe TN 5411).
    bfchar = b"\n".join(
        b"%d beginbfchar\n%s\nendbfchar" % (len(block), b"\n".join(block))
        for block in (pairs[i : i + 100] for i in range(0, len(pairs), 100))
    )
    to_unicode = (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        b"%s\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend" % bfchar
    )

    def hex_of(line: str) -> bytes:
        return "".join(f"{gid[c]:04X}" for c in line).encode()

    return PreparedStamp(
        base_font=base_font,
        font_program=program,
        widths=widths,
        to_unicode=to_unicode,
        descriptor=descriptor,
        lines=(hex_of(role), hex_of(name)),
        line_widths=(sum(advance[c] for c in role), sum(advance[c] for c in name)),
        glyphs={c: (f"{gid[c]:04X}", advance[c]) for c in _SIGNED_AT + _TIME_CHARACTERS},
    )
