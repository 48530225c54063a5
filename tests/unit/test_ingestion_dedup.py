"""De-duplication decisions by event id and content hash."""

from __future__ import annotations

import uuid

import pytest

from services.ingestion.dedup import BatchDedup, Verdict, dedup_verdict

pytestmark = pytest.mark.unit

A, B = b"a" * 32, b"b" * 32


def test_verdicts() -> None:
    assert dedup_verdict(A, None) is Verdict.NEW
    assert dedup_verdict(A, A) is Verdict.DUPLICATE
    assert dedup_verdict(A, B) is Verdict.REUSED


def test_within_a_batch_the_first_accepted_copy_counts() -> None:
    known_id, new_id = uuid.uuid4(), uuid.uuid4()
    batch = BatchDedup({known_id: A})
    assert batch.verdict(known_id, A) is Verdict.DUPLICATE
    assert batch.verdict(known_id, B) is Verdict.REUSED
    assert batch.verdict(new_id, B) is Verdict.NEW
    batch.accept(new_id, B)
    assert batch.verdict(new_id, B) is Verdict.DUPLICATE
    assert batch.verdict(new_id, A) is Verdict.REUSED
