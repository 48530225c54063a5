"""An in-memory :class:`~services.ingestion.store.VendorStore` for unit tests and demos.

It follows the PostgreSQL adapter's contract (tests/integration/test_ingestion_store.py
runs one body against both), so it does not drift.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from services.ingestion.authorization import Assignment, Transfer, VendorEntry
from services.ingestion.store import (
    IngestedEvent,
    InvalidRequestError,
    IssuedToken,
    TokenInfo,
    VendorExistsError,
    VendorNotFoundError,
    VendorSummary,
    check_assignment,
    check_vendor_id,
)
from services.ingestion.tokens import new_token, token_sha256

__all__ = ["InMemoryVendorStore"]


@dataclass
class _Vendor:
    name: str
    active: bool = True
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class _Token:
    vendor_id: str
    sha256: bytes
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class InMemoryVendorStore:
    def __init__(self) -> None:
        self.vendors: dict[str, _Vendor] = {}
        self.tokens: dict[uuid.UUID, _Token] = {}
        self.schools: dict[tuple[str, str, dt.date], dt.date | None] = {}
        self.events: dict[uuid.UUID, IngestedEvent] = {}
        #: Recorded transfers, by event id, in recorded order.
        self.transfers: dict[str, Transfer] = {}
        #: Calls per hot-path method, so tests can pin "one round trip per batch".
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _vendor(self, vendor_id: str) -> _Vendor:
        try:
            return self.vendors[vendor_id]
        except KeyError:
            raise VendorNotFoundError(f"no vendor {vendor_id!r}") from None

    async def token_vendor(self, token_sha256: bytes) -> str | None:
        self._count("token_vendor")
        for token in self.tokens.values():
            if token.sha256 == token_sha256 and token.revoked_at is None:
                return token.vendor_id
        return None

    async def vendor_entries(self, vendor_ids: Collection[str]) -> dict[str, VendorEntry]:
        self._count("vendor_entries")
        return {
            v: VendorEntry.of(
                v,
                self.vendors[v].active,
                (
                    Assignment(vendor, school, start, end)
                    for (vendor, school, start), end in self.schools.items()
                    if vendor == v
                ),
            )
            for v in vendor_ids
            if v in self.vendors
        }

    async def known_events(self, event_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        self._count("known_events")
        return {i: self.events[i].content_sha256 for i in event_ids if i in self.events}

    async def record_events(self, events: Sequence[IngestedEvent]) -> int:
        self._count("record_events")
        added = 0
        for event in events:
            if event.event_id not in self.events:
                self.events[event.event_id] = event
                added += 1
        return added

    async def student_transfers(
        self, student_ids: Collection[str]
    ) -> dict[str, tuple[Transfer, ...]]:
        self._count("student_transfers")
        found: dict[str, list[Transfer]] = {}
        for transfer in self.transfers.values():
            if transfer.student_id in student_ids:
                found.setdefault(transfer.student_id, []).append(transfer)
        return {
            student: tuple(sorted(items, key=lambda t: t.effective_on))
            for student, items in found.items()
        }

    async def record_transfers(self, transfers: Sequence[Transfer]) -> int:
        self._count("record_transfers")
        added = 0
        for transfer in transfers:
            if transfer.to_school == transfer.from_school:
                raise InvalidRequestError("a transfer goes to another school")
            if transfer.event_id not in self.transfers:
                self.transfers[transfer.event_id] = transfer
                added += 1
        return added

    async def ping(self) -> bool:
        return True

    async def add_vendor(self, vendor_id: str, name: str) -> None:
        check_vendor_id(vendor_id)
        if not name.strip():
            raise InvalidRequestError("a vendor needs a name")
        if vendor_id in self.vendors:
            raise VendorExistsError(f"vendor {vendor_id!r} already exists")
        self.vendors[vendor_id] = _Vendor(name.strip())

    async def set_active(self, vendor_id: str, active: bool) -> None:
        self._vendor(vendor_id).active = active

    async def issue_token(self, vendor_id: str) -> IssuedToken:
        self._vendor(vendor_id)
        token, token_id = new_token(), uuid.uuid4()
        self.tokens[token_id] = _Token(vendor_id, token_sha256(token), dt.datetime.now(dt.UTC))
        return IssuedToken(token_id, vendor_id, token)

    async def revoke_token(self, vendor_id: str, token_id: uuid.UUID) -> None:
        token = self.tokens.get(token_id)
        if token is None or token.vendor_id != vendor_id:
            raise VendorNotFoundError(f"vendor {vendor_id!r} has no token {token_id}")
        token.revoked_at = token.revoked_at or dt.datetime.now(dt.UTC)

    async def assign(
        self, vendor_id: str, school_code: str, valid_from: dt.date, valid_to: dt.date | None
    ) -> None:
        check_assignment(school_code, valid_from, valid_to)
        self._vendor(vendor_id)
        self.schools[(vendor_id, school_code, valid_from)] = valid_to

    async def unassign(self, vendor_id: str, school_code: str, effective: dt.date) -> int:
        changed = 0
        for key, end in list(self.schools.items()):
            vendor, school, start = key
            if (vendor, school) != (vendor_id, school_code):
                continue
            if start >= effective:
                del self.schools[key]
                changed += 1
            elif end is None or end >= effective:
                self.schools[key] = effective - dt.timedelta(days=1)
                changed += 1
        return changed

    async def list_vendors(self) -> list[VendorSummary]:
        return [
            VendorSummary(
                vendor_id=vendor_id,
                name=vendor.name,
                active=vendor.active,
                created_at=vendor.created_at,
                tokens=tuple(
                    TokenInfo(token_id, t.created_at, t.revoked_at)
                    for token_id, t in sorted(self.tokens.items(), key=lambda i: i[1].created_at)
                    if t.vendor_id == vendor_id
                ),
                assignments=tuple(
                    sorted(
                        (
                            Assignment(v, school, start, end)
                            for (v, school, start), end in self.schools.items()
                            if v == vendor_id
                        ),
                        key=lambda a: (a.school_code, a.valid_from),
                    )
                ),
            )
            for vendor_id, vendor in sorted(self.vendors.items())
        ]
