"""When to try a delivery again (back-off) and when to stop trying for a while (breaker).

* :class:`Backoff`: "full jitter" exponential back-off — attempt *n* waits a random time
  in ``[0, min(cap, base · 2^(n-1))]`` — never less than the far side's ``Retry-After``;
  at most ``max_attempts`` attempts per version. Jitter spreads the retries of many
  versions that failed together, so a recovering national database is not hit by all of
  them at the same instant.
* :class:`Breaker`: a circuit breaker. ``failure_threshold`` consecutive failures that
  look like the far side being down (timeouts, connection errors, 5xx, 429) open it;
  while open nobody calls the national database and consumption waits
  (:meth:`Breaker.wait_until_closed` sleeps, it does not spin); after ``cooldown`` one
  probe goes through (half-open): success closes it, failure opens it again for twice the
  cooldown (up to ``max_cooldown``).

Attempts made while the breaker is open are not made at all, so they do not use up a
version's attempts: an outage of any length costs each version at most the attempts that
raced into it before the breaker opened, plus the probe.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff", "Breaker", "BreakerState"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off with full jitter, bounded below by Retry-After."""

    base_seconds: float = 0.2
    cap_seconds: float = 30.0
    max_attempts: int = 8

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt ``attempt`` (from 1), Retry-After aside."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """How long to wait after failed attempt ``attempt`` before the next one."""
        jittered: float = (rng or random).uniform(0.0, self.ceiling(attempt))
        return max(jittered, retry_after or 0.0)

    def exhausted(self, attempt: int) -> bool:
        """True when attempt ``attempt`` was the last one allowed."""
        return attempt >= self.max_attempts


class BreakerState(enum.IntEnum):
    """Exported as the gauge ``hocba_sync_breaker_state``: 0 closed, 1 half-open, 2 open."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass
class Breaker:
    """Circuit breaker in front of the national database (one per process)."""

    failure_threshold: int = 5
    cooldown_seconds: float = 2.0
    max_cooldown_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[BreakerState], None] = lambda state: None
    _failures: int = 0
    _state: BreakerState = BreakerState.CLOSED
    _opened_at: float = 0.0
    _current_cooldown: float = 0.0
    _probing: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def _cooled_down(self) -> bool:
        return self.clock() - self._opened_at >= self._current_cooldown

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            self.on_change(state)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until_closed(self) -> None:
        """Return when a call may go through: closed, or this caller is the half-open probe."""
        while True:
            if self._state is BreakerState.CLOSED:
                return
            if self._state is BreakerState.OPEN and self._cooled_down() and not self._probing:
                self._probing = True
                self._set(BreakerState.HALF_OPEN)
                return
            if self._state is BreakerState.HALF_OPEN:
                # The probe's answer decides; a probe that never answers (cancelled) must not
                # hold everyone forever.
                timeout = self.max_cooldown_seconds
            else:
                timeout = self._current_cooldown - (self.clock() - self._opened_at)
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=max(timeout, 0.01))
            except TimeoutError:
                if self._state is BreakerState.HALF_OPEN:
                    self._probing = False
                    self._state = BreakerState.OPEN

    def record_success(self) -> None:
        """A call answered as the far side should (2xx, or 4xx about our request)."""
        self._failures = 0
        self._probing = False
        self._current_cooldown = 0.0
        self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """A call failed in a way that says the far side is unwell."""
        self._failures += 1
        probe_failed = self._probing
        self._probing = False
        if probe_failed or (
            self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._current_cooldown = min(
                self.max_cooldown_seconds,
                self._current_cooldown * 2 if probe_failed else self.cooldown_seconds,
            )
            self._opened_at = self.clock()
            self._set(BreakerState.OPEN)
