"""The national education database's API as the platform calls it (``docs/openapi/national.yaml``).

Shortest use::

    async with NationalClient(settings) as national:
        answer = await national.put_version(stored_datum)   # never raises for the far side's faults
        summary = await national.summary("04400001", "2024-2025")

:meth:`NationalClient.put_version` turns every way a delivery can end into an
:class:`Answer` — delivered (201), already present (200), conflict (409), refused (400),
or worth retrying (429, 5xx, 401 after a fresh token, timeout, connection error) with the
``Retry-After`` the far side asked for. The OAuth2 client-credentials token is fetched
when missing or about to expire and once more when a PUT says it is invalid.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from services.core.national import VersionKey, idempotency_key, version_body, version_path

__all__ = ["Answer", "AnswerKind", "NationalClient", "NationalError", "NationalSettings"]

_TOKEN_MARGIN_S = 30.0


@dataclass(frozen=True, slots=True)
class NationalSettings:
    """Where the national database is and how the platform authenticates to it."""

    base_url: str = "http://127.0.0.1:8090"
    client_id: str = "hocba-dev"
    client_secret: str = "hocba-dev-secret"
    timeout_seconds: float = 5.0


class AnswerKind(enum.Enum):
    DELIVERED = "DELIVERED"  # 201: stored now
    ALREADY_PRESENT = "ALREADY_PRESENT"  # 200: it had this version, same PDF hash
    CONFLICT = "CONFLICT"  # 409: same version, different content — never retried blindly
    REFUSED = "REFUSED"  # 400: our request is wrong — retrying cannot help
    RETRY = "RETRY"  # 429, 5xx, 401, timeout, connection failure

    @property
    def delivered(self) -> bool:
        return self in (AnswerKind.DELIVERED, AnswerKind.ALREADY_PRESENT)


@dataclass(frozen=True, slots=True)
class Answer:
    """How one PUT ended."""

    kind: AnswerKind
    http_status: int | None
    detail: str
    retry_after_seconds: float | None
    latency_seconds: float


class NationalError(RuntimeError):
    """A read (summary, versions, token) failed; the message says how."""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: treated as absent (the back-off still applies)


class NationalClient:
    """One HTTP session and one token for all calls of a process."""

    def __init__(self, settings: NationalSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def __aenter__(self) -> NationalClient:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        self._session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use NationalClient as an async context manager")
        return self._session

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path

    async def _bearer(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if renew or self._token is None or time.monotonic() >= self._token_expires:
                form = {
                    "grant_type": "client_credentials",
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret,
                }
                async with self.session.post(self._url("/oauth/token"), data=form) as response:
                    if response.status != 200:
                        text = await response.text()
                        raise NationalError(f"token refused: HTTP {response.status} {text[:200]}")
                    answer = await response.json()
                self._token = str(answer["access_token"])
                lifetime = float(answer.get("expires_in", 300))
                self._token_expires = time.monotonic() + max(1.0, lifetime - _TOKEN_MARGIN_S)
            return self._token

    async def put_version(self, stored: Mapping[str, Any]) -> Answer:
        """Deliver one record version (a StoredRecord datum); never raises for the far side."""
        key = VersionKey(stored["record_id"], stored["school_year"], stored["version"])
        body = json.dumps(version_body(stored), ensure_ascii=False).encode()
        started = time.perf_counter()
        for renewed in (False, True):
            try:
                token = await self._bearer(renew=renewed)
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": idempotency_key(key),
                    "Content-Type": "application/json",
                }
                async with self.session.put(
                    self._url(version_path(key)), data=body, headers=headers
                ) as response:
                    status = response.status
                    text = (await response.text())[:300]
                    retry_after = _retry_after(response.headers)
            except (TimeoutError, aiohttp.ClientError, NationalError, OSError) as exc:
                return Answer(
                    AnswerKind.RETRY,
                    None,
                    f"{type(exc).__name__}: {exc}"[:300],
                    None,
                    time.perf_counter() - started,
                )
            if status == 401 and not renewed:
                continue  # the token expired or was revoked: once more with a fresh one
            return Answer(_kind(status), status, text, retry_after, time.perf_counter() - started)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        for renewed in (False, True):
            token = await self._bearer(renew=renewed)
            try:
                async with self.session.get(
                    self._url(path), params=params, headers={"Authorization": f"Bearer {token}"}
                ) as response:
                    if response.status == 401 and not renewed:
                        continue
                    if response.status != 200:
                        text = await response.text()
                        raise NationalError(f"GET {path}: HTTP {response.status} {text[:200]}")
                    return await response.json()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise NationalError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        raise NationalError(f"GET {path}: the token was refused twice")

    async def summary(self, school_code: str, school_year: str) -> dict[str, Any]:
        """``{"count", "combined_sha256", ...}`` the national side holds for a school year."""
        found: dict[str, Any] = await self._get(
            f"/v1/schools/{school_code}/summary", {"school_year": school_year}
        )
        return found

    async def versions(self, school_code: str, school_year: str) -> list[tuple[VersionKey, str]]:
        """Every version the national side holds for a school year, with its PDF SHA-256."""
        found = await self._get(f"/v1/schools/{school_code}/versions", {"school_year": school_year})
        return [
            (VersionKey(v["record_id"], v["school_year"], int(v["version"])), v["pdf_sha256"])
            for v in found["versions"]
        ]


def _kind(status: int) -> AnswerKind:
    if status == 201:
        return AnswerKind.DELIVERED
    if status == 200:
        return AnswerKind.ALREADY_PRESENT
    if status == 409:
        return AnswerKind.CONFLICT
    if status in (400, 404, 413, 422):
        return AnswerKind.REFUSED
    return AnswerKind.RETRY
