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
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Generic, TypeVar

from services.ingestion.authorization import Transfer, VendorEntry
from services.ingestion.store import VendorStore

__all__ = ["TransferDirectory", "VendorDirectory"]

_K = TypeVar("_K")
_V = TypeVar("_V")

# Unknown vendor ids are cached too (a flood of them must not reach the database per
# event); past this many entries the cache starts afresh.
_MAX_ENTRIES = 10_000
# Students are many more than vendors; most have no transfer (an empty entry is cached too).
_MAX_STUDENTS = 200_000


class _ExpiringCache(Generic[_K, _V]):
    """Values loaded in bulk for the keys asked, each kept ``ttl_s`` seconds; past
    ``max_entries`` the cache starts afresh."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        # key → (value, when it was loaded)
        self.entries: dict[_K, tuple[_V, float]] = {}

    async def get(
        self,
        keys: Collection[_K],
        load: Callable[[list[_K]], Awaitable[Mapping[_K, _V]]],
        absent: _V,
    ) -> dict[_K, _V]:
        """The value of each key (``absent`` for one ``load`` does not return); one ``load``
        for the keys not cached or older than the TTL."""
        now = self._clock()
        stale = [
            k for k in keys if k not in self.entries or now - self.entries[k][1] >= self._ttl_s
        ]
        if stale:
            if len(self.entries) + len(stale) > self._max_entries:
                self.entries.clear()
            loaded = await load(stale)
            for key in stale:
                self.entries[key] = (loaded.get(key, absent), now)
        return {k: self.entries[k][0] for k in keys}


class VendorDirectory:
    def __init__(
        self,
        store: VendorStore,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        # vendor id → entry, or None for "not registered"
        self._cache: _ExpiringCache[str, VendorEntry | None] = _ExpiringCache(
            ttl_s, _MAX_ENTRIES, clock
        )

    async def entries(self, vendor_ids: Collection[str]) -> dict[str, VendorEntry | None]:
        """The entry of each vendor id (``None``: not registered); one query for the stale."""
        return await self._cache.get(vendor_ids, self._store.vendor_entries, None)

    def clear(self) -> None:
        self._cache.entries.clear()


class TransferDirectory:
    """Each student's recorded transfers, read once per student every ``ttl`` seconds."""

    def __init__(
        self,
        store: VendorStore,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        # student id → its transfers, oldest effective first
        self._cache: _ExpiringCache[str, tuple[Transfer, ...]] = _ExpiringCache(
            ttl_s, _MAX_STUDENTS, clock
        )

    async def timelines(self, student_ids: Collection[str]) -> dict[str, tuple[Transfer, ...]]:
        """The transfers of each student (empty: none); one query for the stale ones."""
        return await self._cache.get(student_ids, self._store.student_transfers, ())

    def learn(self, transfers: Iterable[Transfer]) -> None:
        """Transfers this process accepted (now durable): in force here at once.

        Only a student already cached is updated; one that is not is read whole from the
        database next time (a partial entry would hide the student's earlier transfers).
        """
        cache = self._cache.entries
        for transfer in transfers:
            cached = cache.get(transfer.student_id)
            if cached is None:
                continue
            known, loaded_at = cached
            if any(t.event_id == transfer.event_id for t in known):
                continue
            merged = tuple(sorted((*known, transfer), key=lambda t: t.effective_on))
            cache[transfer.student_id] = (merged, loaded_at)

    def clear(self) -> None:
        self._cache.entries.clear()
