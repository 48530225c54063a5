"""National sync without a network: the contract's pure parts, back-off, breaker, delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from services.core.national import (
    VersionKey,
    combined_sha256,
    idempotency_key,
    version_body,
    version_path,
)
from services.national_sync.client import Answer, AnswerKind
from services.national_sync.delivery import Deliverer
from services.national_sync.policy import Backoff, Breaker, BreakerState

STORED: dict[str, Any] = {
    "record_id": "HB0000000000000001",
    "version": 2,
    "lookup_code": "ABCD",
    "record_key": "04400001|S1|2024-2025",
    "school_code": "04400001",
    "student_id": "S1",
    "national_id": None,
    "school_year": "2024-2025",
    "grade": 3,
    "year_result": "HTT",
    "pdf_sha256": "ab" * 32,
    "pdf_size_bytes": 1000,
    "pdf_url": None,
    "effective_at": dt.datetime(2025, 5, 30, 8, 0, tzinfo=dt.UTC),
    "supersedes_version": 1,
    "stored_at": dt.datetime(2025, 5, 30, 8, 1, tzinfo=dt.UTC),
}


def answer(kind: AnswerKind, status: int | None, retry_after: float | None = None) -> Answer:
    return Answer(kind, status, "", retry_after, 0.001)


OK = answer(AnswerKind.DELIVERED, 201)
AGAIN = answer(AnswerKind.ALREADY_PRESENT, 200)
DOWN = answer(AnswerKind.RETRY, 503)


class FakeNational:
    """Answers PUTs from a script, then with ``then`` for ever."""

    def __init__(self, script: Sequence[Answer], then: Answer = OK) -> None:
        self.script = list(script)
        self.then = then
        self.calls = 0

    async def put_version(self, stored: Mapping[str, Any]) -> Answer:
        self.calls += 1
        return self.script.pop(0) if self.script else self.then


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def deliverer(national: FakeNational, *, max_attempts: int = 5, threshold: int = 100) -> Deliverer:
    return Deliverer(
        national,
        Backoff(base_seconds=0.1, cap_seconds=1.0, max_attempts=max_attempts),
        Breaker(failure_threshold=threshold, cooldown_seconds=0.01),
        sleep=Sleeps(),
        rng=random.Random(7),
    )


def test_the_contract_names_a_version_and_its_body() -> None:
    key = VersionKey("HB0000000000000001", "2024-2025", 2)
    assert idempotency_key(key) == "HB0000000000000001:2024-2025:2"
    assert version_path(key) == "/v1/records/HB0000000000000001/years/2024-2025/versions/2"
    body = version_body(STORED)
    assert body["effective_at"] == "2025-05-30T08:00:00+00:00"
    assert body["pdf_sha256"] == "ab" * 32 and body["supersedes_version"] == 1
    assert "lookup_code" not in body and "record_key" not in body


def test_the_summary_hash_ignores_order_and_sees_every_difference() -> None:
    a = (VersionKey("HB1", "2024-2025", 1), "aa")
    b = (VersionKey("HB2", "2024-2025", 1), "bb")
    assert combined_sha256([a, b]) == combined_sha256([b, a])
    assert combined_sha256([a, b]) != combined_sha256([a])
    assert combined_sha256([a, b]) != combined_sha256([a, (b[0], "bc")])
    assert combined_sha256([]) == combined_sha256(())


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    policy = Backoff(base_seconds=0.2, cap_seconds=3.0, max_attempts=4)
    assert [policy.ceiling(n) for n in (1, 2, 3, 4, 5)] == [0.2, 0.4, 0.8, 1.6, 3.0]
    rng = random.Random(1)
    assert all(0 <= policy.delay(3, None, rng) <= 0.8 for _ in range(200))
    assert policy.delay(1, 5.0, rng) == 5.0
    assert not policy.exhausted(3) and policy.exhausted(4)


async def test_the_breaker_opens_after_consecutive_failures_and_probes_after_cooldown() -> None:
    now = [0.0]
    seen: list[BreakerState] = []
    breaker = Breaker(
        failure_threshold=3, cooldown_seconds=1.0, clock=lambda: now[0], on_change=seen.append
    )
    breaker.record_failure()
    breaker.record_success()  # a success in between resets the count
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    waiter = asyncio.create_task(breaker.wait_until_closed())
    await asyncio.sleep(0.05)
    assert not waiter.done()  # cooling down: nobody calls
    now[0] = 1.0
    await asyncio.wait_for(waiter, 1)  # this caller is the probe
    assert breaker.state is BreakerState.HALF_OPEN
    second = asyncio.create_task(breaker.wait_until_closed())
    await asyncio.sleep(0.05)
    assert not second.done()  # one probe at a time
    breaker.record_failure()  # the probe failed: open again, for twice as long
    assert breaker.state is BreakerState.OPEN
    now[0] = 2.5
    assert breaker.state is BreakerState.OPEN
    now[0] = 3.0
    await asyncio.wait_for(second, 1)
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert seen == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


async def test_a_version_is_retried_until_delivered_with_its_history() -> None:
    national = FakeNational([DOWN, answer(AnswerKind.RETRY, 429, retry_after=2.0)])
    sync = deliverer(national)
    delivery = await sync.deliver(STORED)
    assert delivery.delivered and delivery.outcome == "DELIVERED"
    assert [a.outcome for a in delivery.attempts] == [
        "RETRY_SCHEDULED",
        "RETRY_SCHEDULED",
        "DELIVERED",
    ]
    assert delivery.attempts[1].retry_after_ms == 2000
    waits = sync.sleep.waits  # type: ignore[attr-defined]
    assert len(waits) == 2 and waits[1] >= 2.0


async def test_an_acknowledgement_lost_then_answered_200_counts_as_delivered() -> None:
    delivery = await deliverer(FakeNational([DOWN, AGAIN])).deliver(STORED)
    assert delivery.delivered and delivery.outcome == "ALREADY_PRESENT"


async def test_a_conflict_is_dead_lettered_at_once() -> None:
    national = FakeNational([answer(AnswerKind.CONFLICT, 409)])
    delivery = await deliverer(national).deliver(STORED)
    assert not delivery.delivered and delivery.reason_code == "E_SYNC_CONFLICT"
    assert national.calls == 1 and delivery.outcome == "DEAD_LETTERED"


async def test_attempts_stop_at_the_policys_maximum() -> None:
    national = FakeNational([], then=DOWN)
    delivery = await deliverer(national, max_attempts=4).deliver(STORED)
    assert delivery.reason_code == "E_SYNC_ATTEMPTS_EXHAUSTED"
    assert national.calls == 4
    assert [a.outcome for a in delivery.attempts][-1] == "DEAD_LETTERED"


async def test_a_failed_breaker_probe_is_not_charged_to_the_version() -> None:
    national = FakeNational([DOWN, DOWN, DOWN, DOWN], then=OK)
    sync = deliverer(national, max_attempts=3, threshold=1)
    delivery = await asyncio.wait_for(sync.deliver(STORED), 5)
    assert delivery.delivered
    charged = [a.charged for a in delivery.attempts]
    # The first failure opens the breaker; the next three are probes after a cool-down.
    assert charged == [True, False, False, False, True]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(201, "DELIVERED"), (200, "ALREADY_PRESENT"), (409, "CONFLICT"), (400, "REFUSED")]
    + [(s, "RETRY") for s in (401, 429, 500, 502, 503, 504)],
)
def test_http_statuses_map_to_answers(status: int, kind: str) -> None:
    from services.national_sync.client import _kind

    assert _kind(status).value == kind


def test_a_naive_effective_date_is_utc_and_a_string_is_refused() -> None:
    naive = {**STORED, "effective_at": dt.datetime(2025, 5, 30, 8, 0)}
    assert version_body(naive)["effective_at"] == "2025-05-30T08:00:00+00:00"
    assert version_body({**STORED, "effective_at": None})["effective_at"] is None
    with pytest.raises(TypeError):
        version_body({**STORED, "effective_at": "2025-05-30"})
