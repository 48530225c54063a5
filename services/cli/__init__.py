"""The ``hocba`` command: one entry point that knows every service and tool.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``; the module adds its parser and sets ``handler`` to a
function ``(args) -> int`` that returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Sub-command modules, in the order `hocba --help` lists them.
_COMMAND_MODULES: tuple[str, ...] = (
    "services.cli.stack",
    "services.cli.status",
    "services.cli.schemas",
    "services.cli.run",
    "services.cli.vendor",
    "services.cli.validate",
    "services.cli.verify",
    "services.cli.sync",
    "services.cli.access",
    "services.cli.audit",
    "services.cli.generate",
    "services.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hocba",
        description="Học bạ số: the national platform for primary-school digital school records.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
