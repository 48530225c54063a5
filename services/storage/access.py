"""Who is asking: access clients (schools, admissions offices, the national database) and
anonymous holders of a lookup code.

A holder of a lookup code (mã số tra cứu: a parent, or whoever they give it to) reads with
the code and the student's date of birth. Everyone else is an *access client* registered by
an operator (``hocba access add-client``) with one bearer token, of which only the SHA-256
is kept; each request names its purpose, which the audit trail keeps with the client:

* ``SCHOOL``: a school, through its vendor's system; reads its students' records and those
  of students transferred to it;
* ``ADMISSIONS_OFFICE``: tuyển sinh lớp 6, bulk checks of grade-5 results;
* ``NATIONAL_DB``: the national education database fetching the PDFs it was sent.

Shortest use (in a request handler)::

    client = await authenticate(request, access_store)   # None: anonymous
    requester = Requester.of(request, client)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from services.storage.answers import RefusedRequest
from services.storage.errors import StorageError, translate_db_error

__all__ = [
    "AccessClient",
    "AccessDenied",
    "ClientKind",
    "PgAccessStore",
    "Requester",
    "TrustedProxies",
    "authenticate",
    "authenticate_as",
    "check_purpose",
    "client_address",
    "forwarded_for",
    "new_token",
    "parse_trusted_proxies",
    "token_digest",
]

_USER_AGENT_MAX: Final = 200
_PURPOSE_MIN: Final = 3
_PURPOSE_MAX: Final = 200
#: Tokens are ``hbt_`` + 43 URL-safe characters (256 random bits).
_TOKEN_PREFIX: Final = "hbt_"

_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class ClientKind(StrEnum):
    """What an access client is (the ``access_clients.kind`` column)."""

    SCHOOL = "SCHOOL"
    ADMISSIONS_OFFICE = "ADMISSIONS_OFFICE"
    NATIONAL_DB = "NATIONAL_DB"


@dataclass(frozen=True, slots=True)
class AccessClient:
    """A registered client (bên được cấp quyền truy cập) and the schools it answers for."""

    client_id: str
    kind: ClientKind
    name: str
    school_codes: frozenset[str]
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Requester:
    """Who sent a request: for the limits (address) and the audit trail (everything)."""

    address: str
    user_agent: str
    client: AccessClient | None = None
    channel: Literal["api", "web"] = "api"

    @classmethod
    def of(
        cls,
        request: web.Request,
        client: AccessClient | None = None,
        channel: Literal["api", "web"] = "api",
    ) -> Requester:
        return cls(
            address=request.remote or "unknown",
            user_agent=request.headers.get("User-Agent", "")[:_USER_AGENT_MAX],
            client=client,
            channel=channel,
        )

    @property
    def actor(self) -> str:
        """The audit row's actor: ``client:<id>`` or ``http:<address>`` / ``web:<address>``."""
        if self.client is not None:
            return f"client:{self.client.client_id}"
        return f"{'web' if self.channel == 'web' else 'http'}:{self.address}"

    def audit_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"address": self.address, "channel": self.channel}
        if self.user_agent:
            detail["user_agent"] = self.user_agent
        return detail


class AccessDenied(RefusedRequest):
    """A request's credentials are not acceptable; carries the HTTP answer's parts."""

    def headers(self) -> Mapping[str, str]:
        if self.status == 401:
            return {"WWW-Authenticate": 'Bearer realm="hocba"'}
        return {}

    @property
    def outcome(self) -> str:
        """The refusal as the access-client routes count it: ``unauthorised`` (401),
        ``forbidden`` (403) or ``invalid`` (400, no purpose)."""
        return {401: "unauthorised", 403: "forbidden"}.get(self.status, "invalid")


TrustedProxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_trusted_proxies(text: str) -> TrustedProxies:
    """``HOCBA_TRUSTED_PROXIES``: comma-separated addresses or CIDR networks of the proxies
    (ingress, load balancer) whose ``X-Forwarded-For`` is believed. Raises ValueError."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _trusted(address: str, proxies: TrustedProxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str, proxies: TrustedProxies) -> str:
    """The address a request came from, for the lookup limits and the audit trail.

    Behind a proxy every request comes from the proxy: then (and only when the peer is a
    trusted proxy) the nearest address in ``X-Forwarded-For`` that is not itself a trusted
    proxy is the client's. A forged header from a client talking to the service directly
    changes nothing, since its peer is not trusted.
    """
    address = peer or "unknown"
    if not proxies or not _trusted(address, proxies):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else address


def forwarded_for(proxies: TrustedProxies) -> Middleware:
    """An aiohttp middleware setting ``request.remote`` to :func:`client_address`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("X-Forwarded-For", "")
        address = client_address(request.remote, header, proxies)
        if address != request.remote:
            request = request.clone(remote=address)
        return await handler(request)

    return middleware


