"""The operators' view of the audit trail (nhật ký truy cập và thay đổi học bạ).

Shortest use::

    query = PgAuditQuery(pool)
    rows = await query.of_record(await query.record_id_of(parse_code(code)))

Three questions, each answered by one indexed statement over ``record_audit`` (with the
client's kind and name from ``access_clients``):

* :meth:`PgAuditQuery.of_record` — every row of a record, writes and reads, oldest first;
* :meth:`PgAuditQuery.of_client` — what one access client did, in a time window;
* :meth:`PgAuditQuery.search` — by action, actor and time, newest first.

Read-only (a read-only transaction) and **not audited**: these are operators reading the
trail with the database's own credentials (``hocba audit``), not reads of records through
the platform's API, and an audit row per audit query would make the trail audit itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from services.storage.errors import translate_db_error
from services.storage.record_ids import CodeKind, RecordCode

__all__ = ["AUDIT_ACTIONS", "AuditRow", "AuditSearch", "PgAuditQuery"]

#: Every action an audit row may carry (the CHECK of migration 0006).
AUDIT_ACTIONS: Final = (
    "VERSION_STORED",
    "VERSION_SUPERSEDED",
    "VERSION_STORED_LATE",
    "REDELIVERY_IGNORED",
    "VERSION_CONFLICT_REFUSED",
    "RECORD_ID_CONFLICT_REFUSED",
    "LOOKUP_CODE_CONFLICT_REFUSED",
    "READ",
    "READ_NOT_FOUND",
    "READ_REFUSED",
    "VERIFIED",
    "ACCESS_GRANTED",
)

_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

_COLUMNS = """
SELECT a.audit_id, a.at, a.actor, a.vendor_id, a.action, a.record_id, a.school_year,
       a.version, a.client_id, c.kind AS client_kind, c.name AS client_name, a.purpose,
       a.detail::text AS detail
FROM record_audit a
LEFT JOIN access_clients c ON c.client_id = a.client_id
"""
_RECORD_OF_CODE = "SELECT record_id FROM lookup_codes WHERE lookup_code = $1"
_RECORD_EXISTS = "SELECT record_id FROM records WHERE record_id = $1"
_OF_RECORD = f"{_COLUMNS} WHERE a.record_id = $1 ORDER BY a.at, a.audit_id"
_OF_CLIENT = f"""{_COLUMNS}
WHERE a.client_id = $1
  AND ($2::timestamptz IS NULL OR a.at >= $2) AND ($3::timestamptz IS NULL OR a.at < $3)
ORDER BY a.at, a.audit_id
LIMIT $4
"""
_SEARCH = f"""{_COLUMNS}
WHERE ($1::text IS NULL OR a.action = $1)
  AND ($2::text IS NULL OR strpos(a.actor, $2) > 0)
  AND ($3::timestamptz IS NULL OR a.at >= $3) AND ($4::timestamptz IS NULL OR a.at < $4)
ORDER BY a.at DESC, a.audit_id DESC
LIMIT $5
"""


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit row, with the access client's kind and name when a client acted."""

    audit_id: int
    at: dt.datetime
    actor: str
    action: str
    vendor_id: str | None
    record_id: str | None
    school_year: str | None
    version: int | None
    client_id: str | None
    client_kind: str | None
    client_name: str | None
    purpose: str | None
    detail: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "audit_id": self.audit_id,
            "at": self.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "actor": self.actor,
            "action": self.action,
            "vendor_id": self.vendor_id,
            "record_id": self.record_id,
            "school_year": self.school_year,
            "version": self.version,
            "client_id": self.client_id,
            "client_kind": self.client_kind,
            "client_name": self.client_name,
            "purpose": self.purpose,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True, slots=True)
class AuditSearch:
    """What :meth:`PgAuditQuery.search` looks for; None: any. ``until`` is exclusive."""

    action: str | None = None
    #: A part of the actor (``client:office-hcm``, ``http:10.0.0.5``, ``hocba-storage/0``).
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 100


def _row(record: Mapping[str, Any]) -> AuditRow:
    return AuditRow(
        audit_id=record["audit_id"],
        at=record["at"],
        actor=record["actor"],
        action=record["action"],
        vendor_id=record["vendor_id"],
        record_id=record["record_id"],
        school_year=record["school_year"],
        version=record["version"],
        client_id=record["client_id"],
        client_kind=record["client_kind"],
        client_name=record["client_name"],
        purpose=record["purpose"],
        detail=json.loads(record["detail"]),
    )


class PgAuditQuery:
    """Read-only queries of ``record_audit``; raises :class:`StorageError` (translated)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_id_of(self, code: RecordCode) -> str | None:
        """The record a lookup code names, or the record id itself if stored; else None."""
        query = _RECORD_OF_CODE if code.kind is CodeKind.LOOKUP_CODE else _RECORD_EXISTS
        rows = await self._fetch("record_id_of", query, code.value)
        return None if not rows else str(rows[0]["record_id"])

    async def of_record(self, record_id: str) -> list[AuditRow]:
        """Every row naming the record (every school year), oldest first."""
        return [_row(r) for r in await self._fetch("audit_of_record", _OF_RECORD, record_id)]

    async def of_client(
        self,
        client_id: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditRow]:
        """What the client did in ``[since, until)``, oldest first, at most ``limit`` rows."""
        rows = await self._fetch("audit_of_client", _OF_CLIENT, client_id, since, until, limit)
        return [_row(r) for r in rows]

    async def search(self, search: AuditSearch) -> list[AuditRow]:
        """The latest ``search.limit`` rows matching, newest first."""
        rows = await self._fetch(
            "audit_search",
            _SEARCH,
            search.action,
            search.actor,
            search.since,
            search.until,
            search.limit,
        )
        return [_row(r) for r in rows]

    async def _fetch(self, operation: str, query: str, *args: object) -> list[asyncpg.Record]:
        try:
            async with self._pool.acquire() as conn, conn.transaction(readonly=True):
                return list(await conn.fetch(query, *args))
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, operation) from exc
