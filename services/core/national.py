"""The national education database's view of a record version (CSDL ngành), without I/O.

The contract (``docs/openapi/national.yaml``) is the project's own: the real API is not
public. Both sides of it use this module — the national-sync service to build what it sends
and to compute the platform's per-school summaries, the simulator to check what it receives
and to compute its own — so the two summaries agree when, and only when, the same versions
with the same PDFs are on both sides.

* :func:`version_body`: the JSON body of ``PUT /v1/records/{record_id}/years/{school_year}/
  versions/{version}`` from a ``StoredRecord`` datum;
* :func:`idempotency_key`: the ``Idempotency-Key`` of that PUT (one per record version: a
  retry of the same version is the same request);
* :func:`combined_sha256`: a school's summary hash: SHA-256 over its versions' lines
  ``record_id|school_year|version|pdf_sha256``, sorted, each ending in a newline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BODY_FIELDS",
    "VersionKey",
    "combined_sha256",
    "idempotency_key",
    "version_body",
    "version_path",
]

#: Fields of a StoredRecord the national database receives (the PDF itself by its URL), and
#: ``effective_at`` (ISO 8601, UTC).
BODY_FIELDS = (
    "record_id",
    "school_year",
    "version",
    "school_code",
    "student_id",
    "national_id",
    "grade",
    "year_result",
    "pdf_sha256",
    "pdf_size_bytes",
    "pdf_url",
    "supersedes_version",
    "correction_reason",
    "effective_at",
)


@dataclass(frozen=True, slots=True, order=True)
class VersionKey:
    """One record version: (record id, school year, version)."""

    record_id: str
    school_year: str
    version: int

    def __str__(self) -> str:
        return f"{self.record_id}/{self.school_year}/v{self.version}"


def idempotency_key(key: VersionKey) -> str:
    """The PUT's ``Idempotency-Key``: the same for every attempt at one version."""
    return f"{key.record_id}:{key.school_year}:{key.version}"


def version_path(key: VersionKey) -> str:
    """The URL path of a record version on the national side."""
    return f"/v1/records/{key.record_id}/years/{key.school_year}/versions/{key.version}"


def version_body(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the national database receives for a StoredRecord datum."""
    body = {name: stored.get(name) for name in BODY_FIELDS}
    effective = body["effective_at"]
    if isinstance(effective, dt.datetime):
        # Avro timestamps decode as UTC; a naive one is taken as UTC too, never local time.
        aware = effective if effective.tzinfo is not None else effective.replace(tzinfo=dt.UTC)
        body["effective_at"] = aware.astimezone(dt.UTC).isoformat()
    elif effective is not None:
        raise TypeError(f"effective_at must be a datetime or None, not {type(effective).__name__}")
    return body


def combined_sha256(versions: Iterable[tuple[VersionKey, str]]) -> str:
    """A school's summary hash over (version, PDF SHA-256) pairs, in any order."""
    lines = sorted(
        f"{key.record_id}|{key.school_year}|{key.version}|{pdf_sha256}\n"
        for key, pdf_sha256 in versions
    )
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
    return digest.hexdigest()
