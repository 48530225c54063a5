"""The port ingestion keeps vendors, tokens, assignments and ingested event ids behind.

One real adapter (:class:`services.ingestion.vendors.PostgresVendorStore`) and one
in-memory fake (:class:`services.ingestion.memory.InMemoryVendorStore`); the same
contract tests run against both.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from services.ingestion.authorization import Assignment, Transfer, VendorEntry

__all__ = [
    "VENDOR_ID_PATTERN",
    "IngestedEvent",
    "InvalidRequestError",
    "IssuedToken",
    "StoreError",
    "StoreUnavailableError",
    "TokenInfo",
    "VendorExistsError",
    "VendorNotFoundError",
    "VendorStore",
    "VendorSummary",
    "check_assignment",
    "check_vendor_id",
]

#: A vendor id is a short, stable, printable name (it is a metric label and a Kafka key).
VENDOR_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class StoreError(Exception):
    """The vendor store refused or failed an operation."""


class StoreUnavailableError(StoreError):
    """The database did not answer (connection lost, shutting down, overloaded): retry later."""


class VendorNotFoundError(StoreError):
    """No vendor (or no such token of the vendor) is registered under that id."""


class VendorExistsError(StoreError):
    """A vendor with that id is already registered."""


class InvalidRequestError(StoreError):
    """The arguments are malformed (a vendor id outside its pattern, dates out of order)."""


def check_assignment(school_code: str, valid_from: dt.date, valid_to: dt.date | None) -> None:
    """Refuse an assignment without a school or that ends before it starts."""
    if not school_code:
        raise InvalidRequestError("a school code is needed")
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequestError(f"--to {valid_to} is before --from {valid_from}")


def check_vendor_id(vendor_id: str) -> str:
    if VENDOR_ID_PATTERN.fullmatch(vendor_id) is None:
        raise InvalidRequestError(
            f"vendor id {vendor_id!r} must match {VENDOR_ID_PATTERN.pattern} "
            "(letters, digits, '.', '_' or '-', at most 64)"
        )
    return vendor_id


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: ``token`` is shown once and never stored."""

    token_id: uuid.UUID
    vendor_id: str
    token: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: uuid.UUID
    created_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """An accepted event id and the hash of its content, kept for de-duplication."""

    event_id: uuid.UUID
    vendor_id: str
    content_sha256: bytes


@dataclass(frozen=True, slots=True)
class VendorSummary:
    vendor_id: str
    name: str
    active: bool
    created_at: dt.datetime
    tokens: tuple[TokenInfo, ...]
    assignments: tuple[Assignment, ...]


class VendorStore(Protocol):
    """Vendors, their tokens and schools, the ids of ingested events, and the students'
    recorded school transfers."""

    # -- what the service reads and writes per request / batch --
    async def token_vendor(self, token_sha256: bytes) -> str | None:
        """The vendor of a token that is not revoked, or ``None``."""

    async def vendor_entries(self, vendor_ids: Collection[str]) -> dict[str, VendorEntry]:
        """The registered ones of ``vendor_ids`` with all their assignments (one query)."""

    async def known_events(self, event_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        """Content hashes of those ids already ingested (one query)."""

    async def record_events(self, events: Sequence[IngestedEvent]) -> int:
        """Remember accepted events; an id already there keeps its first row. Returns new rows."""

    async def student_transfers(
        self, student_ids: Collection[str]
    ) -> dict[str, tuple[Transfer, ...]]:
        """The recorded transfers of those students that have any, oldest effective first,
        in recorded order within a day (one query)."""

    async def record_transfers(self, transfers: Sequence[Transfer]) -> int:
        """Remember accepted transfers; an event id already there keeps its row. Returns
        new rows."""

    async def ping(self) -> bool:
        """True when the database answers."""

    # -- operator commands (hocba vendor ...) --
    async def add_vendor(self, vendor_id: str, name: str) -> None: ...

    async def set_active(self, vendor_id: str, active: bool) -> None: ...

    async def issue_token(self, vendor_id: str) -> IssuedToken: ...

    async def revoke_token(self, vendor_id: str, token_id: uuid.UUID) -> None: ...

    async def assign(
        self, vendor_id: str, school_code: str, valid_from: dt.date, valid_to: dt.date | None
    ) -> None: ...

    async def unassign(self, vendor_id: str, school_code: str, effective: dt.date) -> int:
        """End the assignment from ``effective`` on (its last day is the day before)."""

    async def list_vendors(self) -> list[VendorSummary]: ...
