"""Errors of the signing package (lỗi ký số), one precise class per thing that can go wrong.

Every public entry point of ``services.signing`` translates the errors of pyhanko, certvalidator,
aiohttp, PKCS#11 and the file system into these classes (``raise X(...) from exc``), so callers
classify failures by type and by the ``retriable`` attribute, never by message text.
"""

from __future__ import annotations

from services.verification import errors as verification_errors

__all__ = [
    "DevPkiError",
    "EarlierSignatureBroken",
    "FieldAlreadySigned",
    "InvalidPdf",
    "RevocationInfoUnavailable",
    "SignerCertificateRejected",
    "SignerCertificateRevoked",
    "SignerUnavailable",
    "SigningError",
    "TimestampUnavailable",
    "UnknownSignatureField",
]


class SigningError(Exception):
    """Base class of every error raised by ``services.signing``.

    ``retriable`` says whether the same call may succeed later unchanged (a service that was down),
    as opposed to a problem with the input, the configuration or a certificate.
    """

    retriable: bool = False


class DevPkiError(SigningError):
    """The development PKI could not be built, loaded or served."""


class InvalidPdf(SigningError, verification_errors.InvalidPdf):
    """The bytes are not a PDF that pyhanko can read for an incremental update.

    Also a :class:`services.verification.errors.InvalidPdf`: one ``except`` catches an
    unreadable page whether signing or verification found it out.
    """


class UnknownSignatureField(SigningError):
    """The document has no signature field of that name (fields are created at render time)."""


class FieldAlreadySigned(SigningError):
    """The signature field already holds a signature: a record is signed once per role."""


class SignerUnavailable(SigningError):
    """The signer back-end (PKCS#12 file, PKCS#11 token, CSC service) cannot be opened or used."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class SignerCertificateRejected(SigningError):
    """The signer's certificate does not validate (untrusted chain, expired, wrong key usage)."""


class SignerCertificateRevoked(SignerCertificateRejected):
    """The signer's certificate is revoked: no signature is made with it."""


class TimestampUnavailable(SigningError):
    """The time stamping authority did not answer or answered with an error (PAdES B-T)."""

    retriable = True


class RevocationInfoUnavailable(SigningError):
    """OCSP/CRL data for the long-term validation material (PAdES B-LT) could not be obtained."""

    retriable = True


class EarlierSignatureBroken(SigningError):
    """After signing, an earlier signature of the document no longer holds: do not publish.

    ``field_name`` is the earlier signature's field and ``reason`` a short English statement
    (digest mismatch, modifications beyond its lock, non-standard coverage).
    """

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"signature {field_name!r} no longer holds: {reason}")
        self.field_name = field_name
        self.reason = reason
