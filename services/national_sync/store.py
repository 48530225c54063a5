"""The national-sync state of record versions in PostgreSQL (table ``national_sync``).

All SQL against ``national_sync`` lives here; reconciliation's reads of storage's
``record_versions`` (which versions a school year has, locally) too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.core.national import VersionKey
from services.national_sync.delivery import Delivery

__all__ = ["DeadLetterRow", "SyncStore", "SyncTotals"]


@dataclass(frozen=True, slots=True)
class SyncTotals:
    """What ``hocba sync status`` shows from the database."""

    by_state: dict[str, int]
    last_delivered_at: dt.datetime | None
    signed_versions: int  # versions storage holds signed (what should reach the national side)


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    key: VersionKey
    school_code: str
    reason_code: str | None


class SyncStore:
    """Reads and writes of the sync state, over one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def record(self, deliveries: Sequence[Delivery]) -> None:
        """The last word on each finished delivery (idempotent: a replay overwrites)."""
        rows = []
        for d in deliveries:
            last = d.attempts[-1]
            rows.append(
                (
                    d.key.record_id,
                    d.key.school_year,
                    d.key.version,
                    d.stored["school_code"],
                    d.outcome,
                    len(d.attempts),
                    last.http_status,
                    d.reason_code,
                    last.detail,
                    last.at,
                    last.at if d.delivered else None,
                )
            )
        async with self.pool.acquire() as connection:
            await connection.executemany(
                """
                INSERT INTO national_sync (record_id, school_year, version, school_code, state,
                    attempts, last_http_status, reason_code, detail, last_attempt_at,
                    delivered_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (record_id, school_year, version) DO UPDATE SET
                    state = EXCLUDED.state,
                    attempts = national_sync.attempts + EXCLUDED.attempts,
                    last_http_status = EXCLUDED.last_http_status,
                    reason_code = EXCLUDED.reason_code,
                    detail = EXCLUDED.detail,
                    last_attempt_at = EXCLUDED.last_attempt_at,
                    delivered_at = COALESCE(national_sync.delivered_at, EXCLUDED.delivered_at),
                    updated_at = now()
                """,
                rows,
            )

    async def dead_letter_count(self) -> int:
        value = await self.pool.fetchval(
            "SELECT count(*) FROM national_sync WHERE state = 'DEAD_LETTERED'"
        )
        return int(value or 0)

    async def dead_letters(self) -> list[DeadLetterRow]:
        rows = await self.pool.fetch(
            "SELECT record_id, school_year, version, school_code, reason_code"
            " FROM national_sync WHERE state = 'DEAD_LETTERED'"
        )
        return [
            DeadLetterRow(
                VersionKey(r["record_id"], r["school_year"], r["version"]),
                r["school_code"],
                r["reason_code"],
            )
            for r in rows
        ]

    async def mark_replay_requested(self, keys: Sequence[VersionKey]) -> None:
        """Dead letters handed back to national sync by ``hocba sync replay``."""
        await self.pool.executemany(
            "UPDATE national_sync SET state = 'REPLAY_REQUESTED', updated_at = now()"
            " WHERE record_id = $1 AND school_year = $2 AND version = $3",
            [(k.record_id, k.school_year, k.version) for k in keys],
        )

    async def totals(self) -> SyncTotals:
        async with self.pool.acquire() as connection:
            states = await connection.fetch(
                "SELECT state, count(*) AS n FROM national_sync GROUP BY state"
            )
            last = await connection.fetchval("SELECT max(delivered_at) FROM national_sync")
            signed = await connection.fetchval(
                "SELECT count(*) FROM record_versions WHERE status = 'SIGNED'"
            )
        return SyncTotals({r["state"]: int(r["n"]) for r in states}, last, int(signed or 0))

    async def school_years(self, school_code: str | None = None) -> list[tuple[str, str]]:
        """(school code, school year) pairs that have signed versions locally."""
        rows = await self.pool.fetch(
            "SELECT DISTINCT school_code, school_year FROM record_versions"
            " WHERE status = 'SIGNED' AND ($1::text IS NULL OR school_code = $1)"
            " ORDER BY school_code, school_year",
            school_code,
        )
        return [(r["school_code"], r["school_year"]) for r in rows]

    async def local_versions(
        self, school_code: str, school_year: str
    ) -> list[tuple[VersionKey, str]]:
        """The signed versions storage holds for a school year, with their PDF SHA-256."""
        rows = await self.pool.fetch(
            "SELECT record_id, school_year, version, pdf_sha256 FROM record_versions"
            " WHERE status = 'SIGNED' AND school_code = $1 AND school_year = $2",
            school_code,
            school_year,
        )
        return [
            (
                VersionKey(r["record_id"], r["school_year"], r["version"]),
                bytes(r["pdf_sha256"]).hex(),
            )
            for r in rows
        ]
