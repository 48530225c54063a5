"""Which version a record page becomes: pure decisions, no I/O.

A *record page* is one student's school year (trang học bạ của một năm học), named by
``(record_id, school_year)``. Content already stored for the page (same SHA-256) is a
re-delivery and keeps its version; new content becomes the next version and supersedes
the page's current one (đính chính: a correction is a new version naming its predecessor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Delivery",
    "Outcome",
    "PageKey",
    "StoreResult",
    "StoredVersion",
    "VersionCandidate",
    "VersionDecision",
    "decide_versions",
]

#: ``(record_id, school_year)``
PageKey = tuple[str, str]


class Outcome(StrEnum):
    """What storing a candidate did (also the audit action)."""

    STORED = "VERSION_STORED"
    SUPERSEDED = "VERSION_SUPERSEDED"
    REDELIVERED = "REDELIVERY_IGNORED"


@dataclass(frozen=True, slots=True)
class VersionCandidate:
    """A validated year record, flattened into what the store keeps."""

    record_key: str
    school_code: str
    student_id: str
    national_id: str | None
    school_year: str
    grade: int
    vendor_id: str
    year_result: str | None
    rule_set_version: str
    validated_at: dt.datetime
    #: SHA-256 of :attr:`record_json` (UTF-8), the canonical JSON of the YearRecord.
    content_sha256: bytes
    record_json: str


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """The metadata of a stored version: what ``hocba.records.stored`` and the API tell."""

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
    status: str = "VALIDATED"
    lookup_code: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A candidate and the Kafka message it came in (for the audit trail)."""

    candidate: VersionCandidate
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What storing one delivery did, and the version it is now."""

    outcome: Outcome
    stored: StoredVersion


@dataclass(frozen=True, slots=True)
class VersionDecision:
    """The version a candidate is (``outcome`` REDELIVERED: an existing one)."""

    record_id: str
    school_year: str
    version: int
    supersedes_version: int | None
    outcome: Outcome


def decide_versions(
    items: Sequence[tuple[PageKey, bytes]],
    current: Mapping[PageKey, int],
    known: Mapping[tuple[PageKey, bytes], int],
) -> list[VersionDecision]:
    """Decide each ``(page, content_sha256)`` in order, as if stored one after another.

    ``current`` is each page's current version, ``known`` the version holding each
    content already stored. Two candidates for one page in the same batch chain up:
    the second supersedes the first; the same content twice is stored once.
    """
    current_now = dict(current)
    known_now = dict(known)
    decisions: list[VersionDecision] = []
    for page, digest in items:
        record_id, school_year = page
        existing = known_now.get((page, digest))
        if existing is not None:
            decisions.append(
                VersionDecision(record_id, school_year, existing, None, Outcome.REDELIVERED)
            )
            continue
        previous = current_now.get(page)
        version = 1 if previous is None else previous + 1
        outcome = Outcome.STORED if previous is None else Outcome.SUPERSEDED
        decisions.append(VersionDecision(record_id, school_year, version, previous, outcome))
        current_now[page] = version
        known_now[(page, digest)] = version
    return decisions
