"""The limits on record lookups (tra cứu): per client in memory, per code in PostgreSQL.

A lookup code has 80 random bits and the birth date is a second factor, so guessing
either is hopeless only while nobody can try fast and often. Two limits, both pure here
(the clock is a parameter) and applied by :class:`~services.storage.lookup.RecordLookup`:

* :class:`ClientGuard`, per client (an address, or an access client's id), in the
  memory of one replica: a token bucket (``rate_per_minute`` lookups, as a burst too) and
  a lock-out after ``failures`` failed lookups (unknown code, wrong birth date, mistyped
  code) within ``failure_window_s``, for ``lockout_s``. A success does not forgive
  earlier failures: a guesser could interleave lookups of a code they own.
* :func:`after_attempt`, per code, on the row of ``lookup_attempts`` that every replica
  shares: a lock after ``failures`` failures within ``window_s``, for ``lockout_s``. Unknown
  codes are counted like known ones, so a lock says nothing about existence; while a
  code is locked even the right birth date is refused, and a success does not unlock it.

Shortest use::

    guard = ClientGuard(ClientLimits())
    wait = guard.admit("203.0.113.7")      # None: go ahead; else seconds to wait
    if lookup_failed:
        guard.failed("203.0.113.7")        # True when this failure locked the client out
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "AttemptState",
    "ClientGuard",
    "ClientLimits",
    "CodeLimits",
    "after_attempt",
    "code_retry_after",
]

#: Clients remembered at most; beyond it, those with nothing against them are forgotten
#: first (a full bucket, no recent failure, no lock), then the longest unseen.
_MAX_CLIENTS: Final = 100_000


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """Per-client limits (HOCBA_LOOKUP_RATE_PER_MINUTE, HOCBA_LOOKUP_CLIENT_* settings)."""

    rate_per_minute: int = 30
    failures: int = 20
    failure_window_s: float = 600.0
    lockout_s: float = 1800.0

    def __post_init__(self) -> None:
        if self.rate_per_minute < 1 or self.failures < 1:
            raise ValueError("rate_per_minute and failures must be at least 1")
        if self.failure_window_s <= 0 or self.lockout_s <= 0:
            raise ValueError("failure_window_s and lockout_s must be positive")


@dataclass(frozen=True, slots=True)
class CodeLimits:
    """Per-code limits (HOCBA_LOOKUP_CODE_* settings)."""

    failures: int = 5
    window_s: float = 900.0
    lockout_s: float = 900.0

    def __post_init__(self) -> None:
        if self.failures < 1 or self.window_s <= 0 or self.lockout_s <= 0:
            raise ValueError("failures must be at least 1, window_s and lockout_s positive")


@dataclass(slots=True)
class _Client:
    tokens: float
    seen: float
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class ClientGuard:
    """Token bucket and failure lock-out per client key; ``clock`` in seconds (monotonic)."""

    def __init__(
        self,
        limits: ClientLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = _MAX_CLIENTS,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._max_clients = max_clients
        self._clients: dict[str, _Client] = {}
        self._per_second = limits.rate_per_minute / 60.0

    def admit(self, key: str) -> float | None:
        """Take one lookup for ``key``: None when allowed, else the seconds to wait."""
        now = self._clock()
        client = self._client(key, now)
        if client.locked_until > now:
            return client.locked_until - now
        capacity = float(self.limits.rate_per_minute)
        client.tokens = min(capacity, client.tokens + (now - client.seen) * self._per_second)
        client.seen = now
        if client.tokens < 1.0:
            return (1.0 - client.tokens) / self._per_second
        client.tokens -= 1.0
        return None

    def failed(self, key: str) -> bool:
        """Count a failed lookup for ``key``; True when it locks the client out now."""
        now = self._clock()
        client = self._client(key, now)
        client.seen = max(client.seen, now)
        window_start = now - self.limits.failure_window_s
        while client.failures and client.failures[0] <= window_start:
            client.failures.popleft()
        client.failures.append(now)
        if len(client.failures) < self.limits.failures or client.locked_until > now:
            return False
        client.locked_until = now + self.limits.lockout_s
        client.failures.clear()
        return True

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` is no longer locked out (None: not locked)."""
        client = self._clients.get(key)
        now = self._clock()
        if client is None or client.locked_until <= now:
            return None
        return client.locked_until - now

    def __len__(self) -> int:
        return len(self._clients)

    def _client(self, key: str, now: float) -> _Client:
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= self._max_clients:
                self._forget(now)
            client = self._clients[key] = _Client(float(self.limits.rate_per_minute), now)
        return client

    def _forget(self, now: float) -> None:
        """Make room: drop the clients nothing is held against, else the longest unseen."""
        capacity = float(self.limits.rate_per_minute)
        window_start = now - self.limits.failure_window_s
        idle = [
            key
            for key, c in self._clients.items()
            if c.locked_until <= now
            and (not c.failures or c.failures[-1] <= window_start)
            and c.tokens + (now - c.seen) * self._per_second >= capacity
        ]
        for key in idle:
            del self._clients[key]
        if len(self._clients) >= self._max_clients:
            oldest = sorted(self._clients, key=lambda k: self._clients[k].seen)
            for key in oldest[: len(self._clients) - self._max_clients + 1]:
                del self._clients[key]


@dataclass(frozen=True, slots=True)
class AttemptState:
    """A code's row of ``lookup_attempts``: failures since ``window_started``, lock."""

    failures: int
    window_started: dt.datetime
    locked_until: dt.datetime | None = None

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def code_retry_after(state: AttemptState, now: dt.datetime) -> int | None:
    """Whole seconds until the code unlocks (at least 1), None when it is not locked."""
    if state.locked_until is None or state.locked_until <= now:
        return None
    return max(1, int(-(-(state.locked_until - now).total_seconds() // 1)))


def after_attempt(
    state: AttemptState, succeeded: bool, now: dt.datetime, limits: CodeLimits
) -> AttemptState:
    """The row after one lookup of the code at ``now`` (``succeeded``: right birth date).

    A locked code stays as it is (neither counted nor unlocked, so a lock ends on time);
    a success clears the failures of an unlocked code; a failure counts in the current
    window (a new one when the last has ended) and locks at ``limits.failures``.
    """
    if state.locked(now):
        return state
    if succeeded:
        return AttemptState(0, now, None)
    window = dt.timedelta(seconds=limits.window_s)
    if state.failures == 0 or state.window_started + window <= now:
        failures, started = 1, now
    else:
        failures, started = state.failures + 1, state.window_started
    if failures >= limits.failures:
        return AttemptState(0, now, now + dt.timedelta(seconds=limits.lockout_s))
    return AttemptState(failures, started, None)
