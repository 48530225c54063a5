"""Platform services as child processes: start, wait until ready, kill, stop.

Used by ``hocba run all``, ``hocba demo`` and the end-to-end tests, so services
always run exactly as operators run them: ``python -m services.<name>``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SERVICES", "ServiceNotReadyError", "ServiceProcesses", "answers"]


@dataclass(frozen=True, slots=True)
class _Service:
    module: str
    port_variable: str
    default_port: int

    def port(self, env: dict[str, str]) -> int:
        return int(env.get(self.port_variable, self.default_port))


#: Every runnable service: its package and HTTP port (health, metrics, API).
SERVICES: dict[str, _Service] = {
    "ingestion": _Service("services.ingestion", "HOCBA_INGESTION_PORT", 8081),
    "validation": _Service("services.validation", "HOCBA_VALIDATION_PORT", 8082),
    "signing": _Service("services.signing", "HOCBA_SIGNING_PORT", 8083),
    "storage": _Service("services.storage", "HOCBA_STORAGE_PORT", 8084),
    "national-sync": _Service("services.national_sync", "HOCBA_SYNC_PORT", 8085),
    "national-sim": _Service("services.national_sim", "HOCBA_NATIONAL_SIM_PORT", 8090),
}


class ServiceNotReadyError(RuntimeError):
    """A service exited or did not answer /readyz in time."""


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclass
class ServiceProcesses:
    """Child services; their output goes to ``<log_dir>/<name>.log``."""

    log_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str, path: str) -> str:
        host = self.env.get("HOCBA_HTTP_HOST", "127.0.0.1")
        return f"http://{host}:{SERVICES[name].port(self.env)}{path}"

    def already_running(self, name: str) -> bool:
        """Something answers this service's health endpoint (started elsewhere)."""
        return answers(self.url(name, "/healthz"), timeout=1.0)

    def start(self, name: str, *, wait: bool = True, timeout: float = 90.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", SERVICES[name].module],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        if wait:
            self.wait_ready(name, timeout)

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.running[name]
            if process.poll() is not None:
                raise ServiceNotReadyError(
                    f"{name} exited with code {process.returncode}; see {self.log_dir}/{name}.log"
                )
            if answers(self.url(name, "/readyz")):
                return
            time.sleep(0.3)
        raise ServiceNotReadyError(
            f"{name} not ready after {timeout:.0f} s; see {self.log_dir}/{name}.log"
        )

    def kill(self, name: str) -> None:
        """SIGKILL: no graceful shutdown, no final commit (crash tests)."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, name: str, timeout: float = 40.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; return the exit code."""
        process = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            return None

    def stop_all(self, timeout: float = 40.0) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name in list(self.running):
            self.stop(name, timeout)
