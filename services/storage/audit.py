"""Writing the audit trail (nhật ký truy cập và thay đổi học bạ): the one definition of a
``record_audit`` row and of the statements that write it.

Every writer (the batch store, lookups, verification, school reads, admission checks,
transfer grants) builds its rows with :func:`audit_row` and writes them with
:func:`insert_audit_rows` inside its own transaction: no audit, no answer. Reading the
trail is :mod:`services.storage.audit_query`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import asyncpg

__all__ = ["AUDIT_COLUMNS", "audit_row", "insert_audit_rows"]

#: The columns an audit row is written with, in the order of :func:`audit_row`'s tuple.
AUDIT_COLUMNS: Final = (
    "actor",
    "vendor_id",
    "action",
    "record_id",
    "school_year",
    "version",
    "detail",
    "client_id",
    "purpose",
)
_INSERT: Final = f"""
INSERT INTO record_audit ({", ".join(AUDIT_COLUMNS)})
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
"""


def audit_row(
    actor: str,
    action: str,
    *,
    record_id: str | None = None,
    school_year: str | None = None,
    version: int | None = None,
    detail: Mapping[str, Any],
    vendor_id: str | None = None,
    client_id: str | None = None,
    purpose: str | None = None,
) -> tuple[Any, ...]:
    """One audit row, its values in :data:`AUDIT_COLUMNS` order (``detail`` as JSON)."""
    return (
        actor,
        vendor_id,
        action,
        record_id,
        school_year,
        version,
        json.dumps(dict(detail), ensure_ascii=False),
        client_id,
        purpose,
    )


async def insert_audit_rows(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write rows made by :func:`audit_row`: one with an INSERT, several with one COPY."""
    if len(rows) == 1:
        await conn.execute(_INSERT, *rows[0])
    elif rows:
        await conn.copy_records_to_table("record_audit", records=rows, columns=AUDIT_COLUMNS)
