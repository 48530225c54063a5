"""Record lookup (tra cứu học bạ) for holders of a lookup code, shared by the JSON API
(:mod:`services.storage.http`) and the web pages (:mod:`services.storage.web`).

A lookup code (mã số tra cứu, printed on one year page) or a record id (mã hồ sơ, naming
every year) together with the student's date of birth opens:

* :meth:`RecordLookup.look_up` — what a receiving school needs: the student's name and,
  per school year, the current version's school, grade, result, completion statement and
  signatures (:class:`LookupView`); the lookup code and the PDF link only for the page
  the code names;
* :meth:`RecordLookup.pdf` — a page's signed PDF (a superseded version on request); an
  authenticated national education database needs no birth date;
* :meth:`RecordLookup.access_log` — who read the record, when and why (:class:`AccessLog`).

An unknown code and a wrong birth date are the same :class:`NotFound`, after the same
database work and no sooner than ``min_seconds``. Guessing is limited per client and per
code (:mod:`services.storage.lookup_guard`); every lookup is audited in the transaction
that reads (no audit, no answer), and a refused one never names the record, so a wrong
birth date is not a read in the parents' access log.

Shortest use::

    lookup = RecordLookup(PgLookupStore(pool, code_limits), metrics, LookupLimits())
    outcome = await lookup.look_up("0TKP-SW9Y-1WA3-2RDZ-A", "2015-08-06", requester)
    if isinstance(outcome, Found):
        body = outcome.view.as_json()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, TypeVar

from services.storage.access import ClientKind, Requester
from services.storage.answers import utc_stamp
from services.storage.errors import StorageError
from services.storage.lookup_guard import ClientGuard, ClientLimits
from services.storage.metrics import StorageMetrics
from services.storage.record_ids import RecordCode, parse_code

__all__ = [
    "HOLDER_LABEL_EN",
    "HOLDER_LABEL_VI",
    "AccessEntry",
    "AccessLog",
    "AccessLogFound",
    "AccessLogOutcome",
    "BirthDateRequired",
    "Found",
    "InvalidCode",
    "Locked",
    "LookupLimits",
    "LookupOutcome",
    "LookupQuery",
    "LookupStore",
    "LookupView",
    "NotFound",
    "PageView",
    "PdfFound",
    "PdfOutcome",
    "ReadBy",
    "RecordLookup",
    "Resource",
    "SignatureView",
    "StoreAnswer",
    "Unavailable",
    "parse_birth_date",
]

#: How the access log names a reader who is no access client.
HOLDER_LABEL_VI: Final = "người có mã tra cứu"
HOLDER_LABEL_EN: Final = "holder of the lookup code"
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What an audit row keeps of a code that is not one (a path can be 8 KiB long).
_AUDITED_CODE_MAX: Final = 64
_PURPOSE_MAX: Final = 200

Resource = Literal["record", "pdf", "access_log"]
_T = TypeVar("_T")


def parse_birth_date(text: str | None) -> dt.date | None:
    """A date of birth as ``YYYY-MM-DD`` (a real date); None when missing or anything else."""
    if text is None:
        return None
    cleaned = text.strip()
    if _ISO_DATE.fullmatch(cleaned) is None:
        return None
    try:
        return dt.date.fromisoformat(cleaned)
    except ValueError:
        return None


# --- what a lookup shows -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureView:
    """One signature of a page: who signed in which role, when (the timestamp's time)."""

    role: str
    signer_name: str
    signed_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "signer_name": self.signer_name,
            "signed_at": utc_stamp(self.signed_at),
        }


