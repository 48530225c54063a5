"""``hocba vendor``: onboard vendors, issue and revoke their tokens, assign them schools.

Connects to ``HOCBA_PG_DSN`` (or ``--dsn``). Tokens are printed once, when issued;
the database keeps only their SHA-256. Dates are Vietnam calendar dates, YYYY-MM-DD.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from services.ingestion.envelope import VIETNAM_TIME
from services.ingestion.settings import DEFAULT_PG_DSN
from services.ingestion.store import StoreError, VendorSummary
from services.ingestion.vendors import PostgresVendorStore, translate_error

__all__ = ["register"]

_Operation = Callable[[PostgresVendorStore], Awaitable[int]]


def _today() -> dt.date:
    return dt.datetime.now(VIETNAM_TIME).date()


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _token_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token id (a UUID)") from exc


async def _with_store(dsn: str, operation: _Operation) -> int:
    try:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise translate_error(exc, "connect") from exc
    try:
        return await operation(PostgresVendorStore(pool))
    finally:
        await pool.close()


def _run(args: argparse.Namespace, operation: _Operation) -> int:
    try:
        return asyncio.run(_with_store(args.dsn, operation))
    except StoreError as exc:
        print(f"hocba vendor: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _add(args: argparse.Namespace) -> int:
    async def op(store: PostgresVendorStore) -> int:
        await store.add_vendor(args.vendor_id, args.name)
        print(f"vendor {args.vendor_id} added")
        return 0

    return _run(args, op)


def _set_active(active: bool) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        async def op(store: PostgresVendorStore) -> int:
            await store.set_active(args.vendor_id, active)
            print(f"vendor {args.vendor_id} {'activated' if active else 'deactivated'}")
            return 0

        return _run(args, op)

    return handler


def _token(args: argparse.Namespace) -> int:
    async def op(store: PostgresVendorStore) -> int:
        issued = await store.issue_token(args.vendor_id)
        if args.json:
            print(json.dumps({"token_id": str(issued.token_id), "token": issued.token}))
        else:
            print(f"token id: {issued.token_id}")
            print(f"token:    {issued.token}")
            print("The token is shown only now; the platform keeps only its hash.", file=sys.stderr)
        return 0

    return _run(args, op)


def _revoke(args: argparse.Namespace) -> int:
    async def op(store: PostgresVendorStore) -> int:
        await store.revoke_token(args.vendor_id, args.token_id)
        print(f"token {args.token_id} of {args.vendor_id} revoked")
        return 0

    return _run(args, op)


def _assign(args: argparse.Namespace) -> int:
    start = args.valid_from or _today()

    async def op(store: PostgresVendorStore) -> int:
        await store.assign(args.vendor_id, args.school_code, start, args.valid_to)
        until = args.valid_to.isoformat() if args.valid_to else "open-ended"
        print(f"school {args.school_code} assigned to {args.vendor_id} from {start} ({until})")
        return 0

    return _run(args, op)


def _unassign(args: argparse.Namespace) -> int:
    effective = args.effective or _today()

    async def op(store: PostgresVendorStore) -> int:
        changed = await store.unassign(args.vendor_id, args.school_code, effective)
        if changed == 0:
            print(f"{args.vendor_id} had no assignment of {args.school_code} from {effective}")
            return 1
        print(f"school {args.school_code} no longer assigned to {args.vendor_id} from {effective}")
        return 0

    return _run(args, op)


def _summary_json(vendor: VendorSummary) -> dict[str, Any]:
    return {
        "vendor_id": vendor.vendor_id,
        "name": vendor.name,
        "active": vendor.active,
        "created_at": vendor.created_at.isoformat(),
        "tokens": [
            {
                "token_id": str(t.token_id),
                "created_at": t.created_at.isoformat(),
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in vendor.tokens
        ],
        "schools": [
            {
                "school_code": a.school_code,
                "valid_from": a.valid_from.isoformat(),
                "valid_to": a.valid_to.isoformat() if a.valid_to else None,
            }
            for a in vendor.assignments
        ],
    }


def _list(args: argparse.Namespace) -> int:
    async def op(store: PostgresVendorStore) -> int:
        vendors = await store.list_vendors()
        if args.json:
            print(json.dumps([_summary_json(v) for v in vendors], ensure_ascii=False, indent=2))
            return 0
        today = _today()
        table = Table(title="Vendors (nhà cung cấp)")
        for column in ("vendor", "name", "active", "tokens in use", "schools today"):
            table.add_column(column)
        for v in vendors:
            current = sorted({a.school_code for a in v.assignments if a.covers(today)})
            shown = ", ".join(current[:5]) + (f" (+{len(current) - 5})" if len(current) > 5 else "")
            table.add_row(
                v.vendor_id,
                v.name,
                "yes" if v.active else "no",
                str(sum(t.revoked_at is None for t in v.tokens)),
                shown or "-",
            )
        Console().print(table)
        return 0

    return _run(args, op)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "vendor",
        help="register vendors, issue/revoke their tokens, assign them schools",
        description=__doc__,
    )
    parser.add_argument(
        "--dsn",
        default=os.environ.get("HOCBA_PG_DSN", DEFAULT_PG_DSN),
        help="PostgreSQL DSN (default: HOCBA_PG_DSN)",
    )
    commands = parser.add_subparsers(dest="vendor_command", metavar="ACTION", required=True)

    add = commands.add_parser("add", help="register a vendor")
    add.add_argument("vendor_id", metavar="ID")
    add.add_argument("--name", required=True, help="the vendor's name")
    add.set_defaults(handler=_add)

    for name, active, effect in (
        ("activate", True, "its events are accepted again"),
        ("deactivate", False, "its events are refused"),
    ):
        toggle = commands.add_parser(name, help=f"{name} a vendor ({effect})")
        toggle.add_argument("vendor_id", metavar="ID")
        toggle.set_defaults(handler=_set_active(active))

    token = commands.add_parser("token", help="issue a new access token (printed once)")
    token.add_argument("vendor_id", metavar="ID")
    token.add_argument("--json", action="store_true", help="print {token_id, token} as JSON")
    token.set_defaults(handler=_token)

    revoke = commands.add_parser("revoke-token", help="revoke a token at once")
    revoke.add_argument("vendor_id", metavar="ID")
    revoke.add_argument("token_id", metavar="TOKEN_ID", type=_token_id)
    revoke.set_defaults(handler=_revoke)

    assign = commands.add_parser("assign", help="let a vendor publish for a school")
    assign.add_argument("vendor_id", metavar="ID")
    assign.add_argument("school_code", metavar="SCHOOL")
    assign.add_argument("--from", dest="valid_from", type=_date, help="first day (default: today)")
    assign.add_argument(
        "--to", dest="valid_to", type=_date, help="last day included (default: open-ended)"
    )
    assign.set_defaults(handler=_assign)

    unassign = commands.add_parser(
        "unassign", help="end a vendor's assignment of a school (history is kept)"
    )
    unassign.add_argument("vendor_id", metavar="ID")
    unassign.add_argument("school_code", metavar="SCHOOL")
    unassign.add_argument(
        "--from",
        dest="effective",
        type=_date,
        help="first day the vendor may no longer publish for it (default: today)",
    )
    unassign.set_defaults(handler=_unassign)

    listing = commands.add_parser("list", help="list vendors, tokens and schools")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)
