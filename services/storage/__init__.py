"""The storage service (lưu trữ học bạ): signed records → PostgreSQL → hocba.records.stored.

Append-only record versions as the signing service issued them (PDF, signatures, lookup
code), a current pointer per school year, an audit trail, and the HTTP lookup API
(``GET /v1/records/{code}`` and ``.../pdf``). Run it with ``python -m services.storage``.
"""

from __future__ import annotations

from services.storage.record_ids import CodeKind, RecordCode, is_record_id, parse_code
from services.storage.settings import StorageSettings
from services.storage.versions import (
    KnownState,
    Outcome,
    StoredVersion,
    VersionCandidate,
    decide_versions,
)

__all__ = [
    "CodeKind",
    "KnownState",
    "Outcome",
    "RecordCode",
    "StorageSettings",
    "StoredVersion",
    "VersionCandidate",
    "decide_versions",
    "is_record_id",
    "parse_code",
]
