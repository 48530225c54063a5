"""Processes the stack started: pid files, liveness and a bounded stop.

A pid alone is not proof: after a reboot the number may belong to another program.
A process counts as ours only when it is alive *and* its command line carries a
marker we chose (the broker's config path, the cluster's data directory).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "is_ours",
    "launch_detached",
    "pid_alive",
    "read_pid",
    "remove_pid_file",
    "stop_process",
    "write_pid_file",
]


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` (first line), or ``None`` when absent or unreadable."""
    try:
        first = pid_file.read_text(encoding="ascii").splitlines()[0].strip()
    except (FileNotFoundError, IndexError, UnicodeDecodeError):
        return None
    return int(first) if first.isdigit() and int(first) > 0 else None


def write_pid_file(pid_file: Path, pid: int) -> None:
    pid_file.write_text(f"{pid}\n", encoding="ascii")


def remove_pid_file(pid_file: Path) -> None:
    pid_file.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """True for a running (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Exists but belongs to another user: alive.
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    # Field 3 (after the parenthesised command name) is the state; Z is a zombie.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def is_ours(pid: int | None, marker: str) -> bool:
    """True when ``pid`` runs and its command line contains ``marker``."""
    return pid is not None and pid_alive(pid) and marker in _cmdline(pid)


def stop_process(pid: int, *, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Send ``sig``, wait up to ``timeout`` s, then SIGKILL. Return True if it had to kill."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return False
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    # SIGKILL cannot be ignored; a short wait lets the kernel reap it before we report.
    for _ in range(50):
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    return True


def launch_detached(
    command: Sequence[str], *, log_file: Path, cwd: Path, pid_file: Path, banner: str
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (Ctrl-C in the terminal that ran ``up`` must not
    stop it), output appended to ``log_file`` after a dated ``banner`` line (error quotes
    read only the latest run), its pid written to ``pid_file``."""
    with log_file.open("ab") as log:
        log.write(f"{banner} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    write_pid_file(pid_file, process.pid)
    return process
