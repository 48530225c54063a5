"""The national education database's API (CSDL ngành), as the simulator answers it.

``docs/openapi/national.yaml`` is the contract; in short:

* ``POST /oauth/token`` — OAuth2 client credentials (form fields or HTTP Basic) → a bearer
  token valid ``token_ttl_seconds``;
* ``PUT /v1/records/{record_id}/years/{school_year}/versions/{version}`` — deliver a record
  version: 201 stored now, 200 already held with the same ``pdf_sha256`` (a retry: the
  receipt of the first 201), 409 held with another ``pdf_sha256``, 400 a request that
  breaks the contract (:mod:`.contract`);
* ``GET /v1/schools/{school_code}/summary?school_year=`` — count and
  :func:`~services.core.national.combined_sha256` of the versions held for a school year;
* ``GET /v1/schools/{school_code}/versions?school_year=`` — those versions, sorted.

Before any of them (:meth:`NationalApi._gated`) come the injected latency and the outage
(503); before the ``/v1/`` ones, the rate limit (429) and the bearer token (401). A PUT then
draws its fault (:meth:`~.faults.FaultInjector.draw_put`): a server error or a timeout
before anything is read, or an acknowledgement lost after the version is stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Final

from aiohttp import web

from services.core.national import combined_sha256
from services.national_sim.contract import (
    ContractError,
    check_body,
    check_idempotency_key,
    check_identifier,
    check_school_year,
    version_key,
)
from services.national_sim.faults import PutFault
from services.national_sim.simulator import (
    Handler,
    Operation,
    Simulator,
    error_response,
    retry_after,
)
from services.national_sim.state import PutOutcome, Receipt, TokenState

__all__ = ["SUMMARY_PATH", "TOKEN_PATH", "VERSIONS_PATH", "VERSION_PATH", "NationalApi"]

TOKEN_PATH: Final = "/oauth/token"
VERSION_PATH: Final = "/v1/records/{record_id}/years/{school_year}/versions/{version}"
SUMMARY_PATH: Final = "/v1/schools/{school_code}/summary"
VERSIONS_PATH: Final = "/v1/schools/{school_code}/versions"

#: Retry-After of an injected 503 (server error or lost acknowledgement).
_UNAVAILABLE_RETRY_S: Final = 1
_ERROR_CODES: Final = {500: "server_error", 502: "bad_gateway", 503: "temporarily_unavailable"}
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_INVALID_TOKEN: Final = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_INVALID_CLIENT: Final = {"WWW-Authenticate": 'Basic realm="national", charset="UTF-8"'}


def _invalid(exc: ContractError) -> web.Response:
    return error_response(400, "invalid_request", str(exc))


def _unavailable(detail: str, seconds: float = _UNAVAILABLE_RETRY_S) -> web.Response:
    return error_response(503, "temporarily_unavailable", detail, headers=retry_after(seconds))


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    """An RFC 6749 §5.2 error: ``{"error", "error_description"}``, never cached."""
    headers = {**_NO_STORE, **(_INVALID_CLIENT if status == 401 else {})}
    body = {"error": error, "error_description": description}
    return web.json_response(body, status=status, headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """(client id, secret) of an HTTP Basic header (RFC 6749 §2.3.1), or None if malformed."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def _form_text(form: Mapping[str, object], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _receipt() -> Receipt:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return Receipt(receipt_id=str(uuid.uuid4()), received_at=now.replace("+00:00", "Z"))


