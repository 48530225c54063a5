"""The simulated national database as one object, and how its operations become routes.

:class:`Simulator` holds the state (:mod:`.state`), the fault injector (:mod:`.faults`) and
the counters that both of its HTTP surfaces act on: the national API
(:mod:`.national_api`) and the simulator's admin API (:mod:`.admin_api`). Each surface
lists its operations (:class:`Operation`); :func:`routes` mounts them, each wrapped so that
every answer is counted (``hocba_national_sim_requests_total``; ``GET /admin/stats`` for the
national API) and logged as one JSON line at INFO, with the faults it met.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.national_sim.faults import FaultInjector
from services.national_sim.metrics import NationalSimMetrics
from services.national_sim.settings import SimSettings
from services.national_sim.state import NationalRecords, SimStats, TokenIssuer

__all__ = ["Handler", "Operation", "Simulator", "error_response", "retry_after", "routes"]

_log = logging.getLogger("hocba.national_sim")

Handler = Callable[[web.Request], Awaitable[web.Response]]

#: The fault kinds a request met, for its log line.
_FAULTS_MET = web.RequestKey[list[str]]("hocba_national_sim_faults")


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation: its route, its OpenAPI ``operationId`` and its handler."""

    method: str
    path: str
    operation_id: str
    handler: Handler
    #: Part of the national API (counted in /admin/stats), not the simulator's admin API.
    national: bool = False


def error_response(
    status: int,
    error: str,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """The contract's error body ``{"error", "detail"?, ...}``."""
    body: dict[str, Any] = {"error": error}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return web.json_response(body, status=status, headers=dict(headers or {}))


def retry_after(seconds: float) -> dict[str, str]:
    """A ``Retry-After`` header of whole seconds (rounded up: never too early)."""
    return {"Retry-After": str(math.ceil(seconds))}


@dataclass
class Simulator:
    """Everything the national API and the admin API act on."""

    settings: SimSettings
    metrics: NationalSimMetrics
    faults: FaultInjector
    tokens: TokenIssuer
    records: NationalRecords = field(default_factory=NationalRecords)
    stats: SimStats = field(default_factory=SimStats)

    @classmethod
    def start(
        cls,
        settings: SimSettings,
        metrics: NationalSimMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> Simulator:
        """A simulator holding nothing, with the faults of ``settings``."""
        return cls(
            settings=settings,
            metrics=metrics,
            faults=FaultInjector(settings.faults, clock),
            tokens=TokenIssuer(clock),
        )

    def fault(self, request: web.Request, kind: str) -> None:
        """Count a fault decision applied to ``request`` (metrics, stats, its log line)."""
        self.metrics.faults.labels(self.metrics.service, kind).inc()
        self.stats.faults[kind] += 1
        request[_FAULTS_MET].append(kind)

    def held_changed(self) -> None:
        """Refresh the gauge of versions held after a store or a delete."""
        self.metrics.versions_held.labels(self.metrics.service).set(len(self.records))

    def reset(self) -> None:
        """Back to the state of a fresh start: nothing held, no token, start-up faults."""
        self.records.clear()
        self.tokens.clear()
        self.stats = SimStats()
        self.faults.configure(self.settings.faults)
        self.faults.start_outage(0)
        self.held_changed()

    def answered(self, operation: Operation, status: int) -> None:
        """Count an answer (metrics; stats for the national API)."""
        self.metrics.requests.labels(
            self.metrics.service, operation.operation_id, str(status)
        ).inc()
        if operation.national:
            self.stats.requests_by_status[status] += 1


def _accounted(simulator: Simulator, operation: Operation) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        request[_FAULTS_MET] = []
        response = await operation.handler(request)
        simulator.answered(operation, response.status)
        _log.info(
            "%s %s → %d",
            request.method,
            request.path,
            response.status,
            extra={
                "endpoint": operation.operation_id,
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "faults": request[_FAULTS_MET],
            },
        )
        return response

    return handle


def routes(simulator: Simulator, operations: Sequence[Operation]) -> list[web.RouteDef]:
    """The operations as aiohttp routes, each counted and logged."""
    return [web.route(op.method, op.path, _accounted(simulator, op)) for op in operations]
