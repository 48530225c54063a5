"""What a signature on a page says about itself: signer, certificate, time of its timestamp.

The signing code fills :class:`SignatureFacts` from the container it has just embedded (the
certificate it holds, the genTime of the token the TSA returned, read with
:func:`services.verification.timestamps.token_time`), so the SignedRecord message states exactly
what a verifier will find.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["SignatureFacts"]


@dataclass(frozen=True, slots=True)
class SignatureFacts:
    field_name: str
    signer_name: str
    certificate_sha256: str
    #: genTime of the RFC 3161 timestamp token on the signature (UTC).
    timestamped_at: dt.datetime
