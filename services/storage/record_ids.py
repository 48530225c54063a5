"""The codes a reader may ask for a record by, as a person types them.

* a **record id** (mã hồ sơ học bạ): ``HB`` + 16 Crockford base32 characters, stable for
  the student across school years and versions (the signing service derives it);
* a **lookup code** (mã số tra cứu học bạ): 16 Crockford base32 characters and a check
  character, printed on one year page (:mod:`services.core.lookup_code`).

Both forgive case, hyphens and spaces, and read I/L as 1 and O as 0. A lookup code
carries a check character, so a typo is told apart from a code that names nothing;
a record id has none (a mistyped one is simply not found).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from services.core.lookup_code import parse_lookup_code

__all__ = [
    "CROCKFORD_ALPHABET",
    "RECORD_ID_PATTERN",
    "RECORD_ID_PREFIX",
    "CodeKind",
    "RecordCode",
    "is_record_id",
    "normalise",
    "parse_code",
]

CROCKFORD_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECORD_ID_PREFIX: Final = "HB"
RECORD_ID_PATTERN: Final = re.compile(r"HB[0-9A-HJKMNP-TV-Z]{16}")
# Crockford decoding is forgiving of what people misread or mistype.
_READ_AS: Final = str.maketrans({"I": "1", "L": "1", "O": "0"})


class CodeKind(StrEnum):
    """Which kind of code a reader gave."""

    RECORD_ID = "record_id"
    LOOKUP_CODE = "lookup_code"


@dataclass(frozen=True, slots=True)
class RecordCode:
    """A code in canonical form: a record id, or a lookup code with its hyphens."""

    kind: CodeKind
    value: str


def normalise(text: str) -> str:
    """Upper-case, drop hyphens and spaces, read I/L as 1 and O as 0 (after the prefix)."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if not cleaned.startswith(RECORD_ID_PREFIX):
        return cleaned
    return RECORD_ID_PREFIX + cleaned[len(RECORD_ID_PREFIX) :].translate(_READ_AS)


def is_record_id(text: str) -> bool:
    """True for a well-formed record identifier (already normalised)."""
    return RECORD_ID_PATTERN.fullmatch(text) is not None


def parse_code(text: str) -> RecordCode | None:
    """The record id or lookup code ``text`` means; None when it is neither (or mistyped).

    The two cannot be confused: a record id is 18 characters starting ``HB``, a lookup
    code 17 (without its hyphens).
    """
    candidate = normalise(text)
    if is_record_id(candidate):
        return RecordCode(CodeKind.RECORD_ID, candidate)
    lookup_code = parse_lookup_code(text)
    if lookup_code is not None:
        return RecordCode(CodeKind.LOOKUP_CODE, lookup_code)
    return None
