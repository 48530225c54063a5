"""``hocba run <service>|all``: run one platform service, or every one as child processes."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from services.cli.devsigning import dev_signing
from services.cli.supervisor import SERVICES, ServiceProcesses

__all__ = ["register"]

_STOP_TIMEOUT_S = 40.0
_LOG_DIR = Path(os.environ.get("HOCBA_STATE_DIR", Path(__file__).resolve().parents[2] / ".state"))


def _run_one(name: str) -> int:
    module = importlib.import_module(f"{SERVICES[name].module}.app")
    if name != "signing":
        return int(module.main([]))
    # Unconfigured, signing runs with the development PKI of the local stack.
    with dev_signing(_LOG_DIR, os.environ) as extra:
        os.environ.update(extra)
        return int(module.main([]))


def _run_all(names: list[str]) -> int:
    """Every service as a child process; stop them all when one ends or on SIGTERM."""
    children = ServiceProcesses(_LOG_DIR / "logs")
    with dev_signing(_LOG_DIR, children.env) as extra:
        children.env.update(extra)
        return _supervise(children, names)


def _supervise(children: ServiceProcesses, names: list[str]) -> int:
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, frame: Any = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    for name in names:
        children.start(name, wait=False)
        print(
            f"started {name} (pid {children.running[name].pid}), "
            f"log {children.log_dir / (name + '.log')}",
            flush=True,
        )
    exit_code = 0
    while not stopping:
        for name, child in children.running.items():
            code = child.poll()
            if code is not None:
                print(f"{name} exited with code {code}: stopping the others", flush=True)
                exit_code = code or 1
                stopping = True
                break
        time.sleep(0.2)
    for name in list(children.running):
        code = children.stop(name, _STOP_TIMEOUT_S)
        print(f"{name} stopped ({'killed' if code is None else f'code {code}'})", flush=True)
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
