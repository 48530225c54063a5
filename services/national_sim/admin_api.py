"""The simulator's own admin API (``/admin/``, no token): faults, outages, inspection, reset.

Not part of the national contract — the real national database has none of it — but
documented in the same ``docs/openapi/national.yaml`` under the tag ``simulator``:

* ``GET``/``PUT /admin/faults`` — the fault configuration (:class:`~.faults.FaultConfig`;
  a PUT replaces it whole, an absent key is that fault off, an unknown key is a 400);
* ``POST /admin/outage`` ``{"seconds": N}`` — every national request answers 503 for N s;
* ``POST /admin/tokens/expire`` — every token issued so far stops working;
* ``DELETE /admin/records/{record_id}/years/{school_year}/versions/{version}`` — forget a
  version, as if the national side had lost it (to exercise reconciliation);
* ``GET /admin/stats`` — per version creates/repeats/conflicts/lost acknowledgements,
  requests by status, faults by kind, versions held;
* ``POST /admin/reset`` — as freshly started (the start-up faults are restored);
* ``GET /admin/openapi.json`` — the OpenAPI document.

None of these meets injected faults, and none is counted in ``/admin/stats``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from services.national_sim.contract import ContractError, version_key
from services.national_sim.faults import FaultConfig, FaultConfigError
from services.national_sim.simulator import Operation, Simulator, error_response

__all__ = ["AdminApi"]

_MAX_OUTAGE_S: Final = 86_400.0


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError as exc:
        raise FaultConfigError(f"the body is not JSON: {exc}") from exc


def _outage_seconds(body: Any) -> float:
    if not isinstance(body, dict) or set(body) != {"seconds"}:
        raise FaultConfigError('the body must be {"seconds": N}')
    seconds = body["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise FaultConfigError("seconds must be a number")
    if not 0 <= seconds <= _MAX_OUTAGE_S:
        raise FaultConfigError(f"seconds={seconds!r} is outside [0, {_MAX_OUTAGE_S:g}]")
    return float(seconds)


class AdminApi:
    """The handlers of ``/admin/``, acting on one :class:`Simulator`."""

    def __init__(self, simulator: Simulator, openapi: Mapping[str, Any]) -> None:
        self._sim = simulator
        self._openapi = dict(openapi)

    def operations(self) -> list[Operation]:
        version = "/admin/records/{record_id}/years/{school_year}/versions/{version}"
        return [
            Operation("GET", "/admin/faults", "getFaults", self.get_faults),
            Operation("PUT", "/admin/faults", "putFaults", self.put_faults),
            Operation("POST", "/admin/outage", "startOutage", self.start_outage),
            Operation("POST", "/admin/tokens/expire", "expireTokens", self.expire_tokens),
            Operation("DELETE", version, "deleteVersion", self.delete_version),
            Operation("GET", "/admin/stats", "getStats", self.get_stats),
            Operation("POST", "/admin/reset", "reset", self.reset),
            Operation("GET", "/admin/openapi.json", "getOpenApi", self.get_openapi),
        ]

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self._sim.faults.config.as_json())

    async def put_faults(self, request: web.Request) -> web.Response:
        """Replace the fault configuration (re-seeds the generator, restarts the rate limit)."""
        try:
            config = FaultConfig.from_json(await _json_body(request))
        except FaultConfigError as exc:
            return error_response(400, "invalid_request", str(exc))
        self._sim.faults.configure(config)
        return web.json_response(config.as_json())

    async def start_outage(self, request: web.Request) -> web.Response:
        try:
            seconds = _outage_seconds(await _json_body(request))
        except FaultConfigError as exc:
            return error_response(400, "invalid_request", str(exc))
        self._sim.faults.start_outage(seconds)
        return web.json_response({"seconds": seconds})

    async def expire_tokens(self, request: web.Request) -> web.Response:
        return web.json_response({"expired": self._sim.tokens.expire_all()})

    async def delete_version(self, request: web.Request) -> web.Response:
        path = request.match_info
        try:
            key = version_key(path["record_id"], path["school_year"], path["version"])
        except ContractError as exc:
            return error_response(400, "invalid_request", str(exc))
        if not self._sim.records.forget(key):
            return error_response(404, "not_found", f"version {key} is not held")
        self._sim.held_changed()
        return web.Response(status=204)

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self._sim.stats.as_json(len(self._sim.records)))

    async def reset(self, request: web.Request) -> web.Response:
        self._sim.reset()
        return web.Response(status=204)

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._openapi)
