"""A short-lived in-memory copy of vendors and their school assignments.

Authorization is checked for every event; reading assignments once per vendor every
``ttl`` seconds (and for all vendors of a batch in one query) keeps the database out
of the per-event path. A change (``hocba vendor assign/unassign``) takes effect within
``ttl`` seconds. Tokens are not cached: a revoked token stops working at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from services.ingestion.authorization import VendorEntry
from services.ingestion.store import VendorStore

__all__ = ["VendorDirectory"]

# Unknown vendor ids are cached too (a flood of them must not reach the database per
# event); past this many entries the cache starts afresh.
_MAX_ENTRIES = 10_000


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
