"""A short-lived in-memory copy of vendors and their school assignments.

Authorization is checked for every event; reading assignments once per vendor every
``ttl`` seconds (and for all vendors of a batch in one query) keeps the database out
of the per-event path. A change (``hocba vendor assign/unassign``) takes effect within
``ttl`` seconds. Tokens are not cached: a revoked token stops working at once.

Students' recorded school transfers are cached the same way (:class:`TransferDirectory`):
a transfer accepted by another replica takes effect here within ``ttl`` seconds; the
replica that accepted it knows it as soon as the transfer is durable (``learn``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable

from services.ingestion.authorization import Transfer, VendorEntry
from services.ingestion.store import VendorStore

__all__ = ["TransferDirectory", "VendorDirectory"]

# Unknown vendor ids are cached too (a flood of them must not reach the database per
# event); past this many entries the cache starts afresh.
_MAX_ENTRIES = 10_000
# Students are many more than vendors; most have no transfer (an empty entry is cached too).
_MAX_STUDENTS = 200_000


class VendorDirectory:
    def __init__(
        self,
        store: VendorStore,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        # vendor id → (entry or None for "not registered", when it was loaded)
        self._cache: dict[str, tuple[VendorEntry | None, float]] = {}

    async def entries(self, vendor_ids: Collection[str]) -> dict[str, VendorEntry | None]:
        """The entry of each vendor id (``None``: not registered); one query for the stale."""
        now = self._clock()
        stale = [
            v for v in vendor_ids if v not in self._cache or now - self._cache[v][1] >= self._ttl_s
        ]
        if stale:
            if len(self._cache) + len(stale) > _MAX_ENTRIES:
                self._cache.clear()
            loaded = await self._store.vendor_entries(stale)
            for vendor_id in stale:
                self._cache[vendor_id] = (loaded.get(vendor_id), now)
        return {v: self._cache[v][0] for v in vendor_ids}

    def clear(self) -> None:
        self._cache.clear()


class TransferDirectory:
    """Each student's recorded transfers, read once per student every ``ttl`` seconds."""

    def __init__(
        self,
        store: VendorStore,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        # student id → (its transfers, oldest effective first; when they were loaded)
        self._cache: dict[str, tuple[tuple[Transfer, ...], float]] = {}

    async def timelines(self, student_ids: Collection[str]) -> dict[str, tuple[Transfer, ...]]:
        """The transfers of each student (empty: none); one query for the stale ones."""
        now = self._clock()
        stale = [
            s for s in student_ids if s not in self._cache or now - self._cache[s][1] >= self._ttl_s
        ]
        if stale:
            if len(self._cache) + len(stale) > _MAX_STUDENTS:
                self._cache.clear()
            loaded = await self._store.student_transfers(stale)
            for student_id in stale:
                self._cache[student_id] = (loaded.get(student_id, ()), now)
        return {s: self._cache[s][0] for s in student_ids}

    def learn(self, transfers: Iterable[Transfer]) -> None:
        """Transfers this process accepted (now durable): in force here at once.

        Only a student already cached is updated; one that is not is read whole from the
        database next time (a partial entry would hide the student's earlier transfers).
        """
        for transfer in transfers:
            cached = self._cache.get(transfer.student_id)
            if cached is None:
                continue
            known, loaded_at = cached
            if any(t.event_id == transfer.event_id for t in known):
                continue
            merged = tuple(sorted((*known, transfer), key=lambda t: t.effective_on))
            self._cache[transfer.student_id] = (merged, loaded_at)

    def clear(self) -> None:
        self._cache.clear()
