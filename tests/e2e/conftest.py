"""Run platform services as real processes for end-to-end tests.

Services run exactly as operators run them (``python -m services.<name>``) against
the local stack that ``hocba stack up`` started; a test can SIGKILL one mid-stream
and start it again. Their logs are kept in artifacts/e2e/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.devsigning import dev_signing
from services.cli.supervisor import ServiceProcesses

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


PIPELINE = ("ingestion", "validation", "signing", "storage")


@pytest.fixture(scope="module")
def signing_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The dev PKI served on loopback and a signer registry, as ``hocba run`` sets them up."""
    with dev_signing(tmp_path_factory.mktemp("signing-state"), {}) as env:
        yield env


@pytest.fixture
def services(signing_env: dict[str, str]) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(ARTIFACTS)
    processes.env.update(signing_env)
    running = [name for name in PIPELINE if processes.already_running(name)]
    assert not running, f"stop the services already running before the e2e tests: {running}"
    try:
        yield processes
    finally:
        processes.stop_all()
