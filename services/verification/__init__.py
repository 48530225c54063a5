"""Offline verification of signed record pages (xác minh học bạ số), a library shared by the
signing service, the storage service (``POST /v1/verify``) and ``hocba verify``.

Shortest use (inside an event loop)::

    from services.verification import load_trust_roots, trust_root_paths, verify_pdf

    report = await verify_pdf(pdf, load_trust_roots(trust_root_paths()), online=False)
    print(report.valid, report.level, [s.signer_name for s in report.signatures])

It imports only the core and third-party libraries, never a service (the dependency rule).
"""

from __future__ import annotations

from services.verification.errors import InvalidPdf, TrustRootsUnreadable, VerificationError
from services.verification.report import (
    EMBEDDED_RECORD_NAME,
    DocumentTimestampReport,
    EmbeddedFileReport,
    Level,
    Revocation,
    SignatureReport,
    TimestampReport,
    VerificationReport,
)
from services.verification.timestamps import timestamp_time, timestamp_token, token_time
from services.verification.trust import (
    TRUST_ROOTS_ENV,
    dev_trust_root,
    load_trust_roots,
    trust_root_paths,
)
from services.verification.verify import verify_pdf

__all__ = [
    "EMBEDDED_RECORD_NAME",
    "TRUST_ROOTS_ENV",
    "DocumentTimestampReport",
    "EmbeddedFileReport",
    "InvalidPdf",
    "Level",
    "Revocation",
    "SignatureReport",
    "TimestampReport",
    "TrustRootsUnreadable",
    "VerificationError",
    "VerificationReport",
    "dev_trust_root",
    "load_trust_roots",
    "timestamp_time",
    "timestamp_token",
    "token_time",
    "trust_root_paths",
    "verify_pdf",
]
