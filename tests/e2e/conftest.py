"""Run platform services as real processes for end-to-end tests.

Services run exactly as operators run them (``python -m services.<name>``) against
the local stack that ``hocba stack up`` started; a test can SIGKILL one mid-stream
and start it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PORTS = {"ingestion": 8081, "validation": 8082, "storage": 8084}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


@dataclass
class ServiceProcesses:
    """Start, kill and restart services; their logs go to artifacts/e2e/."""

    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = (ARTIFACTS / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=self.env, stdout=log, stderr=log
        )
        self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{PORTS[name]}/readyz"
        while time.monotonic() < deadline:
            process = self.running[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}; see {ARTIFACTS}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"{name} not ready after {timeout:.0f} s; see {ARTIFACTS}")

    def kill(self, name: str) -> None:
        """SIGKILL: no graceful shutdown, no final commit."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in list(self.running.items()):
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            self.running.pop(name)


@pytest.fixture
def services() -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses()
    try:
        yield processes
    finally:
        processes.stop_all()
