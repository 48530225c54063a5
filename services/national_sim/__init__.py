"""Simulator of the national education database (CSDL ngành) for development and tests.

The national database's real API is not public, so the project defines the contract it
needs (``docs/openapi/national.yaml``; shared definitions in :mod:`services.core.national`)
and this faithful simulator of it: OAuth2 client-credentials tokens, idempotent PUTs of
record versions (201 / 200 / 409), per-school summaries and version lists for
reconciliation, and injected faults — errors, timeouts, latency, rate limits, expired
tokens, outages, lost acknowledgements — set at start (``HOCBA_NATIONAL_SIM_FAULTS``) or at
run time (``PUT /admin/faults``), all counted in its metrics and ``GET /admin/stats``.
State is in memory (why, and what a restart means: :mod:`services.national_sim.state`).

Run it with ``python -m services.national_sim`` or ``hocba run national-sim`` (port
``HOCBA_NATIONAL_SIM_PORT``, 8090); in tests, ``bootstrap(SimSettings())`` and aiohttp's
test client (:mod:`services.national_sim.app`).
"""

from __future__ import annotations

from services.national_sim.app import NationalSimService, bootstrap
from services.national_sim.faults import FaultConfig, FaultConfigError, RateLimit
from services.national_sim.settings import SimSettings

__all__ = [
    "FaultConfig",
    "FaultConfigError",
    "NationalSimService",
    "RateLimit",
    "SimSettings",
    "bootstrap",
]
