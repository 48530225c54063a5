"""Errors of the verification library (lỗi xác minh), one precise class per thing that can go wrong.

:func:`~services.verification.verify.verify_pdf` and
:func:`~services.verification.trust.load_trust_roots` translate the errors of pyhanko and the
file system into these classes (``raise X(...) from exc``): callers decide by type. A signature
that does not hold is not an error: it is a finding of the report.
"""

from __future__ import annotations

__all__ = ["InvalidPdf", "TrustRootsUnreadable", "VerificationError"]


class VerificationError(Exception):
    """Base class of every error raised by ``services.verification``."""


class InvalidPdf(VerificationError):
    """The bytes are not a PDF that pyhanko can read (nothing can be said of its signatures)."""


class TrustRootsUnreadable(VerificationError):
    """A trust anchor file cannot be read or holds no certificate in PEM or DER form."""
