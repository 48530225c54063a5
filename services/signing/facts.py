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

__all__ = ["MissingSignatureError", "SignatureFacts", "signature_facts"]


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
        stamp = _timestamp_time(embedded.signer_info)
        if stamp is None:
            raise MissingSignatureError(f"signature {field_name!r} carries no timestamp token")
        return SignatureFacts(
            field_name=field_name,
            signer_name=str(cert.subject.native.get("common_name", cert.subject.human_friendly)),
            certificate_sha256=hashlib.sha256(cert.dump()).hexdigest(),
            timestamped_at=stamp,
        )
    raise MissingSignatureError(f"no signature in field {field_name!r}")


def _timestamp_time(signer_info: cms.SignerInfo) -> dt.datetime | None:
    unsigned = signer_info["unsigned_attrs"]
    if unsigned.native is None:
        return None
    for attribute in unsigned:
        if attribute["type"].native != "signature_time_stamp_token":
            continue
        for token in attribute["values"]:
            info = token["content"]["encap_content_info"]["content"].parsed
            if not isinstance(info, tsp.TSTInfo):
                continue
            stamp: dt.datetime = info["gen_time"].native
            return stamp.astimezone(dt.UTC)
    return None
