"""Configuration of the national database simulator, read once from the environment.

================================  ============================================  ====================
variable                          meaning                                       default
================================  ============================================  ====================
``HOCBA_NATIONAL_SIM_PORT``       HTTP port (national API, admin API, metrics)  ``8090``
``HOCBA_HTTP_HOST``               HTTP bind address                             ``127.0.0.1``
``HOCBA_LOG_LEVEL``               level of the JSON logs (``INFO``: one line    ``WARNING``
                                  per request)
``HOCBA_NATIONAL_CLIENT_ID``      the one OAuth2 client it accepts              ``hocba-dev``
``HOCBA_NATIONAL_CLIENT_SECRET``  that client's secret                          ``hocba-dev-secret``
``HOCBA_NATIONAL_SIM_FAULTS``     faults injected from the start: JSON, as      none
                                  ``PUT /admin/faults`` takes it
================================  ============================================  ====================
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.messaging.settings import SettingsError, env_number
from services.national_sim.faults import FaultConfig

__all__ = ["SettingsError", "SimSettings"]


@dataclass(frozen=True, slots=True)
class SimSettings:
    """Everything the simulator is configured with (see the module docstring)."""

    http_host: str = "127.0.0.1"
    http_port: int = 8090
    log_level: str = "WARNING"
    client_id: str = "hocba-dev"
    client_secret: str = "hocba-dev-secret"
    faults: FaultConfig = field(default_factory=FaultConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimSettings:
        """Read and check the variables; raise :class:`SettingsError` on an unusable one."""
        env = os.environ if environ is None else environ
        port = env_number(env, "HOCBA_NATIONAL_SIM_PORT", 8090, int)
        if not 0 < port < 65536:
            raise SettingsError(f"HOCBA_NATIONAL_SIM_PORT={port} is not a TCP port (1-65535)")
        raw_faults = env.get("HOCBA_NATIONAL_SIM_FAULTS", "").strip()
        try:
            faults = FaultConfig.from_json(json.loads(raw_faults)) if raw_faults else FaultConfig()
        except ValueError as exc:  # FaultConfigError and JSON syntax errors alike
            raise SettingsError(f"HOCBA_NATIONAL_SIM_FAULTS: {exc}") from exc
        client_id = env.get("HOCBA_NATIONAL_CLIENT_ID", "").strip() or "hocba-dev"
        secret = env.get("HOCBA_NATIONAL_CLIENT_SECRET", "").strip() or "hocba-dev-secret"
        return cls(
            http_host=env.get("HOCBA_HTTP_HOST", "127.0.0.1").strip() or "127.0.0.1",
            http_port=port,
            log_level=env.get("HOCBA_LOG_LEVEL", "WARNING").strip() or "WARNING",
            client_id=client_id,
            client_secret=secret,
            faults=faults,
        )
