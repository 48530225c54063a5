"""Disk-space rule, log tails, pid files and the bounded stop; the CLI's surface."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import services.stack
from services.cli import build_parser, main
from services.stack.errors import DiskFullError, StackError
from services.stack.lifecycle import _translate_enospc, check_free_space, log_file, tail_lines
from services.stack.processes import is_ours, pid_alive, read_pid, stop_process, write_pid_file
from services.stack.settings import StackSettings

pytestmark = pytest.mark.unit


def test_free_space_rule(tmp_path: Path) -> None:
    check_free_space(2 * 1024**3, tmp_path)
    with pytest.raises(DiskFullError, match="HOCBA_STATE_DIR"):
        check_free_space(100 * 1024**2, tmp_path)


def test_tail_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert tail_lines(log, 3) == ["line 99997", "line 99998", "line 99999"]
    assert tail_lines(log, 0) == []
    with pytest.raises(StackError, match="stack up"):
        tail_lines(tmp_path / "absent.log", 5)


def test_log_file_per_component(tmp_path: Path) -> None:
    settings = StackSettings.from_env({"HOCBA_STATE_DIR": str(tmp_path)}, repo_root=tmp_path)
    assert log_file(settings, "kafka") == tmp_path / "kafka" / "kafka.log"
    assert log_file(settings, "postgres") == tmp_path / "postgres" / "postgres.log"
    with pytest.raises(StackError, match="unknown component"):
        log_file(settings, "zookeeper")


def test_pid_files(tmp_path: Path) -> None:
    pid_file = tmp_path / "x.pid"
    assert read_pid(pid_file) is None
    write_pid_file(pid_file, os.getpid())
    assert read_pid(pid_file) == os.getpid()
    pid_file.write_text("garbage\n")
    assert read_pid(pid_file) is None


def test_ours_needs_marker_on_command_line() -> None:
    assert is_ours(os.getpid(), "python")
    assert not is_ours(os.getpid(), "kafka.Kafka /nowhere/server.properties")
    assert not is_ours(None, "python")


def test_stop_process_escalates_to_sigkill() -> None:
    # A child that ignores SIGTERM: the bound must end it anyway.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal,time; signal.signal(signal.SIGTERM, "
            "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    child.stdout.readline()
    assert stop_process(child.pid, timeout=0.5) is True
    child.wait(timeout=5)
    assert not pid_alive(child.pid)


def test_stop_process_polite_exit() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_process(child.pid, timeout=10) is False
    child.wait(timeout=5)


def test_cli_has_stack_actions() -> None:
    parser = build_parser()
    args = parser.parse_args(["stack", "up", "--partitions", "3"])
    assert args.partitions == 3 and callable(args.handler)
    args = parser.parse_args(["stack", "logs", "postgres", "-n", "7"])
    assert (args.component, args.lines) == ("postgres", 7)
    assert parser.parse_args(["stack", "status", "--json"]).json is True
    assert main(["stack"]) == 2


def test_public_surface() -> None:
    assert set(services.stack.__all__) == {
        "ComponentStatus",
        "StackError",
        "StackSettings",
        "apply_migrations",
        "down",
        "status",
        "up",
    }


def test_enospc_becomes_disk_full(tmp_path: Path) -> None:
    settings = StackSettings.from_env({"HOCBA_STATE_DIR": str(tmp_path)}, repo_root=tmp_path)
    with (
        pytest.raises(DiskFullError, match="disk full writing under"),
        _translate_enospc(settings),
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(PermissionError), _translate_enospc(settings):
        raise PermissionError(errno.EACCES, "denied")