class NationalApi:
    """The handlers of the national API, acting on one :class:`Simulator`."""

    def __init__(self, simulator: Simulator) -> None:
        self._sim = simulator

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "POST",
                TOKEN_PATH,
                "issueToken",
                self._gated(self.issue_token, protected=False),
                national=True,
            ),
            Operation(
                "PUT", VERSION_PATH, "putVersion", self._gated(self.put_version), national=True
            ),
            Operation("GET", SUMMARY_PATH, "getSummary", self._gated(self.summary), national=True),
            Operation(
                "GET", VERSIONS_PATH, "listVersions", self._gated(self.versions), national=True
            ),
        ]

    def _gated(self, handler: Handler, *, protected: bool = True) -> Handler:
        """Latency and outage for every operation; rate limit and token for ``/v1/``."""

        async def gate(request: web.Request) -> web.Response:
            sim = self._sim
            delay = sim.faults.latency_seconds()
            if delay > 0:
                sim.fault(request, "latency")
                await asyncio.sleep(delay)
            outage = sim.faults.outage_remaining()
            if outage > 0:
                sim.fault(request, "outage")
                return _unavailable("the national database is in a simulated outage", outage)
            if protected:
                limited = sim.faults.rate_limited()
                if limited is not None:
                    sim.fault(request, "rate_limit")
                    return error_response(
                        429, "rate_limited", "too many requests", headers=retry_after(limited)
                    )
                refused = self._authenticate(request)
                if refused is not None:
                    return refused
            return await handler(request)

        return gate

    def _authenticate(self, request: web.Request) -> web.Response | None:
        """None for a valid bearer token; else the 401 (an expired one counts as a fault)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            detail = "an Authorization: Bearer token is required"
        else:
            state = self._sim.tokens.check(token.strip())
            if state is TokenState.VALID:
                return None
            if state is TokenState.EXPIRED:
                self._sim.fault(request, "token_expired")
            detail = f"the bearer token is {state.value}"
        return error_response(401, "invalid_token", detail, headers=_INVALID_TOKEN)

    def _known_client(self, client_id: str, secret: str) -> bool:
        settings = self._sim.settings
        same_id = hmac.compare_digest(client_id.encode(), settings.client_id.encode())
        same_secret = hmac.compare_digest(secret.encode(), settings.client_secret.encode())
        return same_id and same_secret

    async def issue_token(self, request: web.Request) -> web.Response:
        """``POST /oauth/token``: client credentials → a bearer token."""
        form = await request.post()
        grant_type = _form_text(form, "grant_type")
        if not grant_type:
            return _oauth_error(
                400, "invalid_request", "grant_type is required (application/x-www-form-urlencoded)"
            )
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "only grant_type=client_credentials is supported"
            )
        header = request.headers.get("Authorization")
        if header is not None and "client_secret" in form:
            return _oauth_error(
                400, "invalid_request", "use one client authentication: HTTP Basic or the form"
            )
        credentials = (
            _basic_credentials(header)
            if header is not None
            else (_form_text(form, "client_id"), _form_text(form, "client_secret"))
        )
        client_id, secret = credentials or (None, None)
        if client_id is None or secret is None or not self._known_client(client_id, secret):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        ttl = self._sim.faults.config.token_ttl_seconds
        body = {
            "access_token": self._sim.tokens.issue(ttl),
            "token_type": "Bearer",
            "expires_in": ttl,
        }
        return web.json_response(body, headers=_NO_STORE)

    async def put_version(self, request: web.Request) -> web.Response:
        """``PUT .../versions/{version}``: store a version once (201), then 200 or 409."""
        sim = self._sim
        path = request.match_info
        try:
            key = version_key(path["record_id"], path["school_year"], path["version"])
        except ContractError as exc:
            return _invalid(exc)
        fault = sim.faults.draw_put()
        if fault is PutFault.ERROR:
            sim.fault(request, fault.value)
            status = sim.faults.error_status()
            headers = retry_after(_UNAVAILABLE_RETRY_S) if status == 503 else None
            return error_response(
                status, _ERROR_CODES[status], "simulated server error", headers=headers
            )
        if fault is PutFault.TIMEOUT:
            sim.fault(request, fault.value)
            await asyncio.sleep(sim.faults.config.timeout_seconds)
            return error_response(504, "gateway_timeout", "simulated timeout: nothing stored")
        try:
            check_idempotency_key(key, request.headers.get("Idempotency-Key"))
            submission = check_body(key, await request.read())
        except ContractError as exc:
            return _invalid(exc)
        outcome, held = sim.records.put(
            key, submission.school_code, submission.pdf_sha256, _receipt
        )
        sim.stats.count_put(key, outcome)
        if outcome is PutOutcome.CONFLICT:
            return error_response(
                409,
                "conflict",
                f"version {key} is held with another PDF: a new content needs a new version",
                existing_pdf_sha256=held.pdf_sha256,
            )
        if outcome is PutOutcome.CREATED:
            sim.held_changed()
            if fault is PutFault.LOST_ACK:
                sim.stats.count_lost_ack(key)
                sim.fault(request, fault.value)
                return _unavailable("simulated server error")
        return web.json_response(held.receipt.as_json(), status=outcome.value)

    def _school_year_of(self, request: web.Request) -> tuple[str, str]:
        school_code = check_identifier("school_code", request.match_info["school_code"])
        return school_code, check_school_year(request.query.get("school_year"))

    async def summary(self, request: web.Request) -> web.Response:
        """``GET /v1/schools/{school_code}/summary``: count and combined hash of a year."""
        try:
            school_code, school_year = self._school_year_of(request)
        except ContractError as exc:
            return _invalid(exc)
        held = self._sim.records.school_versions(school_code, school_year)
        return web.json_response(
            {
                "school_code": school_code,
                "school_year": school_year,
                "count": len(held),
                "combined_sha256": combined_sha256((v.key, v.pdf_sha256) for v in held),
            }
        )

    async def versions(self, request: web.Request) -> web.Response:
        """``GET /v1/schools/{school_code}/versions``: the versions of a year, sorted."""
        try:
            school_code, school_year = self._school_year_of(request)
        except ContractError as exc:
            return _invalid(exc)
        held = self._sim.records.school_versions(school_code, school_year)
        versions = [
            {
                "record_id": v.key.record_id,
                "school_year": v.key.school_year,
                "version": v.key.version,
                "pdf_sha256": v.pdf_sha256,
            }
            for v in held
        ]
        return web.json_response({"versions": versions})
