"""De-duplication by event id (chống trùng lặp sự kiện), as a pure decision.

An event id seen before with the same content hash is a re-send: acknowledged, not
forwarded again. The same id with other content is a vendor error (E_EVENT_ID_REUSED).
Only accepted events are remembered, so a re-send of a rejected event is judged afresh.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping

__all__ = ["BatchDedup", "Verdict", "dedup_verdict"]


class Verdict(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    REUSED = "reused"


def dedup_verdict(content_sha256: bytes, known_sha256: bytes | None) -> Verdict:
    """The verdict for an event whose id was last accepted with ``known_sha256`` (or never)."""
    if known_sha256 is None:
        return Verdict.NEW
    return Verdict.DUPLICATE if known_sha256 == content_sha256 else Verdict.REUSED


class BatchDedup:
    """Verdicts across one batch: ids already ingested, and ids accepted earlier in it."""

    def __init__(self, known: Mapping[uuid.UUID, bytes]) -> None:
        self._known = known
        self._accepted: dict[uuid.UUID, bytes] = {}

    def previous(self, event_id: uuid.UUID) -> bytes | None:
        """The content hash this id was accepted with, if it was."""
        return self._accepted.get(event_id, self._known.get(event_id))

    def verdict(self, event_id: uuid.UUID, content_sha256: bytes) -> Verdict:
        return dedup_verdict(content_sha256, self.previous(event_id))

    def accept(self, event_id: uuid.UUID, content_sha256: bytes) -> None:
        """Remember an id accepted in this batch: a later copy in it is a duplicate."""
        self._accepted[event_id] = content_sha256
