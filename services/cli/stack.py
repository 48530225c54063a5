"""``hocba stack up|down|status|logs``: the local Kafka broker and PostgreSQL (and Prometheus).

Configuration comes from ``HOCBA_*`` environment variables; see
:mod:`services.stack.settings` for the list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape

from services.stack.errors import StackError
from services.stack.lifecycle import COMPONENTS, down, log_file, status, tail_lines, up
from services.stack.settings import StackSettings

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``stack`` and its sub-commands to the ``hocba`` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "stack",
        help="run the local Kafka broker and PostgreSQL",
        description="Run the local Kafka broker (KRaft, 127.0.0.1) and PostgreSQL for "
        "development and tests. Configured by HOCBA_* environment variables.",
    )
    parser.set_defaults(handler=lambda _args: _usage(parser))
    commands = parser.add_subparsers(dest="stack_command", metavar="ACTION")

    up_parser = commands.add_parser(
        "up", help="start what is missing, create topics, apply migrations"
    )
    up_parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="partitions of each topic created (default: HOCBA_TOPIC_PARTITIONS or 12)",
    )
    up_parser.add_argument(
        "--with-monitoring",
        action="store_true",
        help="also start the local Prometheus on 127.0.0.1:9090 (HOCBA_PROMETHEUS_PORT), "
        "scraping every service (deploy/prometheus/prometheus-local.yml)",
    )
    up_parser.set_defaults(handler=_up)

    down_parser = commands.add_parser("down", help="stop what `up` started")
    down_parser.set_defaults(handler=_down)

    status_parser = commands.add_parser(
        "status", help="health of each component (exit 0 when all healthy)"
    )
    status_parser.add_argument("--json", action="store_true", help="print JSON")
    status_parser.set_defaults(handler=_status)

    logs_parser = commands.add_parser("logs", help="print the tail of a component's log")
    logs_parser.add_argument("component", nargs="?", choices=COMPONENTS, default="kafka")
    logs_parser.add_argument("-n", "--lines", type=int, default=50, help="lines (default 50)")
    logs_parser.set_defaults(handler=_logs)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _fail(error: StackError) -> int:
    # One line, no traceback: the message already says what to do.
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/] {escape(str(error))}")
    return 1


def _quiet_client_logs() -> None:
    # aiokafka logs every refused connection while we poll a starting broker; our own
    # lines already say what is happening.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _up(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    _quiet_client_logs()
    started = time.monotonic()
    try:
        settings = StackSettings.from_env()
        if args.partitions is not None:
            settings = settings.with_partitions(args.partitions)
        asyncio.run(up(settings, console, with_monitoring=args.with_monitoring))
    except StackError as error:
        return _fail(error)
    console.print(f"[green]stack up[/] in {time.monotonic() - started:.1f} s")
    return 0


def _down(_args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    started = time.monotonic()
    try:
        down(StackSettings.from_env(), console)
    except StackError as error:
        return _fail(error)
    console.print(f"[green]stack down[/] in {time.monotonic() - started:.1f} s")
    return 0


def _status(args: argparse.Namespace) -> int:
    _quiet_client_logs()
    try:
        components = asyncio.run(status(StackSettings.from_env()))
    except StackError as error:
        return _fail(error)
    healthy = all(component.healthy for component in components)
    if args.json:
        print(
            json.dumps(
                {
                    "healthy": healthy,
                    "components": [component.as_json() for component in components],
                },
                indent=2,
            )
        )
    else:
        console = Console(highlight=False, soft_wrap=True)
        for component in components:
            mark = "[green]healthy[/]" if component.healthy else "[red]unhealthy[/]"
            if component.managed:
                owner = f"started by hocba, pid {component.pid}"
            elif component.healthy:
                owner = "not started by hocba"
            else:
                owner = "not running"
            console.print(
                f"{component.name:<9} {component.address:<16} {mark}  ({owner}) "
                f"{escape(component.detail)}"
            )
    return 0 if healthy else 1


def _logs(args: argparse.Namespace) -> int:
    try:
        settings = StackSettings.from_env()
        if args.component == "postgres" and settings.pg_external_marker.exists():
            # Our file would be stale: the server `up` reused logs where its owner chose.
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                "note: PostgreSQL is a reused server not started by hocba; its log is not "
                "ours (Debian: /var/log/postgresql/). Older log of the project's cluster:"
            )
        path = log_file(settings, args.component)
        lines = tail_lines(path, args.lines)
    except StackError as error:
        return _fail(error)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0