@dataclass(frozen=True, slots=True)
class PageView:
    """One school year of the record, its current version: what a receiving school needs."""

    school_year: str
    grade: int
    school_code: str
    school_name: str | None
    year_result: str | None
    completion_statement: str | None
    version: int
    effective_at: dt.datetime | None
    signatures: tuple[SignatureView, ...]
    #: Signed by the homeroom teacher and the principal, and sealed.
    signed_complete: bool
    #: Earlier versions of this page (corrections replaced them; each stays retrievable).
    superseded_versions: int
    #: The page the code names (every page, for a record id).
    is_named_page: bool
    #: The page's lookup code, only on the named page.
    lookup_code: str | None

    @property
    def pdf_path(self) -> str | None:
        """Where the named page's signed PDF is (birth date required), else None."""
        if not self.is_named_page or self.lookup_code is None:
            return None
        return f"/v1/records/{self.lookup_code}/pdf"

    def as_json(self) -> dict[str, Any]:
        return {
            "school_year": self.school_year,
            "grade": self.grade,
            "school_code": self.school_code,
            "school_name": self.school_name,
            "year_result": self.year_result,
            "completion_statement": self.completion_statement,
            "version": self.version,
            "effective_at": utc_stamp(self.effective_at),
            "signatures": [s.as_json() for s in self.signatures],
            "signed_complete": self.signed_complete,
            "superseded_versions": self.superseded_versions,
            "is_named_page": self.is_named_page,
            "lookup_code": self.lookup_code,
            "pdf_path": self.pdf_path,
        }


@dataclass(frozen=True, slots=True)
class LookupView:
    """The found record: the student's full name and its pages, oldest school year first.

    Nothing else: no birth date, national id, parents, address or evaluations, and no
    record id (it would open the other years' PDFs to the holder of one page's code).
    """

    student_name: str
    pages: tuple[PageView, ...]

    def as_json(self) -> dict[str, Any]:
        return {"student_name": self.student_name, "pages": [p.as_json() for p in self.pages]}


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One read of the record in its access log; never the reader's address."""

    at: dt.datetime
    #: READ or VERIFIED (a PDF of the record checked against the platform).
    action: str
    #: SCHOOL, ADMISSIONS_OFFICE, NATIONAL_DB; None: a holder of the lookup code.
    client_kind: str | None
    client_name: str | None
    purpose: str | None
    #: The page read (None when the whole record was).
    school_year: str | None

    def as_json(self) -> dict[str, Any]:
        holder = self.client_kind is None
        return {
            "at": utc_stamp(self.at),
            "action": self.action,
            "client_kind": self.client_kind,
            "client_name": self.client_name,
            "reader_vi": HOLDER_LABEL_VI if holder else self.client_name,
            "reader_en": HOLDER_LABEL_EN if holder else self.client_name,
            "purpose": self.purpose,
            "school_year": self.school_year,
        }


@dataclass(frozen=True, slots=True)
class AccessLog:
    """The reads of a record (every page), newest first, at most ``limit`` of them;
    ``truncated``: older ones exist beyond those shown."""

    student_name: str
    entries: tuple[AccessEntry, ...]
    limit: int = 200
    truncated: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "student_name": self.student_name,
            "entries": [e.as_json() for e in self.entries],
            "truncated": self.truncated,
        }


# --- outcomes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    view: LookupView


@dataclass(frozen=True, slots=True)
class PdfFound:
    """A page's signed PDF; ``sha256`` (hex) is its ETag."""

    pdf: bytes
    sha256: str
    school_year: str
    version: int
    filename: str


@dataclass(frozen=True, slots=True)
class AccessLogFound:
    log: AccessLog


@dataclass(frozen=True, slots=True)
class NotFound:
    """No record for this code and birth date (which of the two is never told)."""


@dataclass(frozen=True, slots=True)
class InvalidCode:
    """Not a lookup code (a wrong check character) nor a record id."""


@dataclass(frozen=True, slots=True)
class BirthDateRequired:
    """The date of birth is missing or not ``YYYY-MM-DD``; nothing was looked up."""


