"""What a signature on a page says about itself: signer, certificate, time of its timestamp.

Read back from the signed PDF (not from what the signer intended), so the SignedRecord
message states exactly what a verifier will find.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from asn1crypto import cms, tsp  # type: ignore[import-untyped]
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "MissingSignatureError",
    "SignatureFacts",
    "signature_facts",
    "timestamp_time",
    "timestamp_token",
]


@dataclass(frozen=True, slots=True)
class SignatureFacts:
    field_name: str
    signer_name: str
    certificate_sha256: str
    #: genTime of the RFC 3161 timestamp token on the signature (UTC).
    timestamped_at: dt.datetime


class MissingSignatureError(LookupError):
    """The PDF has no timestamped signature in the named field."""


def signature_facts(pdf: bytes, field_name: str) -> SignatureFacts:
    """Facts of the signature in ``field_name``; raises :class:`MissingSignatureError`."""
    reader = PdfFileReader(io.BytesIO(pdf))
    for embedded in reader.embedded_regular_signatures:
        if embedded.field_name != field_name:
            continue
        cert = embedded.signer_cert
        stamp = timestamp_time(embedded.signer_info)
        if stamp is None:
            raise MissingSignatureError(f"signature {field_name!r} carries no timestamp token")
        return SignatureFacts(
            field_name=field_name,
            signer_name=str(cert.subject.native.get("common_name", cert.subject.human_friendly)),
            certificate_sha256=hashlib.sha256(cert.dump()).hexdigest(),
            timestamped_at=stamp,
        )
    raise MissingSignatureError(f"no signature in field {field_name!r}")


def timestamp_token(signer_info: cms.SignerInfo) -> cms.SignedData | None:
    """The RFC 3161 token on a signature (its unsigned signature-time-stamp attribute)."""
    unsigned = signer_info["unsigned_attrs"]
    if unsigned.native is None:
        return None
    for attribute in unsigned:
        if attribute["type"].native == "signature_time_stamp_token":
            token: cms.SignedData = attribute["values"][0]["content"]
            return token
    return None


def timestamp_time(signer_info: cms.SignerInfo) -> dt.datetime | None:
    """genTime of the signature's RFC 3161 token (UTC), if it has one."""
    token = timestamp_token(signer_info)
    if token is None:
        return None
    info = token["encap_content_info"]["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        return None
    stamp: dt.datetime = info["gen_time"].native
    return stamp.astimezone(dt.UTC)
