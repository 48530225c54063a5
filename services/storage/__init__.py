"""The storage service (lưu trữ học bạ): signed records → PostgreSQL → hocba.records.stored.

Append-only record versions as the signing service issued them (PDF, signatures, lookup
code), a current pointer per school year and an audit trail of every write and read. Over
HTTP: the lookup by code and date of birth (``GET /v1/records/{code}``, ``.../pdf``,
``.../access-log``) and its web pages (``/tra-cuu``, ``/xac-minh``), verification
(``POST /v1/verify``), the schools' reads (``GET /v1/students/{student_id}/records``) and
admission checks (``POST /v1/admissions/checks``). Run it with ``python -m services.storage``.
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
