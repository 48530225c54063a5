"""Record lookup codes (mã số tra cứu học bạ): unguessable, typo-proof codes printed on the page.

The lookup code is what a parent, a receiving school or an employer types (or scans
from the QR code) to retrieve and verify one signed year page of the học bạ. Whoever
holds the code may read the record, so it is a bearer secret, not an identifier:

* **80 random bits** from :mod:`secrets`: 2^80 (about 1.2 x 10^24) possible codes. Even
  with 50 million codes issued, an attacker making a million guesses a second would hit
  one only every 760 years on average, and an online lookup service lets through far
  fewer guesses than that. The bits are drawn fresh, never derived from the student or
  the record, so a code reveals nothing.
* **Crockford base32** (``0123456789ABCDEFGHJKMNPQRSTVWXYZ``): no I, L, O or U, so a
  code read aloud or copied from paper is hard to get wrong; when reading, I and L are
  taken as 1 and O as 0, and case does not matter. 80 bits are exactly 16 symbols.
* **One Crockford check symbol**: the 80-bit number modulo 37, written with the base32
  alphabet extended by ``*~$=U``. Since 37 is prime and larger than 32, every single
  wrong symbol is caught, and so is every swap of two neighbouring symbols (the
  number changes by a multiple of 31 x 32^k, never of 37); a person gets "this code is
  mistyped" instead of "no such record", and the lookup service is not asked for codes
  that cannot exist.

Canonical form, as printed and stored: four groups of four data symbols and the check
symbol last, joined by hyphens, e.g. ``0TKP-SW9Y-1WA3-2RDZ-A`` (21 characters).
"""

from __future__ import annotations

import secrets
from typing import Final

__all__ = ["LOOKUP_CODE_BITS", "format_lookup_code", "new_lookup_code", "parse_lookup_code"]

#: Random bits in a lookup code: 16 Crockford base32 symbols of 5 bits.
LOOKUP_CODE_BITS: Final = 80

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Crockford's check alphabet: the 32 data symbols, then the values 32-36.
_CHECK_ALPHABET: Final = _ALPHABET + "*~$=U"
_CHECK_MODULUS: Final = 37
_DATA_LENGTH: Final = LOOKUP_CODE_BITS // 5
_GROUP: Final = 4
_VALUES: Final = {symbol: value for value, symbol in enumerate(_ALPHABET)}
_CHECK_VALUES: Final = {symbol: value for value, symbol in enumerate(_CHECK_ALPHABET)}
# Crockford decoding forgives what people misread: I and L are 1, O is 0.
_READ_AS: Final = str.maketrans({"I": "1", "L": "1", "O": "0"})
# Separators people type or paste between groups: spaces are removed separately.
_SEPARATORS: Final = str.maketrans(dict.fromkeys("-\u2010\u2011\u2012\u2013\u2014\u2212"))


def format_lookup_code(value: int) -> str:
    """The canonical form of an 80-bit number, e.g. ``0TKP-SW9Y-1WA3-2RDZ-A``.

    :func:`new_lookup_code` draws the number; this is for codes already issued (and
    tests). Raises :class:`ValueError` for a number outside ``0 .. 2**80 - 1``.
    """
    if not 0 <= value < 1 << LOOKUP_CODE_BITS:
        raise ValueError(f"a lookup code carries {LOOKUP_CODE_BITS} bits, got {value!r}")
    symbols = "".join(
        _ALPHABET[(value >> (5 * shift)) & 0x1F] for shift in range(_DATA_LENGTH - 1, -1, -1)
    )
    groups = [symbols[i : i + _GROUP] for i in range(0, _DATA_LENGTH, _GROUP)]
    return "-".join((*groups, _CHECK_ALPHABET[value % _CHECK_MODULUS]))


def new_lookup_code() -> str:
    """A fresh random lookup code in canonical form."""
    return format_lookup_code(secrets.randbits(LOOKUP_CODE_BITS))


def parse_lookup_code(text: str) -> str | None:
    """The canonical form of what a person typed, or None when it is not a valid code.

    Leading, trailing and inner spaces and hyphens are ignored, case too; I and L read
    as 1 and O as 0 (in the check position as well, where they can only mean the digit).
    The result has 16 data symbols and a matching check symbol; U and ``*~$=`` are
    only valid as the check symbol. None for anything else, including a mistyped code.
    """
    compact = "".join(text.split()).translate(_SEPARATORS).upper()
    if len(compact) != _DATA_LENGTH + 1 or not compact.isascii():
        return None
    data = compact[:_DATA_LENGTH].translate(_READ_AS)
    check = _CHECK_VALUES.get(compact[_DATA_LENGTH].translate(_READ_AS))
    value = 0
    for symbol in data:
        digit = _VALUES.get(symbol)
        if digit is None:
            return None
        value = (value << 5) | digit
    if check is None or value % _CHECK_MODULUS != check:
        return None
    return format_lookup_code(value)
