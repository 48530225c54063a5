"""What the simulated national database holds: record versions, tokens and counters, in memory.

Why in memory and not in PostgreSQL: the simulator stands in for an external system
whose durability is not what the platform's tests examine — they examine the platform's
delivery (retries, idempotency, conflicts, reconciliation) — and tests reset and inspect
it through its admin API (``POST /admin/reset``, ``GET /admin/stats``). It holds the
few thousand versions of a test or a demo. What that means: a restart of the simulator
forgets every version and token, as if the national database had lost its data; the
platform's reconciliation (summaries differ → list the versions → deliver what is
missing) is what repairs it, and a restart is one way to exercise it.

Single event loop: no method awaits, so each runs whole and needs no lock.

* :class:`NationalRecords` — versions held, by (record id, school year, version), and per
  school year, with the receipt each was stored under;
* :class:`TokenIssuer` — OAuth2 access tokens with their expiry;
* :class:`SimStats` — what ``GET /admin/stats`` shows.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.core.national import VersionKey

__all__ = [
    "HeldVersion",
    "NationalRecords",
    "PutOutcome",
    "Receipt",
    "SimStats",
    "TokenIssuer",
    "TokenState",
    "VersionCounts",
]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The national side's acknowledgement of a stored version (biên nhận)."""

    receipt_id: str
    received_at: str

    def as_json(self) -> dict[str, str]:
        return {"receipt_id": self.receipt_id, "received_at": self.received_at}


@dataclass(frozen=True, slots=True)
class HeldVersion:
    """A version the national side holds: its school, its PDF's SHA-256 and its receipt."""

    key: VersionKey
    school_code: str
    pdf_sha256: str
    receipt: Receipt


class PutOutcome(enum.Enum):
    """How a PUT of a version compares with what is held (value: the HTTP status)."""

    CREATED = 201  # not held before: stored now
    REPEATED = 200  # held with the same PDF hash: a retry, nothing changes
    CONFLICT = 409  # held with another PDF hash: refused, nothing changes


class NationalRecords:
    """The versions held, indexed by key and by (school code, school year)."""

    def __init__(self) -> None:
        self._held: dict[VersionKey, HeldVersion] = {}
        self._by_school: defaultdict[tuple[str, str], set[VersionKey]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._held)

    def put(
        self, key: VersionKey, school_code: str, pdf_sha256: str, receipt: Callable[[], Receipt]
    ) -> tuple[PutOutcome, HeldVersion]:
        """Store a version unless held; return the outcome and the version held now."""
        held = self._held.get(key)
        if held is not None:
            same = held.pdf_sha256 == pdf_sha256
            return (PutOutcome.REPEATED if same else PutOutcome.CONFLICT), held
        held = HeldVersion(key, school_code, pdf_sha256, receipt())
        self._held[key] = held
        self._by_school[(school_code, key.school_year)].add(key)
        return PutOutcome.CREATED, held

    def forget(self, key: VersionKey) -> bool:
        """Drop a version (as if the national side had lost it); False when not held."""
        held = self._held.pop(key, None)
        if held is None:
            return False
        school = (held.school_code, key.school_year)
        self._by_school[school].discard(key)
        if not self._by_school[school]:
            del self._by_school[school]
        return True

    def school_versions(self, school_code: str, school_year: str) -> list[HeldVersion]:
        """The versions held for a school year, sorted by key."""
        keys = sorted(self._by_school.get((school_code, school_year), ()))
        return [self._held[key] for key in keys]

    def clear(self) -> None:
        self._held.clear()
        self._by_school.clear()


class TokenState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"  # issued here, past its lifetime or expired by the admin API
    UNKNOWN = "unknown"


class TokenIssuer:
    """Opaque bearer tokens and their expiry on a monotonic ``clock`` (seconds).

    Expired tokens are kept (to tell "expired" from "never issued" in the fault counts):
    the simulator issues one per client per lifetime, a few hundred in a long demo.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}

    def issue(self, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        self._expiry[token] = self._clock() + ttl_seconds
        return token

    def check(self, token: str) -> TokenState:
        expiry = self._expiry.get(token)
        if expiry is None:
            return TokenState.UNKNOWN
        return TokenState.VALID if self._clock() < expiry else TokenState.EXPIRED

    def expire_all(self) -> int:
        """Make every issued token invalid; return how many were still valid."""
        now = self._clock()
        valid = sum(1 for expiry in self._expiry.values() if now < expiry)
        self._expiry = dict.fromkeys(self._expiry, now)
        return valid

    def clear(self) -> None:
        self._expiry.clear()


@dataclass(slots=True)
class VersionCounts:
    """PUT outcomes of one version since the last reset."""

    creates: int = 0  # stored anew: answered 201, or 503 when the acknowledgement was lost
    repeats: int = 0  # answered 200
    conflicts: int = 0  # answered 409
    lost_acks: int = 0  # stored anew but answered 503 (also counted in creates)


class SimStats:
    """Counters behind ``GET /admin/stats`` (reset by ``POST /admin/reset``)."""

    def __init__(self) -> None:
        self.versions: defaultdict[VersionKey, VersionCounts] = defaultdict(VersionCounts)
        self.requests_by_status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()

    def count_put(self, key: VersionKey, outcome: PutOutcome) -> None:
        counts = self.versions[key]
        if outcome is PutOutcome.CREATED:
            counts.creates += 1
        elif outcome is PutOutcome.REPEATED:
            counts.repeats += 1
        else:
            counts.conflicts += 1

    def count_lost_ack(self, key: VersionKey) -> None:
        """A version stored anew whose answer was a 503 (already counted in creates)."""
        self.versions[key].lost_acks += 1

    def as_json(self, versions_held: int) -> dict[str, Any]:
        return {
            "versions_held": versions_held,
            "requests_by_status": {
                str(status): n for status, n in sorted(self.requests_by_status.items())
            },
            "faults": dict(sorted(self.faults.items())),
            "versions": [
                {
                    "record_id": key.record_id,
                    "school_year": key.school_year,
                    "version": key.version,
                    "creates": counts.creates,
                    "repeats": counts.repeats,
                    "conflicts": counts.conflicts,
                    "lost_acks": counts.lost_acks,
                }
                for key, counts in sorted(self.versions.items())
            ],
        }
