"""A measured fix for pyhanko's PDF hex-string reader, installed by verification and signing.

pyhanko 0.38 reads ``<…>`` hex strings one byte at a time through its tokenizer. Every
signature's ``/Contents`` is such a string of 20–40 thousand hex digits, and signing or verifying
re-reads all earlier signatures: on a record with three signatures this loop was the largest
single cost (≈ 40 % of signing time, see the profile in the report). :func:`install` replaces it
with an equivalent that scans for ``>`` and decodes with ``binascii``: same result, anything
unusual (a comment, a stray byte) handed back to pyhanko's reader, an odd digit count padded
with 0 as the PDF spec says. It is checked against pyhanko's own reader in
``tests/unit/test_verification_units.py``; it is installed only for the pyhanko version it was
written against.
"""

from __future__ import annotations

import binascii
from typing import IO, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError
from pyhanko.version import __version__ as pyhanko_version

__all__ = ["ORIGINAL_READ_HEX", "fast_read_hex_string", "install"]

ORIGINAL_READ_HEX = generic.read_hex_string_from_stream
_VERSION_PREFIXES = ("0.38.",)
_WHITESPACE = b" \t\r\n\x0c\x00"
_HEX = b"0123456789abcdefABCDEF"
_CHUNK = 1 << 16


def fast_read_hex_string(stream: IO[bytes]) -> Any:
    """Read a PDF hex string starting at ``<`` (same contract as pyhanko's reader)."""
    stream.read(1)
    start = stream.tell()
    chunks: list[bytes] = []
    consumed = 0
    while True:
        block = stream.read(_CHUNK)
        if not block:
            raise PdfStreamError("Stream has ended unexpectedly")
        end = block.find(b">")
        if end >= 0:
            chunks.append(block[:end])
            stream.seek(start + consumed + end + 1)
            break
        chunks.append(block)
        consumed += len(block)
    digits = b"".join(chunks).translate(None, _WHITESPACE)
    if digits.translate(None, _HEX):
        # A comment or a stray byte: let pyhanko's reader decide, exactly as it always did.
        stream.seek(start - 1)
        return ORIGINAL_READ_HEX(stream)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def install() -> bool:
    """Install the fast reader into pyhanko (idempotent); False if the version is not known."""
    if not pyhanko_version.startswith(_VERSION_PREFIXES):
        return False
    generic.read_hex_string_from_stream = fast_read_hex_string
    return True
