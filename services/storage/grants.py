"""School transfers in storage: the receiving school's access to the student's records
(quyền truy cập học bạ của trường nhận học sinh chuyển đến).

A transfer accepted by ingestion reaches storage on ``hocba.transfers`` (an
AcceptedEvent whose payload is a StudentTransfer). Each becomes one ``record_grants``
row (migration 0006): from ``granted_from`` (the transfer's effective date) on, the
receiving school may read every signed page of the student's record, those of the
sending school included, and each read is audited with the school's client and purpose
(:mod:`services.storage.school_api`). A grant is written once per transfer event
(``ON CONFLICT (event_id) DO NOTHING``), with its ``ACCESS_GRANTED`` audit row, in one
database transaction that commits before the batch's Kafka offsets: a re-delivery
grants and audits nothing twice.

A school client may read a student's records when the student has a stored page at one
of its schools or a grant to one of them in effect today (:func:`entitlement`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import asyncpg

from services.messaging.codec import AvroCodec, DecodeFailure, default_codec
from services.messaging.pipeline import Incoming
from services.storage.audit import audit_row, insert_audit_rows
from services.storage.errors import StorageUnavailableError, translate_db_error
from services.storage.metrics import StorageMetrics

__all__ = [
    "VIETNAM_TIME",
    "Grant",
    "GrantRefusal",
    "PgGrantStore",
    "TransferGrants",
    "entitlement",
    "grant_of",
    "vietnam_today",
]

_log = logging.getLogger("hocba.storage.grants")

ACCEPTED: Final = "vn.edu.hocba.AcceptedEvent"
TRANSFER: Final = "vn.edu.hocba.StudentTransfer"
#: Vietnam has kept UTC+07:00 all year since 1975: grants start on dates there.
VIETNAM_TIME: Final = dt.timezone(dt.timedelta(hours=7), "ICT")
_MAX_BACKOFF_S: Final = 5.0
_DB_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

Entitlement = Literal["page", "grant"]


def vietnam_today(now: dt.datetime) -> dt.date:
    """Today's date in Vietnam at the instant ``now`` (aware; naive is UTC)."""
    stamp = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return stamp.astimezone(VIETNAM_TIME).date()


@dataclass(frozen=True, slots=True)
class Grant:
    """The receiving school's access to a student's records, from a date on."""

    event_id: str
    student_id: str
    school_code: str
    from_school_code: str
    granted_from: dt.date
    school_year: str
    vendor_id: str

    def audit_detail(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "student_id": self.student_id,
            "from_school_code": self.from_school_code,
            "to_school_code": self.school_code,
            "effective_on": self.granted_from.isoformat(),
            "school_year": self.school_year,
        }


@dataclass(frozen=True, slots=True)
class GrantRefusal:
    """Why a message on ``hocba.transfers`` grants nothing."""

    code: str
    message_en: str
    vendor_id: str | None = None


def grant_of(accepted: Mapping[str, Any]) -> Grant | GrantRefusal:
    """The grant a decoded AcceptedEvent makes: it must carry a StudentTransfer to
    another, named school."""
    event = accepted.get("event")
    if not isinstance(event, Mapping):
        return GrantRefusal("E_STORAGE_NOT_A_TRANSFER", "no event in the AcceptedEvent")
    vendor = event.get("vendor_id")
    vendor_id = vendor if isinstance(vendor, str) else None
    kind, body = event.get("payload") or (None, None)
    if kind != TRANSFER or not isinstance(body, Mapping):
        return GrantRefusal(
            "E_STORAGE_NOT_A_TRANSFER", f"payload {kind!r} is not a StudentTransfer", vendor_id
        )
    to_school, from_school = body.get("to_school_code"), event.get("school_code")
    student, effective = event.get("student_id"), body.get("effective_on")
    if not (to_school and from_school and student) or to_school == from_school:
        return GrantRefusal(
            "E_STORAGE_NOT_A_TRANSFER",
            "a transfer names a student and two different schools",
            vendor_id,
        )
    if not isinstance(effective, dt.date):
        return GrantRefusal("E_STORAGE_NOT_A_TRANSFER", "effective_on is not a date", vendor_id)
    return Grant(
        event_id=str(event["event_id"]),
        student_id=str(student),
        school_code=str(to_school),
        from_school_code=str(from_school),
        granted_from=effective,
        school_year=str(event.get("school_year") or ""),
        vendor_id=vendor_id or "",
    )


