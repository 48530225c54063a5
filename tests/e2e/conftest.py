"""Run platform services as real processes for end-to-end tests.

Services run exactly as operators run them (``python -m services.<name>``) against
the local stack that ``hocba stack up`` started; a test can SIGKILL one mid-stream
and start it again. Their logs are kept in artifacts/e2e/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.supervisor import ServiceProcesses

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


@pytest.fixture
def services() -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(ARTIFACTS)
    running = [
        name for name in ("ingestion", "validation", "storage") if processes.already_running(name)
    ]
    assert not running, f"stop the services already running before the e2e tests: {running}"
    try:
        yield processes
    finally:
        processes.stop_all()
