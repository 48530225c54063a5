"""PDF syntax and file structure, just what the year page needs (ISO 32000-1 § 7).

:class:`PdfWriter` numbers the objects, then writes them in order, a classic
cross-reference table (not a cross-reference stream: the signing service appends its
incremental updates in the same form) and the trailer. The file identifier is the
digest of everything before the cross-reference table, so the same objects always
give the same bytes and any change to the page gives another identifier. Nothing
reads a clock: the document dates are the caller's (:class:`DocumentInfo`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from dataclasses import dataclass
from typing import Final

__all__ = ["DocumentInfo", "PdfWriter", "literal", "number", "ref", "stream", "text_string"]

_HEADER: Final = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
# Bytes that a literal string must escape (backslash and the parentheses), or should (the
# end-of-line bytes, which a reader would otherwise normalise).
_LITERAL_ESCAPES: Final = str.maketrans(
    {"\\": "\\\\", "(": "\\(", ")": "\\)", "\r": "\\r", "\n": "\\n"}
)


def number(value: float) -> str:
    """A PDF number: at most four decimals (a ten-thousandth of a point), no exponent."""
    text = repr(round(value, 4))
    return text[:-2] if text.endswith(".0") else text


def ref(number: int) -> str:
    """An indirect reference to object ``number``."""
    return f"{number} 0 R"


def literal(text: str) -> str:
    """The contents of a literal string of code units 0-255 (escaped, without parentheses)."""
    return text.translate(_LITERAL_ESCAPES)


def text_string(text: str) -> str:
    """A PDF text string (Info values, field and file descriptions): printable ASCII as a
    literal string, anything else as UTF-16BE with its byte order mark, in hex."""
    if text.isascii() and text.isprintable():
        return f"({literal(text)})"
    return f"<FEFF{text.encode('utf-16-be').hex().upper()}>"


def stream(dictionary: str, data: bytes, *, compress: bool = True) -> bytes:
    """A stream object's body: ``dictionary`` (its entries, without ``<< >>``) gets the length
    and, when compressing, the Flate filter."""
    entries = [dictionary] if dictionary else []
    if compress:
        data = zlib.compress(data)
        entries.append("/Filter /FlateDecode")
    entries.append(f"/Length {len(data)}")
    return b"<< %s >>\nstream\n%s\nendstream" % (" ".join(entries).encode(), data)


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """The PDF document information dictionary."""

    title: str
    author: str
    subject: str
    keywords: str
    creator: str
    created: dt.datetime | None = None

    def dictionary(self) -> str:
        """The dictionary's PDF syntax; the dates only when known."""
        entries = [
            f"/Title {text_string(self.title)}",
            f"/Author {text_string(self.author)}",
            f"/Subject {text_string(self.subject)}",
            f"/Keywords {text_string(self.keywords)}",
            f"/Creator {text_string(self.creator)}",
        ]
        if self.created is not None:
            moment = self.created
            utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            date = text_string(utc.strftime("D:%Y%m%d%H%M%S+00'00'"))
            entries += [f"/CreationDate {date}", f"/ModDate {date}"]
        return f"<< {' '.join(entries)} >>"


class PdfWriter:
    """The objects of one PDF, by number, and the file they make."""

    def __init__(self) -> None:
        self._objects: list[bytes | None] = []

    def reserve(self) -> int:
        """A new object number, for an object written later with :meth:`put`."""
        self._objects.append(None)
        return len(self._objects)

    def put(self, number: int, body: bytes | str) -> None:
        """Set the body of object ``number`` (its syntax, without ``obj``/``endobj``)."""
        self._objects[number - 1] = body.encode() if isinstance(body, str) else body

    def add(self, body: bytes | str) -> int:
        """Add an object; returns its number."""
        number = self.reserve()
        self.put(number, body)
        return number

    def write(self, root: int, info: int) -> bytes:
        """The file: header, objects, cross-reference table and trailer."""
        parts = [_HEADER]
        offsets: list[int] = []
        offset = len(_HEADER)
        for number, body in enumerate(self._objects, start=1):
            if body is None:
                raise ValueError(f"object {number} was reserved but never written")
            offsets.append(offset)
            part = b"%d 0 obj\n%s\nendobj\n" % (number, body)
            parts.append(part)
            offset += len(part)
        identifier = hashlib.sha256(b"".join(parts)).hexdigest()[:32].upper()
        table = "".join(f"{at:010d} 00000 n \n" for at in offsets)
        size = len(offsets) + 1
        parts.append(
            (
                f"xref\n0 {size}\n0000000000 65535 f \n{table}"
                f"trailer\n<< /Size {size} /Root {ref(root)} /Info {ref(info)}"
                f" /ID [<{identifier}> <{identifier}>] >>\n"
                f"startxref\n{offset}\n%%EOF\n"
            ).encode()
        )
        return b"".join(parts)
