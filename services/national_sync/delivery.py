"""Delivering one record version, attempt after attempt, until it is there or given up.

:meth:`Deliverer.deliver` returns a :class:`Delivery`: every attempt (kept for the dead
letter's history and the status topic) and how it ended:

* delivered — 201, or 200 "already have it, same PDF" (a retry of an acknowledgement that was
  lost, or a replay): both mean the national side holds exactly this version;
* dead-lettered — a 409 conflict (same version, different content: a person must look), a
  400 refusal (our request is wrong), or ``max_attempts`` attempts without an answer.

Between attempts it waits as :class:`~services.national_sync.policy.Backoff` says (never
less than Retry-After) and, before each, until the :class:`~.policy.Breaker` lets calls
through. A failed attempt that was the breaker's half-open probe is not charged to the
version: it tested the far side's health, and charging it would let one long outage
dead-letter the versions that happened to probe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.core.national import VersionKey
from services.national_sync.client import Answer, AnswerKind
from services.national_sync.policy import Backoff, Breaker, BreakerState

__all__ = ["PROBE_MARK", "Attempt", "Deliverer", "Delivery", "NationalPort"]

#: Starts the detail of a failed attempt that was the breaker's probe (not charged).
PROBE_MARK = "breaker probe: "


class NationalPort(Protocol):
    async def put_version(self, stored: Mapping[str, Any]) -> Answer: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt, as the DeadLetter schema's SyncAttempt and SyncStatus carry it."""

    attempt: int
    at: dt.datetime
    outcome: str  # a SyncOutcome symbol
    http_status: int | None
    detail: str | None
    retry_after_ms: int | None
    latency_ms: int
    charged: bool  # counted against max_attempts (False for a failed breaker probe)

    def as_datum(self) -> dict[str, Any]:
        """The SyncAttempt datum of the DeadLetter schema."""
        return {
            "attempt": self.attempt,
            "at": self.at,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "detail": self.detail,
            "retry_after_ms": self.retry_after_ms,
        }


@dataclass
class Delivery:
    """How the delivery of one version ended, with its attempts."""

    key: VersionKey
    stored: Mapping[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    reason_code: str | None = None  # why it was dead-lettered

    @property
    def outcome(self) -> str:
        """DELIVERED, ALREADY_PRESENT or DEAD_LETTERED."""
        return "DEAD_LETTERED" if not self.delivered else self.attempts[-1].outcome


_OUTCOMES = {
    AnswerKind.DELIVERED: "DELIVERED",
    AnswerKind.ALREADY_PRESENT: "ALREADY_PRESENT",
    AnswerKind.CONFLICT: "CONFLICT",
    AnswerKind.REFUSED: "DEAD_LETTERED",
    AnswerKind.RETRY: "RETRY_SCHEDULED",
}


@dataclass
class Deliverer:
    """Delivers versions through one client, back-off policy and breaker."""

    national: NationalPort
    backoff: Backoff
    breaker: Breaker
    #: Called after every attempt (status message, metrics), with the attempt's answer.
    on_attempt: Callable[[VersionKey, Attempt, Answer], None] = lambda key, attempt, answer: None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    rng: random.Random = field(default_factory=random.Random)

    async def deliver(self, stored: Mapping[str, Any]) -> Delivery:
        key = VersionKey(stored["record_id"], stored["school_year"], stored["version"])
        delivery = Delivery(key, stored)
        charged = 0
        while True:
            await self.breaker.wait_until_closed()
            probe = self.breaker.state is BreakerState.HALF_OPEN
            at = self.clock()
            answer = await self.national.put_version(stored)
            kind = answer.kind
            retry = kind is AnswerKind.RETRY
            if retry:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            counts = not (retry and probe)
            charged += 1 if counts else 0
            exhausted = retry and counts and self.backoff.exhausted(charged)
            attempt = Attempt(
                attempt=len(delivery.attempts) + 1,
                at=at,
                outcome="DEAD_LETTERED" if exhausted else _OUTCOMES[kind],
                http_status=answer.http_status,
                detail=f"{PROBE_MARK}{answer.detail}" if not counts else (answer.detail or None),
                retry_after_ms=(
                    None
                    if answer.retry_after_seconds is None
                    else int(answer.retry_after_seconds * 1000)
                ),
                latency_ms=int(answer.latency_seconds * 1000),
                charged=counts,
            )
            delivery.attempts.append(attempt)
            self.on_attempt(key, attempt, answer)
            if kind.delivered:
                delivery.delivered = True
                return delivery
            if kind is AnswerKind.CONFLICT:
                delivery.reason_code = "E_SYNC_CONFLICT"
                return delivery
            if kind is AnswerKind.REFUSED:
                delivery.reason_code = "E_SYNC_REFUSED"
                return delivery
            if exhausted:
                delivery.reason_code = "E_SYNC_ATTEMPTS_EXHAUSTED"
                return delivery
            if counts:
                await self.sleep(self.backoff.delay(charged, answer.retry_after_seconds, self.rng))
