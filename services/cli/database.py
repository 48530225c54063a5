"""The record store's database for the operator commands (``hocba access``, ``hocba audit``):
the ``--dsn``/``--schema`` arguments, a small pool, and running one command's work on it.

Shortest use::

    add_database_arguments(parser)
    ...
    return run_on_database("hocba audit search", args, work)  # work: async (pool) -> int
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Final

import asyncpg

from services.messaging.settings import DEFAULT_PG_DSN
from services.storage.errors import StorageError

__all__ = ["add_database_arguments", "connect", "run_on_database"]

_CONNECT_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dsn`` and ``--schema``, as the record store's operator commands take them."""
    parser.add_argument(
        "--dsn",
        default=os.environ.get("HOCBA_PG_DSN", DEFAULT_PG_DSN),
        help="PostgreSQL DSN of the record store (default: HOCBA_PG_DSN)",
    )
    parser.add_argument(
        "--schema", help="the schema of the storage tables (default: the DSN's search path)"
    )


async def connect(args: argparse.Namespace) -> asyncpg.Pool:
    """A small pool on ``--dsn`` (``search_path`` pinned to ``--schema``); raises
    :class:`OSError`, :class:`asyncpg.PostgresError` ... when the database does not answer."""
    settings = {"application_name": "hocba-cli"}
    if args.schema:
        settings["search_path"] = args.schema
    return await asyncpg.create_pool(
        args.dsn, min_size=1, max_size=2, timeout=10, server_settings=settings
    )


def run_on_database(
    prog: str, args: argparse.Namespace, work: Callable[[asyncpg.Pool], Awaitable[int]]
) -> int:
    """Run ``work`` on a pool of ``args``' database and return its exit code; 2 (with the
    reason on stderr, after ``prog``) when the database does not answer."""

    async def main() -> int:
        pool = await connect(args)
        try:
            return await work(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except (StorageError, *_CONNECT_ERRORS) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