def entitlement(
    client_schools: Collection[str],
    page_schools: Iterable[str],
    grants: Iterable[tuple[str, dt.date]],
    today: dt.date,
) -> Entitlement | None:
    """Why a school client may read the student's records, or None.

    ``page_schools``: the schools of the student's stored pages (any version);
    ``grants``: (school, granted_from) of the student's grants. A page at one of the
    client's schools entitles it (its own student), as does a grant to one of them in
    effect on ``today`` (Vietnam date).
    """
    if any(school in client_schools for school in page_schools):
        return "page"
    if any(school in client_schools and start <= today for school, start in grants):
        return "grant"
    return None


_INSERT_GRANTS = """
INSERT INTO record_grants (event_id, student_id, school_code, from_school_code,
                           granted_from, school_year)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""
_RECORD_IDS = "SELECT student_id, record_id FROM records WHERE student_id = ANY($1::text[])"


class PgGrantStore:
    """The ``record_grants`` table (migration 0006) and the grants' audit rows."""

    def __init__(self, pool: asyncpg.Pool, *, actor: str) -> None:
        self._pool = pool
        self.actor = actor

    async def record(self, grants: Sequence[Grant]) -> set[str]:
        """Write the grants and an ``ACCESS_GRANTED`` audit row for each new one, in one
        transaction; return the event ids newly granted (the others were already)."""
        if not grants:
            return set()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                inserted = await conn.fetch(
                    _INSERT_GRANTS,
                    [g.event_id for g in grants],
                    [g.student_id for g in grants],
                    [g.school_code for g in grants],
                    [g.from_school_code for g in grants],
                    [g.granted_from for g in grants],
                    [g.school_year for g in grants],
                )
                new = {str(r["event_id"]) for r in inserted}
                fresh = [g for g in grants if g.event_id in new]
                if not fresh:
                    return new
                records = {
                    r["student_id"]: r["record_id"]
                    for r in await conn.fetch(_RECORD_IDS, sorted({g.student_id for g in fresh}))
                }
                rows = [
                    audit_row(
                        self.actor,
                        "ACCESS_GRANTED",
                        vendor_id=g.vendor_id or None,
                        # The student's record, when a page of it is stored already.
                        record_id=records.get(g.student_id),
                        school_year=g.school_year or None,
                        detail=g.audit_detail(),
                    )
                    for g in fresh
                ]
                await insert_audit_rows(conn, rows)
                return new
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "record_grants") from exc


class TransferGrants:
    """The ``hocba.transfers`` part of the storage pipeline's batch handler."""

    def __init__(
        self,
        store: PgGrantStore,
        metrics: StorageMetrics,
        *,
        retry_budget_s: float = 60.0,
        codec: AvroCodec | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._retry_budget_s = retry_budget_s
        self._codec = codec or default_codec()
        self._sleep = sleep

    async def __call__(self, messages: Sequence[Incoming]) -> None:
        """Record the batch's grants (committed when this returns); refuse the rest.

        A database outage is retried for ``retry_budget_s``, then raised: the batch is
        not committed and is consumed again after a restart.
        """
        grants: list[Grant] = []
        for message in messages:
            decoded = self._codec.decode(message.value or b"", expected=ACCEPTED)
            if isinstance(decoded, DecodeFailure):
                self._refuse(message, GrantRefusal(decoded.code, decoded.message_en))
                continue
            grant = grant_of(decoded.value)
            if isinstance(grant, GrantRefusal):
                self._refuse(message, grant)
                continue
            grants.append(grant)
        if not grants:
            return
        new = await self._record_retrying(grants)
        service = self._metrics.service
        for grant in grants:
            outcome = "granted" if grant.event_id in new else "redelivered"
            self._metrics.grants.labels(service, outcome).inc()
            # Only a later copy of the same event in this batch would be "redelivered".
            new.discard(grant.event_id)

    def _refuse(self, message: Incoming, refusal: GrantRefusal) -> None:
        self._metrics.grants.labels(self._metrics.service, "refused").inc()
        self._metrics.shared.reject(refusal.code, refusal.vendor_id)
        _log.error(
            "refused a message on %s",
            message.topic,
            extra={
                "code": refusal.code,
                "reason": refusal.message_en,
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "vendor_id": refusal.vendor_id,
            },
        )

    async def _record_retrying(self, grants: Sequence[Grant]) -> set[str]:
        deadline = time.monotonic() + self._retry_budget_s
        backoff = 0.1
        while True:
            try:
                return await self._store.record(grants)
            except StorageUnavailableError as exc:
                self._metrics.db_retries.labels(self._metrics.service, exc.sqlstate or "none").inc()
                if time.monotonic() + backoff > deadline:
                    _log.error("database unavailable; giving up the transfers' batch")
                    raise
                await self._sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
