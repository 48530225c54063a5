"""What storing a signed record version does: pure decisions, no I/O.

A *record page* is one student's school year (trang học bạ của một năm học), named by
``(record_id, school_year)``. The signing service decides the record id, the version
(1, 2, ... per page) and the lookup code; storage keeps what it is given, append-only,
and checks that it agrees with what it already holds:

* the ``records`` mapping is one student ↔ one record id, for ever: a message naming a
  student already mapped to another record id (or a record id of another student) is
  refused (``E_STORAGE_RECORD_ID_CONFLICT``);
* ``(record_id, school_year, version)`` is written once: the same version again with the
  same record and PDF hashes is a re-delivery (nothing written, the same StoredRecord
  emitted again); with other hashes it is refused (``E_STORAGE_VERSION_CONFLICT``) and
  never overwrites (một bản học bạ đã ký không bao giờ bị sửa);
* a lookup code (mã số tra cứu) names one page: several versions of a page may share it
  or have their own, but a code already naming another page is refused
  (``E_STORAGE_LOOKUP_CODE_CONFLICT``);
* the page's current version is the highest stored: a newer version supersedes it (đính
  chính), an older one arriving late is kept but does not move the pointer back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Delivery",
    "KnownState",
    "Outcome",
    "PageKey",
    "Signature",
    "StoreResult",
    "StoredVersion",
    "VersionCandidate",
    "VersionDecision",
    "VersionKey",
    "decide_versions",
]

#: ``(record_id, school_year)``
PageKey = tuple[str, str]
#: ``(record_id, school_year, version)``
VersionKey = tuple[str, str, int]


class Outcome(StrEnum):
    """What storing a candidate did; the value is also the audit action."""

    STORED = "VERSION_STORED"
    SUPERSEDED = "VERSION_SUPERSEDED"
    STORED_LATE = "VERSION_STORED_LATE"
    REDELIVERED = "REDELIVERY_IGNORED"
    VERSION_CONFLICT = "VERSION_CONFLICT_REFUSED"
    RECORD_ID_CONFLICT = "RECORD_ID_CONFLICT_REFUSED"
    LOOKUP_CODE_CONFLICT = "LOOKUP_CODE_CONFLICT_REFUSED"

    @property
    def refusal_code(self) -> str | None:
        """The catalogued error code of a refusal; None when the candidate was accepted."""
        return _REFUSAL_CODES.get(self)

    @property
    def writes_version(self) -> bool:
        """True when a new row goes into ``record_versions``."""
        return self in (Outcome.STORED, Outcome.SUPERSEDED, Outcome.STORED_LATE)


_REFUSAL_CODES: dict[Outcome, str] = {
    Outcome.VERSION_CONFLICT: "E_STORAGE_VERSION_CONFLICT",
    Outcome.RECORD_ID_CONFLICT: "E_STORAGE_RECORD_ID_CONFLICT",
    Outcome.LOOKUP_CODE_CONFLICT: "E_STORAGE_LOOKUP_CODE_CONFLICT",
}


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature on the PDF (chữ ký số), as the SignedRecord states it."""

    #: A SignerRole symbol: HOMEROOM_TEACHER, PRINCIPAL or SCHOOL_SEAL.
    role: str
    signer_name: str
    #: SHA-256 (hex) of the signer's certificate (DER).
    certificate_sha256: str
    signed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class VersionCandidate:
    """A signed record version, flattened into what the store keeps."""

    record_id: str
    version: int
    lookup_code: str
    record_key: str
    school_code: str
    student_id: str
    national_id: str | None
    school_year: str
    grade: int
    vendor_id: str
    year_result: str | None
    rule_set_version: str
    #: SHA-256 of :attr:`record_json` (UTF-8), the canonical JSON of the YearRecord; the
    #: SignedRecord's ``record_sha256``, checked.
    content_sha256: bytes
    record_json: str
    pdf: bytes
    #: SHA-256 of :attr:`pdf`, checked against the message's ``pdf_sha256``.
    pdf_sha256: bytes
    signatures: tuple[Signature, ...]
    effective_at: dt.datetime
    supersedes_version: int | None
    correction_reason: str | None

    @property
    def page(self) -> PageKey:
        return (self.record_id, self.school_year)

    @property
    def key(self) -> VersionKey:
        return (self.record_id, self.school_year, self.version)

    def stored(self, stored_at: dt.datetime) -> StoredVersion:
        """The metadata of this candidate once stored at ``stored_at`` (a signed version)."""
        return StoredVersion(
            record_id=self.record_id,
            school_year=self.school_year,
            version=self.version,
            record_key=self.record_key,
            school_code=self.school_code,
            student_id=self.student_id,
            national_id=self.national_id,
            grade=self.grade,
            year_result=self.year_result,
            supersedes_version=self.supersedes_version,
            stored_at=stored_at,
            content_sha256=self.content_sha256,
            status="SIGNED",
            lookup_code=self.lookup_code,
            pdf_sha256=self.pdf_sha256,
            pdf_size_bytes=len(self.pdf),
            effective_at=self.effective_at,
            signatures=self.signatures,
            correction_reason=self.correction_reason,
        )


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """The metadata of a stored version: what ``hocba.records.stored`` and the API tell.

    Versions stored before signing existed (status VALIDATED) have no lookup code, PDF,
    effective date or signatures.
    """

    record_id: str
    school_year: str
    version: int
    record_key: str
    school_code: str
    student_id: str
    national_id: str | None
    grade: int
    year_result: str | None
    supersedes_version: int | None
    stored_at: dt.datetime
    content_sha256: bytes
    status: str = "SIGNED"
    lookup_code: str | None = None
    pdf_sha256: bytes | None = None
    pdf_size_bytes: int | None = None
    effective_at: dt.datetime | None = None
    signatures: tuple[Signature, ...] = ()
    correction_reason: str | None = None

    @property
    def key(self) -> VersionKey:
        return (self.record_id, self.school_year, self.version)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A candidate and the Kafka message it came in (for the audit trail)."""

    candidate: VersionCandidate
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What storing one delivery did.

    ``stored`` is the version now held under the candidate's key (the new row, or the
    row a re-delivery or a version conflict found); None for the other refusals.
    ``reason`` says why a refusal was made (English, for the log).
    """

    outcome: Outcome
    stored: StoredVersion | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class KnownState:
    """What the database holds about a batch's students, codes, pages and versions."""

    #: student_id → record_id, and back (the ``records`` table).
    record_of_student: Mapping[str, str] = field(default_factory=dict)
    student_of_record: Mapping[str, str] = field(default_factory=dict)
    #: lookup_code → the page it names (the ``lookup_codes`` table).
    page_of_code: Mapping[str, PageKey] = field(default_factory=dict)
    #: The current version of each page.
    current: Mapping[PageKey, int] = field(default_factory=dict)
    #: ``(content_sha256, pdf_sha256)`` of each stored version.
    fingerprints: Mapping[VersionKey, tuple[bytes, bytes | None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VersionDecision:
    """The outcome for one candidate and what the store must write for it."""

    outcome: Outcome
    #: Insert the student ↔ record id row (first sight of the student).
    new_record: bool = False
    #: Insert the lookup code → page row (first version carrying this code).
    new_lookup_code: bool = False
    #: Why a candidate was refused (English).
    reason: str = ""


def decide_versions(
    candidates: Sequence[VersionCandidate], known: KnownState
) -> list[VersionDecision]:
    """Decide each candidate in order, as if stored one after another.

    Candidates of one batch see each other: the second of two for one page is decided
    against the first, the same version twice is stored once (the second a re-delivery,
    or a conflict when its hashes differ).
    """
    students = dict(known.record_of_student)
    records = dict(known.student_of_record)
    codes = dict(known.page_of_code)
    current = dict(known.current)
    fingerprints = dict(known.fingerprints)
    decisions: list[VersionDecision] = []
    for c in candidates:
        mapped_record = students.get(c.student_id)
        mapped_student = records.get(c.record_id)
        if mapped_record not in (None, c.record_id):
            decisions.append(
                VersionDecision(
                    Outcome.RECORD_ID_CONFLICT,
                    reason=f"student {c.student_id} has record id {mapped_record}, "
                    f"not {c.record_id}",
                )
            )
            continue
        if mapped_student not in (None, c.student_id):
            decisions.append(
                VersionDecision(
                    Outcome.RECORD_ID_CONFLICT,
                    reason=f"record id {c.record_id} belongs to another student, "
                    f"not {c.student_id}",
                )
            )
            continue
        stored = fingerprints.get(c.key)
        if stored is not None:
            if stored == (c.content_sha256, c.pdf_sha256):
                decisions.append(VersionDecision(Outcome.REDELIVERED))
            else:
                decisions.append(
                    VersionDecision(
                        Outcome.VERSION_CONFLICT,
                        reason=f"version {c.version} of {c.record_id} {c.school_year} is "
                        "already stored with another record or PDF",
                    )
                )
            continue
        code_page = codes.get(c.lookup_code)
        if code_page is not None and code_page != c.page:
            decisions.append(
                VersionDecision(
                    Outcome.LOOKUP_CODE_CONFLICT,
                    reason=f"lookup code {c.lookup_code} already names another record page",
                )
            )
            continue
        previous = current.get(c.page)
        if previous is None:
            outcome = Outcome.STORED
        elif c.version > previous:
            outcome = Outcome.SUPERSEDED
        else:
            outcome = Outcome.STORED_LATE
        decisions.append(
            VersionDecision(
                outcome, new_record=mapped_record is None, new_lookup_code=code_page is None
            )
        )
        students[c.student_id] = c.record_id
        records[c.record_id] = c.student_id
        codes[c.lookup_code] = c.page
        fingerprints[c.key] = (c.content_sha256, c.pdf_sha256)
        current[c.page] = max(c.version, previous or 0)
    return decisions
