"""The record store's contract: one body of tests, run here on the in-memory fake and in
``tests/integration/test_storage_repository.py`` on PostgreSQL, so the fake the handler
tests use cannot drift from the real adapter. What was stored is read back through the
operator reads (``all_versions``, ``audit_trail``, ``record_id_of``); the public's reads
(lookup, verification, school reads) have their own tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import pytest

from services.messaging.codec import Decoded, default_codec
from services.storage.errors import StorageDataError, StorageError
from services.storage.mapping import candidate_from_signed
from services.storage.repository import AuditEntry, RecordStore
from services.storage.versions import (
    Delivery,
    KnownState,
    Outcome,
    PageKey,
    StoredVersion,
    StoreResult,
    VersionCandidate,
    VersionKey,
    decide_versions,
)
from tests.unit.test_storage_fixtures import SIGNED, signed_record

pytestmark = pytest.mark.unit

CODEC = default_codec()


class StoreUnderTest(RecordStore, Protocol):
    """The port plus the operator reads the contract checks with."""

    async def all_versions(self, record_id: str) -> list[StoredVersion]: ...

    async def audit_trail(self, record_id: str) -> list[AuditEntry]: ...

    async def record_id_of(self, student_id: str) -> str | None: ...


def delivery(datum: dict[str, Any], offset: int = 0) -> Delivery:
    """A SignedRecord datum as the handler would hand it to the store."""
    decoded = CODEC.decode(CODEC.encode(SIGNED, datum), expected=SIGNED)
    assert isinstance(decoded, Decoded)
    candidate = candidate_from_signed(decoded.value)
    assert isinstance(candidate, VersionCandidate), candidate
    return Delivery(candidate, "test.signed", 0, offset)


# --- the contract -----------------------------------------------------------------------


async def first_store_is_version_1_with_its_pdf_and_audited(store: StoreUnderTest) -> None:
    datum = signed_record("K-FIRST")
    (result,) = await store.store_batch([delivery(datum)])
    assert result.outcome is Outcome.STORED and result.stored is not None
    stored = result.stored
    assert (stored.record_id, stored.version, stored.status) == (datum["record_id"], 1, "SIGNED")
    assert stored.lookup_code == datum["lookup_code"]
    assert stored.pdf_sha256 is not None and stored.pdf_sha256.hex() == datum["pdf_sha256"]
    assert stored.pdf_size_bytes == len(datum["pdf"])
    assert stored.effective_at == datum["effective_at"]
    assert [s.role for s in stored.signatures] == ["HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL"]
    assert await store.record_id_of("K-FIRST") == datum["record_id"]
    assert await store.all_versions(datum["record_id"]) == [stored]
    (entry,) = await store.audit_trail(datum["record_id"])
    assert (entry.action, entry.vendor_id, entry.version) == ("VERSION_STORED", "vendor-a", 1)
    assert entry.detail["pdf_sha256"] == datum["pdf_sha256"]


async def the_same_version_again_is_a_redelivery(store: StoreUnderTest) -> None:
    datum = signed_record("K-AGAIN")
    (first,) = await store.store_batch([delivery(datum, 0)])
    (again,) = await store.store_batch([delivery(datum, 1)])
    assert again.outcome is Outcome.REDELIVERED
    assert again.stored == first.stored  # same stored_at: the same StoredRecord
    assert [v.version for v in await store.all_versions(datum["record_id"])] == [1]
    actions = [e.action for e in await store.audit_trail(datum["record_id"])]
    assert actions == ["VERSION_STORED", "REDELIVERY_IGNORED"]


async def version_2_supersedes_and_both_stay_retrievable(store: StoreUnderTest) -> None:
    v1 = signed_record("K-CORR", days_absent=2)
    v2 = signed_record("K-CORR", version=2, days_absent=5, correction_reason="Sửa số ngày nghỉ")
    await store.store_batch([delivery(v1)])
    (result,) = await store.store_batch([delivery(v2)])
    assert result.outcome is Outcome.SUPERSEDED and result.stored is not None
    assert (result.stored.version, result.stored.supersedes_version) == (2, 1)
    assert result.stored.correction_reason == "Sửa số ngày nghỉ"
    versions = await store.all_versions(v1["record_id"])
    assert [(v.version, v.supersedes_version) for v in versions] == [(1, None), (2, 1)]
    # Both PDFs stay, each version with its own.
    assert [v.pdf_sha256 and v.pdf_sha256.hex() for v in versions] == [
        v1["pdf_sha256"],
        v2["pdf_sha256"],
    ]
    assert versions[1] == result.stored and versions[0].lookup_code == v1["lookup_code"]
    actions = [e.action for e in await store.audit_trail(v1["record_id"])]
    assert actions == ["VERSION_STORED", "VERSION_SUPERSEDED"]


async def an_older_version_arriving_late_does_not_move_the_pointer(
    store: StoreUnderTest,
) -> None:
    v1 = signed_record("K-LATE", days_absent=2)
    v2 = signed_record("K-LATE", version=2, days_absent=5)
    v3 = signed_record("K-LATE", version=3, days_absent=6)
    (third,) = await store.store_batch([delivery(v3)])
    (first,) = await store.store_batch([delivery(v1)])
    assert (third.outcome, first.outcome) == (Outcome.STORED, Outcome.STORED_LATE)
    # The pointer stayed at 3: version 2 arriving now is late too, not a supersession.
    (second,) = await store.store_batch([delivery(v2)])
    assert second.outcome is Outcome.STORED_LATE
    assert [v.version for v in await store.all_versions(v1["record_id"])] == [1, 2, 3]


async def the_same_version_with_other_content_is_refused(store: StoreUnderTest) -> None:
    original = signed_record("K-CONFLICT", days_absent=2)
    other = signed_record("K-CONFLICT", days_absent=9)
    (stored,) = await store.store_batch([delivery(original)])
    (refused,) = await store.store_batch([delivery(other)])
    assert refused.outcome is Outcome.VERSION_CONFLICT
    assert refused.outcome.refusal_code == "E_STORAGE_VERSION_CONFLICT"
    assert refused.stored == stored.stored  # the version held is untouched
    (version,) = await store.all_versions(original["record_id"])
    assert version.pdf_sha256 is not None and version.pdf_sha256.hex() == original["pdf_sha256"]
    (_, audit) = await store.audit_trail(original["record_id"])
    assert (audit.action, audit.detail["code"]) == (
        "VERSION_CONFLICT_REFUSED",
        "E_STORAGE_VERSION_CONFLICT",
    )


async def a_record_id_conflict_is_refused_either_way(store: StoreUnderTest) -> None:
    mine = signed_record("K-MINE")
    await store.store_batch([delivery(mine)])
    other_id = signed_record("K-OTHER")["record_id"]
    moved = signed_record("K-MINE", record_id=other_id, school_year="2025-2026", grade=5)
    taken = signed_record("K-THIEF", record_id=mine["record_id"])
    results = await store.store_batch([delivery(moved, 1), delivery(taken, 2)])
    assert [r.outcome for r in results] == [Outcome.RECORD_ID_CONFLICT] * 2
    assert all(r.stored is None and r.reason for r in results)
    assert await store.record_id_of("K-MINE") == mine["record_id"]
    assert await store.record_id_of("K-THIEF") is None
    assert await store.all_versions(other_id) == []
    audit = await store.audit_trail(mine["record_id"])
    assert [e.action for e in audit] == ["VERSION_STORED", "RECORD_ID_CONFLICT_REFUSED"]
    assert audit[1].detail["student_id"] == "K-THIEF"


async def a_lookup_code_names_one_page(store: StoreUnderTest) -> None:
    first = signed_record("K-CODE-A")
    (ok,) = await store.store_batch([delivery(first)])
    clash = signed_record("K-CODE-B", lookup_code=first["lookup_code"])
    (refused,) = await store.store_batch([delivery(clash)])
    assert refused.outcome is Outcome.LOOKUP_CODE_CONFLICT and refused.stored is None
    # Another year of the same student gets its own code; the first still finds its page.
    next_year = signed_record("K-CODE-A", school_year="2025-2026", grade=5)
    (stored,) = await store.store_batch([delivery(next_year)])
    assert stored.outcome is Outcome.STORED
    assert stored.stored is not None and stored.stored.lookup_code == next_year["lookup_code"]
    assert next_year["lookup_code"] != first["lookup_code"]
    assert await store.all_versions(first["record_id"]) == [ok.stored, stored.stored]
    assert await store.record_id_of("K-CODE-B") is None


async def one_batch_is_decided_in_order(store: StoreUnderTest) -> None:
    v1 = signed_record("K-BATCH", days_absent=1)
    v2 = signed_record("K-BATCH", version=2, days_absent=2)
    year2 = signed_record("K-BATCH", school_year="2025-2026", grade=5)
    batch = [delivery(v1, 0), delivery(v2, 1), delivery(v1, 2), delivery(year2, 3)]
    results = await store.store_batch(batch)
    assert [(r.outcome, r.stored and r.stored.version) for r in results] == [
        (Outcome.STORED, 1),
        (Outcome.SUPERSEDED, 2),
        (Outcome.REDELIVERED, 1),
        (Outcome.STORED, 1),
    ]
    versions = await store.all_versions(v1["record_id"])
    assert [(v.school_year, v.version) for v in versions] == [
        ("2024-2025", 1),
        ("2024-2025", 2),
        ("2025-2026", 1),
    ]


CONTRACT: list[Callable[[StoreUnderTest], Awaitable[None]]] = [
    first_store_is_version_1_with_its_pdf_and_audited,
    the_same_version_again_is_a_redelivery,
    version_2_supersedes_and_both_stay_retrievable,
    an_older_version_arriving_late_does_not_move_the_pointer,
    the_same_version_with_other_content_is_refused,
    a_record_id_conflict_is_refused_either_way,
    a_lookup_code_names_one_page,
    one_batch_is_decided_in_order,
]


# --- the in-memory fake -----------------------------------------------------------------


class MemoryStore:
    """The record store in memory: the port's semantics without SQL.

    ``failures`` are raised by the next ``store_batch`` calls, one each; a record whose
    JSON contains ``refuse-me`` makes the batch fail as a refused value would.
    """

    def __init__(self, failures: Sequence[StorageError] = ()) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.students: dict[str, str] = {}  # record_id → student_id
        self.codes: dict[str, PageKey] = {}
        self.current: dict[PageKey, int] = {}
        self.versions: dict[VersionKey, StoredVersion] = {}
        self.audit: list[AuditEntry] = []

    async def store_batch(self, deliveries: Sequence[Delivery]) -> list[StoreResult]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        candidates = [d.candidate for d in deliveries]
        if any("refuse-me" in c.record_json for c in candidates):
            raise StorageDataError("22021 bad", "22021")
        known = KnownState(
            record_of_student={s: r for r, s in self.students.items()},
            student_of_record=dict(self.students),
            page_of_code=dict(self.codes),
            current=dict(self.current),
            fingerprints={k: (v.content_sha256, v.pdf_sha256) for k, v in self.versions.items()},
        )
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        results = []
        for d, decision in zip(deliveries, decide_versions(candidates, known), strict=True):
            c = d.candidate
            if decision.outcome.writes_version:
                self.students[c.record_id] = c.student_id
                self.codes.setdefault(c.lookup_code, c.page)
                self.versions[c.key] = c.stored(now)
                self.current[c.page] = max(c.version, self.current.get(c.page, 0))
            detail: dict[str, Any] = {"pdf_sha256": c.pdf_sha256.hex()}
            if decision.outcome.refusal_code is not None:
                detail.update(
                    code=decision.outcome.refusal_code,
                    student_id=c.student_id,
                    reason=decision.reason,
                )
            self._log(
                c.vendor_id, decision.outcome.value, c.record_id, c.school_year, c.version, detail
            )
            held = self.versions.get(c.key)
            refused_id = decision.outcome is Outcome.RECORD_ID_CONFLICT
            stored = None if refused_id else held
            results.append(StoreResult(decision.outcome, stored, decision.reason))
        return results

    def _log(
        self,
        vendor_id: str | None,
        action: str,
        record_id: str | None,
        school_year: str | None,
        version: int | None,
        detail: dict[str, Any],
    ) -> None:
        self.audit.append(
            AuditEntry(
                len(self.audit) + 1,
                dt.datetime.now(dt.UTC),
                "memory",
                vendor_id,
                action,
                record_id,
                school_year,
                version,
                detail,
            )
        )

    async def ping(self) -> bool:
        return True

    async def all_versions(self, record_id: str) -> list[StoredVersion]:
        return [v for k, v in sorted(self.versions.items()) if k[0] == record_id]

    async def audit_trail(self, record_id: str) -> list[AuditEntry]:
        return [e for e in self.audit if e.record_id == record_id]

    async def record_id_of(self, student_id: str) -> str | None:
        return next((r for r, s in self.students.items() if s == student_id), None)


@pytest.mark.parametrize("case", CONTRACT, ids=lambda case: case.__name__)
async def test_memory_store_keeps_the_contract(
    case: Callable[[StoreUnderTest], Awaitable[None]],
) -> None:
    await case(MemoryStore())
