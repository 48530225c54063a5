"""``hocba status`` against the real stack: services down, then one stage running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.supervisor import SERVICES, ServiceProcesses
from tests.ports import free_port

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "status"


def _status(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "status", "--json", "--interval", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def test_status_reports_each_stage_and_says_unhealthy_until_all_are_ready() -> None:
    processes = ServiceProcesses(ARTIFACTS)
    for service in SERVICES.values():  # nothing of a developer's running platform answers
        processes.env[service.port_variable] = str(free_port())
    processes.env["HOCBA_NATIONAL_URL"] = processes.url("national-sim", "")
    code, report = _status(processes.env)
    assert code == 1 and report["healthy"] is False
    stages = {s["stage"]: s for s in report["stages"]}  # type: ignore[attr-defined]
    assert set(stages) == {"ingestion", "validation", "signing", "storage", "national-sync"}
    assert not any(s["answering"] for s in stages.values())
    assert "dead_letters" in report and "last_stored_at" in report
    try:
        processes.start("national-sim")
        processes.start("national-sync")
        code, report = _status(processes.env)
        stages = {s["stage"]: s for s in report["stages"]}  # type: ignore[attr-defined]
        assert stages["national-sync"]["ready"] is True
        assert stages["national-sync"]["in_per_s"] is not None
        assert report["breaker"] == "closed"
        assert code == 1  # the other stages are still down
    finally:
        processes.stop_all()
