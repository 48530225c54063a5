"""What a signature on a page says about itself: signer, certificate, time of its timestamp.

The signing code fills :class:`SignatureFacts` from the container it has just embedded (the
certificate it holds, the genTime of the token the TSA returned), so the SignedRecord message
states exactly what a verifier will find; verification reads the same token fields back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import cms, tsp  # type: ignore[import-untyped]

__all__ = ["SignatureFacts", "timestamp_time", "timestamp_token", "token_time"]


@dataclass(frozen=True, slots=True)
class SignatureFacts:
    field_name: str
    signer_name: str
    certificate_sha256: str
    #: genTime of the RFC 3161 timestamp token on the signature (UTC).
    timestamped_at: dt.datetime


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
    return None if token is None else token_time(token)


def token_time(token: cms.SignedData) -> dt.datetime | None:
    """genTime of an RFC 3161 token's TSTInfo (UTC); None if it holds none."""
    info = token["encap_content_info"]["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        return None
    stamp: dt.datetime = info["gen_time"].native
    return stamp.astimezone(dt.UTC)
