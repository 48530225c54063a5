"""Wiring of the national database simulator: ``bootstrap(settings)`` builds it, ``main`` runs it.

Shortest use::

    python -m services.national_sim            # or: hocba run national-sim  (port 8090)
    curl -s -d grant_type=client_credentials -d client_id=hocba-dev \\
         -d client_secret=hocba-dev-secret http://127.0.0.1:8090/oauth/token
    curl -s -X PUT -d '{"error_rate": 0.2, "seed": 1}' http://127.0.0.1:8090/admin/faults
    curl -s http://127.0.0.1:8090/admin/stats

In a test, without a server::

    service = bootstrap(SimSettings(), clock=fake_clock)
    async with TestClient(TestServer(service.shell.app())) as client: ...

Configuration from ``HOCBA_*`` variables (:mod:`services.national_sim.settings`), faults
at start from ``HOCBA_NATIONAL_SIM_FAULTS``. Runs until SIGTERM/SIGINT; a request hanging
in an injected timeout delays the stop by at most that timeout.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from services.messaging.metrics import ServiceMetrics
from services.messaging.service import ServiceShell, run_service
from services.national_sim.admin_api import AdminApi
from services.national_sim.metrics import NationalSimMetrics
from services.national_sim.national_api import NationalApi
from services.national_sim.settings import SimSettings
from services.national_sim.simulator import Operation, Simulator, routes

__all__ = [
    "OPENAPI_PATH",
    "NationalSimService",
    "OpenApiError",
    "bootstrap",
    "load_openapi",
    "main",
]

_log = logging.getLogger("hocba.national_sim")
_SERVICE: Final = "national-sim"
#: The contract's one source, served at GET /admin/openapi.json.
OPENAPI_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "national.yaml"


class OpenApiError(RuntimeError):
    """The OpenAPI document is missing or not valid JSON-form YAML."""


def load_openapi(path: Path = OPENAPI_PATH) -> dict[str, Any]:
    """Read the OpenAPI document (JSON subset of YAML 1.2) once, at bootstrap."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OpenApiError(f"{path}: cannot read the OpenAPI document: {exc}") from exc
    if not isinstance(document, dict) or "openapi" not in document:
        raise OpenApiError(f"{path}: not an OpenAPI document (no 'openapi' field)")
    return document


@dataclass
class NationalSimService:
    """Every part of a running simulator, built by :func:`bootstrap`."""

    settings: SimSettings
    simulator: Simulator
    operations: Sequence[Operation]
    shell: ServiceShell

    async def run(self) -> None:
        """Serve until stopped (no worker: the simulator only answers requests)."""
        ready = self.shell.metrics.up.labels(self.shell.metrics.service)
        ready.set(1)
        try:
            await self.shell.serve([])
        finally:
            ready.set(0)


def bootstrap(
    settings: SimSettings,
    *,
    metrics: ServiceMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    openapi: Mapping[str, Any] | None = None,
) -> NationalSimService:
    """Build the simulator (holding nothing), both APIs and the HTTP shell."""
    shared = metrics or ServiceMetrics(_SERVICE)
    simulator = Simulator.start(settings, NationalSimMetrics(shared), clock)
    document = load_openapi() if openapi is None else openapi
    operations = [
        *NationalApi(simulator).operations(),
        *AdminApi(simulator, document).operations(),
    ]
    shell = ServiceShell(
        metrics=shared,
        host=settings.http_host,
        port=settings.http_port,
        routes=routes(simulator, operations),
    )
    return NationalSimService(settings, simulator, operations, shell)


async def _serve(settings: SimSettings) -> None:
    await bootstrap(settings).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator; 0 after a clean stop, 1 on a fatal error, 2 on bad config."""
    return run_service(
        argv,
        prog="hocba run national-sim",
        description="Simulator of the national education database (CSDL ngành) API of "
        "docs/openapi/national.yaml, with fault injection (/admin/faults). Configured by "
        "HOCBA_* environment variables (see services/national_sim/settings.py).",
        load=SimSettings.from_env,
        serve=_serve,
        fatal=(OpenApiError, OSError),
        log=_log,
    )