@dataclass(frozen=True, slots=True)
class Locked:
    """Too many failed lookups (by this client, or of this code): retry later."""

    retry_after_s: int


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The database did not answer; nothing was read."""


_Refusal = NotFound | InvalidCode | BirthDateRequired | Locked | Unavailable
LookupOutcome = Found | _Refusal
PdfOutcome = PdfFound | _Refusal
AccessLogOutcome = AccessLogFound | _Refusal


# --- the store's port --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupQuery:
    """One lookup as the store carries it out."""

    code: RecordCode
    resource: Resource
    #: None: no second factor (an authenticated national database fetching a PDF); the
    #: per-code limit then neither applies nor counts.
    birth_date: dt.date | None
    version: int | None = None
    school_year: str | None = None


@dataclass(frozen=True, slots=True)
class ReadBy:
    """Who reads, for the audit row: actor, access client and purpose, detail."""

    actor: str
    client_id: str | None
    purpose: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoreAnswer:
    """What the store found; only the part of ``resource`` is filled when found."""

    status: Literal["found", "not_found", "locked"]
    view: LookupView | None = None
    pdf: PdfFound | None = None
    log: AccessLog | None = None
    retry_after_s: int = 0
    #: This failure locked the code (for the lock-out counter).
    locked_now: bool = False


class LookupStore(Protocol):
    """The lookup's database work (:class:`~services.storage.lookup_store.PgLookupStore`).

    :meth:`read` is one transaction: the code's ``lookup_attempts`` row (locked), the code
    and birth date, the row's new state, the resource, the audit row. Raises
    :class:`StorageError` when the database does not answer.
    """

    async def read(self, query: LookupQuery, by: ReadBy) -> StoreAnswer: ...

    async def audit_invalid(self, typed: str, resource: Resource, by: ReadBy) -> None:
        """Audit a lookup of something that is no code (READ_NOT_FOUND, no record)."""
        ...


# --- the lookup --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupLimits:
    """The response-time floor and the per-client limits (the per-code ones are the
    store's: :class:`~services.storage.lookup_guard.CodeLimits`)."""

    min_seconds: float = 0.25
    client: ClientLimits = field(default_factory=ClientLimits)


def _audited(text: str) -> str:
    """A typed code as the audit keeps it: printable, bounded (jsonb refuses U+0000)."""
    return "".join(ch for ch in text.upper() if ch.isprintable())[:_AUDITED_CODE_MAX]


class RecordLookup:
    """Lookups by holders of a code, with the second factor, the limits and the floor."""

    def __init__(
        self,
        store: LookupStore,
        metrics: StorageMetrics,
        limits: LookupLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self.limits = limits or LookupLimits()
        self._clock = clock
        self._sleep = sleep
        self.guard = ClientGuard(self.limits.client, clock=clock)

    async def look_up(
        self,
        code: str,
        birth_date: str | None,
        requester: Requester,
        *,
        purpose: str | None = None,
    ) -> LookupOutcome:
        """The record a code names, when ``birth_date`` is the student's."""
        answer = await self._run("record", code, birth_date, requester, purpose=purpose)
        if isinstance(answer, StoreAnswer):
            assert answer.view is not None
            return Found(answer.view)
        return answer

    async def pdf(
        self,
        code: str,
        birth_date: str | None,
        requester: Requester,
        *,
        version: int | None = None,
        school_year: str | None = None,
        purpose: str | None = None,
    ) -> PdfOutcome:
        """A page's signed PDF: ``version`` or the current one; for a record id the page of
        ``school_year`` (default: the latest). A national database client needs no birth date."""
        answer = await self._run(
            "pdf",
            code,
            birth_date,
            requester,
            version=version,
            school_year=school_year,
            purpose=purpose,
        )
        if isinstance(answer, StoreAnswer):
            assert answer.pdf is not None
            return answer.pdf
        return answer

    async def access_log(
        self,
        code: str,
        birth_date: str | None,
        requester: Requester,
        *,
        purpose: str | None = None,
    ) -> AccessLogOutcome:
        """Who read the record (every page), newest first."""
        answer = await self._run("access_log", code, birth_date, requester, purpose=purpose)
        if isinstance(answer, StoreAnswer):
            assert answer.log is not None
            return AccessLogFound(answer.log)
        return answer

    async def _run(
        self,
        resource: Resource,
        typed: str,
        birth_date: str | None,
        requester: Requester,
        *,
        version: int | None = None,
        school_year: str | None = None,
        purpose: str | None = None,
    ) -> StoreAnswer | _Refusal:
        client = requester.client
        # The national database fetches the PDFs it was sent (pdf_url); it has no birth
        # dates, and it is trusted with every record, so no limit applies to it either.
        trusted = resource == "pdf" and client is not None and client.kind is ClientKind.NATIONAL_DB
        born = parse_birth_date(birth_date)
        if born is None and not trusted:
            self._count(resource, requester, "birth_date_required")
            return BirthDateRequired()
        started = self._clock()
        key = f"client:{client.client_id}" if client is not None else requester.address
        if not trusted and (wait := self.guard.admit(key)) is not None:
            locked = self.guard.retry_after(key) is not None
            self._count(resource, requester, "locked" if locked else "limited")
            return await self._floored(started, Locked(max(1, math.ceil(wait))))
        code = parse_code(typed)
        by = self._read_by(requester, purpose, resource, code, typed, version, school_year)
        if code is None:
            if self.guard.failed(key):
                self._lockout("client")
            try:
                await self._store.audit_invalid(_audited(typed), resource, by)
            except StorageError:
                self._count(resource, requester, "unavailable")
                return await self._floored(started, Unavailable())
            self._count(resource, requester, "invalid")
            return InvalidCode()
        query = LookupQuery(code, resource, None if trusted else born, version, school_year)
        try:
            answer = await self._store.read(query, by)
        except StorageError:
            self._count(resource, requester, "unavailable")
            return await self._floored(started, Unavailable())
        if answer.locked_now:
            self._lockout("code")
        if answer.status == "found":
            self._count(resource, requester, "found")
            return await self._floored(started, answer)
        if answer.status == "locked":
            self._count(resource, requester, "locked")
            return await self._floored(started, Locked(max(1, answer.retry_after_s)))
        if not trusted and self.guard.failed(key):
            self._lockout("client")
        self._count(resource, requester, "not_found")
        return await self._floored(started, NotFound())

    def _read_by(
        self,
        requester: Requester,
        purpose: str | None,
        resource: Resource,
        code: RecordCode | None,
        typed: str,
        version: int | None,
        school_year: str | None,
    ) -> ReadBy:
        detail: dict[str, Any] = {
            **requester.audit_detail(),
            "code": code.value if code is not None else _audited(typed),
            "kind": None if code is None else code.kind.value,
            "resource": resource,
        }
        if code is None:
            detail["error"] = "E_LOOKUP_CODE_INVALID"
        if version is not None:
            detail["version"] = version
        if school_year is not None:
            detail["school_year"] = school_year
        client = requester.client
        # A purpose is the client's statement, kept with its name; an anonymous reader's
        # free text would only put words in the parents' access log.
        stated = None
        if client is not None and purpose is not None and purpose.strip():
            stated = purpose.strip()[:_PURPOSE_MAX]
        return ReadBy(
            actor=requester.actor,
            client_id=None if client is None else client.client_id,
            purpose=stated,
            detail=detail,
        )

    async def _floored(self, started: float, outcome: _T) -> _T:
        """Answer no sooner than ``min_seconds`` after ``started``: a found record, an
        unknown code, a wrong birth date and a lock all take the same time."""
        remaining = self.limits.min_seconds - (self._clock() - started)
        if remaining > 0:
            await self._sleep(remaining)
        return outcome

    def _count(self, resource: Resource, requester: Requester, outcome: str) -> None:
        self._metrics.lookups.labels(
            self._metrics.service, resource, requester.channel, outcome
        ).inc()

    def _lockout(self, scope: str) -> None:
        self._metrics.lookup_lockouts.labels(self._metrics.service, scope).inc()
