"""Record identifiers (mã hồ sơ học bạ): ``HB`` + 16 Crockford base32 characters.

80 random bits from :mod:`secrets`, drawn once per student on first sight and kept for
every school year and version. Random, not derived from the student id, so the
identifier reveals nothing about the student.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

__all__ = ["CROCKFORD_ALPHABET", "RECORD_ID_PREFIX", "is_record_id", "new_record_id", "normalise"]

CROCKFORD_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECORD_ID_PREFIX: Final = "HB"
_LENGTH: Final = 16
_PATTERN: Final = re.compile(r"HB[0-9A-HJKMNP-TV-Z]{16}")
# Crockford decoding is forgiving of what people misread or mistype.
_READ_AS: Final = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_record_id() -> str:
    """A fresh random record identifier, e.g. ``HB7K2M9Q4R8T1V3W5X``."""
    bits = secrets.randbits(5 * _LENGTH)
    chars = [CROCKFORD_ALPHABET[(bits >> (5 * i)) & 0x1F] for i in range(_LENGTH)]
    return RECORD_ID_PREFIX + "".join(reversed(chars))


def normalise(text: str) -> str:
    """Upper-case, drop hyphens and spaces, read I/L as 1 and O as 0 (after the prefix)."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if not cleaned.startswith(RECORD_ID_PREFIX):
        return cleaned
    return RECORD_ID_PREFIX + cleaned[len(RECORD_ID_PREFIX) :].translate(_READ_AS)


def is_record_id(text: str) -> bool:
    """True for a well-formed record identifier (already normalised)."""
    return _PATTERN.fullmatch(text) is not None
