"""``hocba run <service>|all``: run one platform service, or every one as child processes."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

__all__ = ["SERVICES", "register"]

#: Service name → the module whose ``main(argv) -> int`` runs it.
SERVICES: dict[str, str] = {
    "ingestion": "services.ingestion.app",
    "validation": "services.validation.app",
    "storage": "services.storage.app",
}

_STOP_TIMEOUT_S = 30.0


def _run_one(name: str) -> int:
    module = importlib.import_module(SERVICES[name])
    return int(module.main([]))


def _run_all(names: list[str]) -> int:
    """Start each service as ``python -m services.<name>``; stop all when one ends."""
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, frame: Any = None) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    for name in names:
        package = SERVICES[name].rpartition(".")[0]
        children[name] = subprocess.Popen([sys.executable, "-m", package], env=os.environ.copy())
        print(f"started {name} (pid {children[name].pid})", flush=True)
    exit_code = 0
    while children:
        for name, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            del children[name]
            if not stopping:
                print(f"{name} exited with code {code}: stopping the others", flush=True)
                exit_code = code or 1
                stop_all()
            else:
                print(f"{name} stopped (code {code})", flush=True)
        time.sleep(0.2)
        if stopping:
            deadline = time.monotonic() + _STOP_TIMEOUT_S
            while children and time.monotonic() < deadline:
                for name, child in list(children.items()):
                    if child.poll() is not None:
                        print(f"{name} stopped (code {child.returncode})", flush=True)
                        del children[name]
                time.sleep(0.2)
            for name, child in children.items():
                print(f"{name} did not stop in {_STOP_TIMEOUT_S:.0f} s: killed", flush=True)
                child.kill()
            children.clear()
    return exit_code


def _handle(args: argparse.Namespace) -> int:
    if args.service == "all":
        return _run_all(list(SERVICES))
    return _run_one(args.service)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a platform service (or all of them) in the foreground",
        description="Run a service against the local stack; configuration from HOCBA_* "
        "environment variables. SIGTERM or Ctrl-C stops it gracefully.",
    )
    parser.add_argument("service", choices=[*SERVICES, "all"])
    parser.set_defaults(handler=_handle)
