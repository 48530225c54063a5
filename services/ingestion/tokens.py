"""Vendor access tokens (mã truy cập): random, shown once, stored only as a SHA-256 hash.

A token carries 256 random bits, so a plain SHA-256 is enough to keep the stored
form useless to a thief (no dictionary to try); a slow password hash would only cost
every request time. The ``hocba_`` prefix lets secret scanners recognise a leaked one.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

__all__ = ["TOKEN_PREFIX", "bearer_token", "new_token", "token_sha256"]

TOKEN_PREFIX: Final = "hocba_"


def new_token() -> str:
    """A fresh random token; print it once, store only :func:`token_sha256` of it."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> bytes:
    """The 32-byte SHA-256 of the token's UTF-8 text: what the database keeps."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