def new_token() -> str:
    """A fresh bearer token (shown once; only :func:`token_digest` of it is stored)."""
    return _TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """The SHA-256 of a token, as ``access_clients.token_sha256`` keeps it."""
    return hashlib.sha256(token.encode()).digest()


def check_purpose(purpose: str | None) -> str:
    """The stated purpose of a read, stripped; :class:`AccessDenied` (400) when missing."""
    text = (purpose or "").strip()
    if _PURPOSE_MIN <= len(text) <= _PURPOSE_MAX and text.isprintable():
        return text
    raise AccessDenied(
        400,
        "E_ACCESS_PURPOSE_REQUIRED",
        f"Cần ghi rõ mục đích truy cập (purpose, {_PURPOSE_MIN}–{_PURPOSE_MAX} ký tự); "
        "mục đích được lưu trong nhật ký truy cập học bạ.",
        f"State the purpose of this access (purpose, {_PURPOSE_MIN}-{_PURPOSE_MAX} "
        "characters); it is kept in the record's access log.",
    )


def _invalid_token() -> AccessDenied:
    return AccessDenied(
        401,
        "E_ACCESS_TOKEN_INVALID",
        "Mã truy cập không hợp lệ hoặc đã bị thu hồi.",
        "The access token is not valid or has been revoked.",
    )


def _wrong_kind(expected: Sequence[ClientKind]) -> AccessDenied:
    kinds = ", ".join(k.value for k in expected)
    return AccessDenied(
        403,
        "E_ACCESS_FORBIDDEN",
        f"Chức năng này chỉ dành cho: {kinds}.",
        f"This function is only for: {kinds}.",
    )


async def authenticate(request: web.Request, store: PgAccessStore) -> AccessClient | None:
    """The client whose bearer token the request carries; None when it carries none.

    Raises :class:`AccessDenied` (401) for an unknown or revoked token, and
    :class:`StorageError` when the database does not answer.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid_token()
    client = await store.client_by_token(token_digest(token.strip()))
    if client is None or not client.active:
        raise _invalid_token()
    return client


async def authenticate_as(
    request: web.Request, store: PgAccessStore, *kinds: ClientKind
) -> AccessClient:
    """The request's client, which must be of one of ``kinds``: :func:`authenticate`, and
    :class:`AccessDenied` 401 without a token, 403 for a client of another kind."""
    client = await authenticate(request, store)
    if client is None:
        raise _invalid_token()
    if client.kind not in kinds:
        raise _wrong_kind(kinds)
    return client


_CLIENT_COLUMNS = "client_id, kind, name, school_codes, created_at, revoked_at"


def _client(row: asyncpg.Record) -> AccessClient:
    return AccessClient(
        client_id=row["client_id"],
        kind=ClientKind(row["kind"]),
        name=row["name"],
        school_codes=frozenset(row["school_codes"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


class PgAccessStore:
    """The ``access_clients`` table (migration 0006)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def client_by_token(self, digest: bytes) -> AccessClient | None:
        row = await self._fetchrow(
            f"SELECT {_CLIENT_COLUMNS} FROM access_clients WHERE token_sha256 = $1", digest
        )
        return None if row is None else _client(row)

    async def add_client(
        self, client_id: str, kind: ClientKind, name: str, school_codes: Sequence[str]
    ) -> str:
        """Register a client; return its token (the only time it is seen)."""
        token = new_token()
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO access_clients (client_id, kind, name, school_codes, "
                    "token_sha256) VALUES ($1, $2, $3, $4, $5)",
                    client_id,
                    kind.value,
                    name,
                    sorted(set(school_codes)),
                    token_digest(token),
                )
        except asyncpg.UniqueViolationError as exc:
            raise StorageError(f"access client {client_id!r} already exists") from exc
        except asyncpg.CheckViolationError as exc:
            raise StorageError(
                f"access client id {client_id!r} must be 1-64 of a-z 0-9 . _ - "
                "(starting with a letter or digit), and the name not empty"
            ) from exc
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "add_client") from exc
        return token

    async def revoke(self, client_id: str) -> bool:
        """Revoke a client's token; False when there is no such active client."""
        try:
            async with self._pool.acquire() as conn:
                status = await conn.execute(
                    "UPDATE access_clients SET revoked_at = now() "
                    "WHERE client_id = $1 AND revoked_at IS NULL",
                    client_id,
                )
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "revoke_client") from exc
        return bool(status.endswith(" 1"))

    async def clients(self) -> list[AccessClient]:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {_CLIENT_COLUMNS} FROM access_clients ORDER BY client_id"
                )
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "clients") from exc
        return [_client(r) for r in rows]

    async def _fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        try:
            async with self._pool.acquire() as conn:
                return await conn.fetchrow(query, *args)
        except _DB_ERRORS as exc:
            raise translate_db_error(exc, "access") from exc
