"""What a verification finds (báo cáo xác minh), as frozen data: per signature, per document
timestamp, the seal's lock and the embedded record.

Produced by :func:`~services.verification.verify.verify_pdf`; printed by ``hocba verify``,
returned by ``POST /v1/verify`` (:meth:`VerificationReport.to_json`) and shown as a timeline by
the verification page. An unknown revocation status never makes a signature invalid (a verifier
must not condemn a record because a server is down); it makes the report not *complete*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "EMBEDDED_RECORD_NAME",
    "DocumentTimestampReport",
    "EmbeddedFileReport",
    "Level",
    "Revocation",
    "SignatureReport",
    "TimestampReport",
    "VerificationReport",
]

EMBEDDED_RECORD_NAME = "hoc-ba.json"
"""The machine-readable record embedded in every page (its SHA-256 is printed on the page)."""

Revocation = Literal["good", "revoked", "unknown"]
#: The PAdES baseline level a document reaches (ETSI EN 319 142-1).
Level = Literal["none", "B-B", "B-T", "B-LT", "B-LTA"]


@dataclass(frozen=True)
class TimestampReport:
    """An RFC 3161 timestamp: on a signature (B-T) or on the document (B-LTA)."""

    time: datetime
    authority: str
    intact: bool
    #: The TSA's chain reaches a trust anchor (its revocation status may still be unknown).
    trusted: bool
    revocation: Revocation


@dataclass(frozen=True)
class SignatureReport:
    """One signature field, as a verifier finds it."""

    field_name: str
    signer_subject: str
    signer_name: str
    certificate_sha256: str
    intact: bool
    trust_anchor: str | None
    revocation: Revocation
    revocation_source: Literal["embedded", "online"] | None
    timestamp: TimestampReport | None
    coverage: str
    modification_level: str | None
    lock_holds: bool
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Intact, trusted, not revoked, timestamped, and later changes within its lock.

        An unknown revocation status does not make a signature invalid (see module docstring).
        """
        return (
            self.intact
            and self.trust_anchor is not None
            and self.revocation != "revoked"
            and self.timestamp is not None
            and self.timestamp.intact
            and self.timestamp.trusted
            and self.timestamp.revocation != "revoked"
            and self.lock_holds
        )


@dataclass(frozen=True)
class DocumentTimestampReport:
    """A document timestamp (archive timestamp of PAdES B-LTA)."""

    field_name: str
    timestamp: TimestampReport
    coverage: str
    modification_level: str | None
    lock_holds: bool

    @property
    def valid(self) -> bool:
        ts = self.timestamp
        return ts.intact and ts.trusted and ts.revocation != "revoked" and self.lock_holds


@dataclass(frozen=True)
class EmbeddedFileReport:
    """The embedded ``hoc-ba.json``: its SHA-256, and whether it matches the expected one."""

    name: str
    sha256: str
    expected_sha256: str | None
    matches: bool | None


@dataclass(frozen=True)
class VerificationReport:
    """Everything ``hocba verify`` prints, as data."""

    signatures: tuple[SignatureReport, ...]
    document_timestamps: tuple[DocumentTimestampReport, ...]
    level: Level
    seal_lock_holds: bool | None
    embedded_file: EmbeddedFileReport | None
    problems: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        """At least one signature; every signature and document timestamp valid; file matches."""
        return (
            bool(self.signatures)
            and all(s.valid for s in self.signatures)
            and all(t.valid for t in self.document_timestamps)
            and self.seal_lock_holds is not False
            and (self.embedded_file is None or self.embedded_file.matches is not False)
            and not self.problems
        )

    @property
    def complete(self) -> bool:
        """Valid with nothing left unknown (every revocation status established)."""
        stamps = [s.timestamp for s in self.signatures] + [
            t.timestamp for t in self.document_timestamps
        ]
        return (
            self.valid
            and all(s.revocation == "good" for s in self.signatures)
            and all(t is not None and t.revocation == "good" for t in stamps)
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601)."""
        data = asdict(self)
        data["valid"] = self.valid
        data["complete"] = self.complete
        for item, report in zip(data["signatures"], self.signatures, strict=True):
            item["valid"] = report.valid
        for item, ts_report in zip(
            data["document_timestamps"], self.document_timestamps, strict=True
        ):
            item["valid"] = ts_report.valid
        result: dict[str, Any] = _jsonable(data)
        return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
