"""The signature container of a PAdES signature (CAdES detached SignedData), built directly.

ETSI EN 319 142-1 (PAdES baseline) asks of the CMS container: content type ``data`` with no
encapsulated content, signed attributes ``content-type``, ``message-digest`` (SHA-256 of the
byte range) and ``signing-certificate-v2`` (the signer certificate's SHA-256), no
``signing-time`` (the signature dictionary's ``/M`` carries the claimed time), and for B-T an
unsigned ``signature-time-stamp`` attribute: an RFC 3161 token over the signature value.

The signature itself comes from the signer back-end (``Signer.async_sign_raw``: PKCS#12 key,
PKCS#11 token or CSC service alike); everything around it is a few asn1crypto structures, where
pyhanko's general signer spent ≈ 11 ms per signature on options a record page never uses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import algos, cms, x509  # type: ignore[import-untyped]
from pyhanko.sign import signers
from pyhanko.sign.timestamps import TimeStamper

from services.signing.errors import SignerUnavailable

__all__ = ["SignatureContainer", "build_signature_container", "token_time"]

_MD = "sha256"


@dataclass(frozen=True)
class SignatureContainer:
    """A finished container: DER bytes, the signer's certificate, the TSA token's time."""

    der: bytes
    signer_cert: x509.Certificate
    timestamped_at: dt.datetime


def token_time(token: cms.ContentInfo) -> dt.datetime:
    """genTime of an RFC 3161 token (UTC)."""
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    when: dt.datetime = tst_info["gen_time"].native
    return when.astimezone(dt.UTC)


def _signing_certificate_v2(cert: x509.Certificate) -> cms.CMSAttribute:
    return cms.CMSAttribute(
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
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [document_digest]}),
            _signing_certificate_v2(cert),
        ]
    )
    signature = await signer.async_sign_raw(signed_attrs.dump(), _MD)
    token = await timestamper.async_timestamp(hashlib.sha256(signature).digest(), _MD)
    chain = [c for c in signer.cert_registry if c.sha256 != cert.sha256]
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": _MD}),
            "signature_algorithm": signer.get_signature_mechanism_for_digest(_MD),
            "signed_attrs": signed_attrs,
            "signature": signature,
            "unsigned_attrs": cms.CMSAttributes(
                [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})]
            ),
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": _MD})],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cert, *chain],
            "signer_infos": [signer_info],
        }
    )
    der = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return SignatureContainer(der, cert, token_time(token))
