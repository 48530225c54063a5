"""The storage service (lưu trữ học bạ): validated records → PostgreSQL → hocba.records.stored.

Append-only record versions with a current pointer per school year and an audit trail,
and the HTTP lookup API. Run it with ``python -m services.storage``.
"""

from __future__ import annotations

from services.storage.record_ids import is_record_id, new_record_id
from services.storage.settings import StorageSettings
from services.storage.versions import Outcome, StoredVersion, VersionCandidate, decide_versions

__all__ = [
    "Outcome",
    "StorageSettings",
    "StoredVersion",
    "VersionCandidate",
    "decide_versions",
    "is_record_id",
    "new_record_id",
]
