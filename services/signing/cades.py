"""The signature container of a PAdES signature (CAdES detached SignedData), built directly.

ETSI EN 319 142-1 (PAdES baseline) asks of the CMS container: content type ``data`` with no
encapsulated content, signed attributes ``content-type``, ``message-digest`` (SHA-256 of the
byte range) and ``signing-certificate-v2`` (the signer certificate's SHA-256), no
``signing-time`` (the signature dictionary's ``/M`` carries the claimed time), and for B-T an
unsigned ``signature-time-stamp`` attribute: an RFC 3161 token over the signature value.

The signature itself comes from the signer back-end (``Signer.async_sign_raw``: PKCS#12 key,
PKCS#11 token or CSC service alike). The DER around it is framed directly (:mod:`.der`) from
parts encoded once per signer (its certificates, identifier, signing-certificate attribute):
pyhanko's general signer spent ≈ 11 ms per signature on options a record page never uses, and
asn1crypto re-encoding the certificates and token put into a new SignedData ≈ 18 ms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import aiohttp
from asn1crypto import algos, cms, core, x509  # type: ignore[import-untyped]
from pyhanko.sign import signers
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError

from services.signing import der
from services.signing.errors import SignerUnavailable, TimestampUnavailable
from services.verification.timestamps import token_time

__all__ = ["SignatureContainer", "build_signature_container", "request_timestamp", "timestamp_of"]

_MD = "sha256"


@dataclass(frozen=True)
class SignatureContainer:
    """A finished container: DER bytes, the signer's certificate, the TSA token's time."""

    der: bytes
    signer_cert: x509.Certificate
    timestamped_at: dt.datetime


async def request_timestamp(timestamper: TimeStamper, digest: bytes) -> cms.ContentInfo:
    """An RFC 3161 token over ``digest`` (SHA-256); :class:`TimestampUnavailable` for any
    failure of the TSA or of its answer (a refusal included: asn1crypto cannot parse a
    TimeStampResp without a token and raises ValueError)."""
    try:
        return await timestamper.async_timestamp(digest, _MD)
    except (TimestampRequestError, aiohttp.ClientError, OSError, ValueError, KeyError) as exc:
        raise TimestampUnavailable(f"time stamping failed: {type(exc).__name__}: {exc}") from exc


def timestamp_of(token: cms.ContentInfo) -> dt.datetime:
    """genTime of a token a TSA returned (:class:`TimestampUnavailable` if it has none)."""
    when = token_time(token["content"])
    if when is None:
        raise TimestampUnavailable("the TSA's token carries no TSTInfo")
    return when


@dataclass(frozen=True)
class _SignerParts:
    """The DER of a signer's container that does not change between its signatures."""

    certificates: bytes  # [0] IMPLICIT CertificateSet: the signer's certificate, then its chain
    signer_id: bytes  # IssuerAndSerialNumber
    signature_algorithm: bytes
    signing_certificate_v2: bytes  # the signed attribute


_VERSION_1 = core.Integer(1).dump()
_SHA256 = algos.DigestAlgorithm({"algorithm": _MD}).dump()
_DATA = cms.ContentType("data").dump()
_SIGNED_DATA = cms.ContentType("signed_data").dump()
_CONTENT_TYPE_DATA = cms.CMSAttribute({"type": "content_type", "values": ["data"]}).dump()
_MESSAGE_DIGEST = cms.CMSAttributeType("message_digest").dump()
_TIMESTAMP_TOKEN = cms.CMSAttributeType("signature_time_stamp_token").dump()
_parts: dict[bytes, _SignerParts] = {}  # by the signer certificate's SHA-256


def _signer_parts(signer: signers.Signer, cert: x509.Certificate) -> _SignerParts:
    found = _parts.get(cert.sha256)
    if found is None:
        mechanism = signer.get_signature_mechanism_for_digest(_MD).dump()
        chain = [c.dump() for c in signer.cert_registry if c.sha256 != cert.sha256]
        signing_certificate = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "hash_algorithm": {"algorithm": _MD},
                                "cert_hash": cert.sha256,
                                "issuer_serial": {
                                    "issuer": [x509.GeneralName({"directory_name": cert.issuer})],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        )
        found = _parts[cert.sha256] = _SignerParts(
            certificates=der.element(der.CONTEXT_0, cert.dump(), *chain),
            signer_id=cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number}
            ).dump(),
            signature_algorithm=mechanism,
            signing_certificate_v2=signing_certificate.dump(),
        )
    return found


async def build_signature_container(
    signer: signers.Signer, document_digest: bytes, timestamper: TimeStamper
) -> SignatureContainer:
    """Sign ``document_digest`` (SHA-256 of the byte range) and timestamp the signature.

    Raises whatever the back-end and the TSA client raise; :mod:`services.signing.pades`
    translates those into the package's errors.
    """
    cert = signer.signing_cert
    if cert is None:
        raise SignerUnavailable("the signer has no certificate")
    parts = _signer_parts(signer, cert)
    message_digest = der.element(
        der.SEQUENCE,
        _MESSAGE_DIGEST,
        der.element(der.SET, der.element(der.OCTET_STRING, document_digest)),
    )
    # DER sorts the elements of a SET OF by their encodings (X.690 § 11.6).
    attributes = sorted((_CONTENT_TYPE_DATA, message_digest, parts.signing_certificate_v2))
    signature = await signer.async_sign_raw(der.element(der.SET, *attributes), _MD)
    token = await request_timestamp(timestamper, hashlib.sha256(signature).digest())
    signer_info = der.element(
        der.SEQUENCE,
        _VERSION_1,
        parts.signer_id,
        _SHA256,
        der.element(der.CONTEXT_0, *attributes),
        parts.signature_algorithm,
        der.element(der.OCTET_STRING, signature),
        der.element(
            der.CONTEXT_1,
            der.element(der.SEQUENCE, _TIMESTAMP_TOKEN, der.element(der.SET, token.dump())),
        ),
    )
    signed_data = der.element(
        der.SEQUENCE,
        _VERSION_1,
        der.element(der.SET, _SHA256),
        der.element(der.SEQUENCE, _DATA),
        parts.certificates,
        der.element(der.SET, signer_info),
    )
    container = der.element(der.SEQUENCE, _SIGNED_DATA, der.element(der.CONTEXT_0, signed_data))
    return SignatureContainer(container, cert, timestamp_of(token))
