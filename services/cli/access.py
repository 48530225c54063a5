"""``hocba access``: register the clients that read records besides parents, issue and revoke
their tokens.

  hocba access add-client ID --kind SCHOOL|ADMISSIONS_OFFICE|NATIONAL_DB --name NAME
                          [--school CODE ...] [--json]
      register a client and print its bearer token, once (the database keeps only its
      SHA-256). SCHOOL: its schools (at least one); ADMISSIONS_OFFICE: the schools whose
      grade-5 students it may check by national id (none: lookup codes only); NATIONAL_DB:
      no schools.
  hocba access list [--json]
      every client, active or revoked, with its kind and schools
  hocba access revoke ID
      revoke a client's token at once (the client and its audit rows stay)

Connects to ``HOCBA_PG_DSN`` (or ``--dsn``), tables in ``--schema`` (default: the DSN's
search path). Exit codes: 0 done, 1 refused (the id exists; no such active client),
2 bad arguments or the database unreachable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from typing import Any, Final

import asyncpg
from rich.console import Console
from rich.table import Table

from services.cli.database import add_database_arguments, run_on_database
from services.storage.access import AccessClient, ClientKind, PgAccessStore

__all__ = ["VIETNAM_TIME", "local_time", "register"]

# The CHECK of access_clients.client_id (migration 0006), to say so before asking.
_CLIENT_ID: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: Operators read and type times in Vietnam time.
VIETNAM_TIME: Final = dt.timezone(dt.timedelta(hours=7), "ICT")


def _client_json(client: AccessClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "kind": client.kind.value,
        "name": client.name,
        "school_codes": sorted(client.school_codes),
        "created_at": None if client.created_at is None else client.created_at.isoformat(),
        "revoked_at": None if client.revoked_at is None else client.revoked_at.isoformat(),
    }


def _add(args: argparse.Namespace) -> int:
    kind = ClientKind(args.kind)
    schools = sorted(set(args.school or ()))
    problem = None
    if _CLIENT_ID.fullmatch(args.client_id) is None:
        problem = "ID must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)"
    elif not args.name.strip():
        problem = "--name must not be empty"
    elif kind is ClientKind.SCHOOL and not schools:
        problem = "a SCHOOL client needs at least one --school CODE"
    elif kind is ClientKind.NATIONAL_DB and schools:
        problem = "a NATIONAL_DB client has no schools (drop --school)"
    if problem is not None:
        print(f"hocba access add-client: {problem}", file=sys.stderr)
        return 2

    async def work(pool: asyncpg.Pool) -> int:
        store = PgAccessStore(pool)
        if any(c.client_id == args.client_id for c in await store.clients()):
            print(
                f"hocba access add-client: client {args.client_id!r} already exists "
                "(ids are never reused; revoke it or choose another id)",
                file=sys.stderr,
            )
            return 1
        token = await store.add_client(args.client_id, kind, args.name.strip(), schools)
        if args.json:
            print(json.dumps({"client_id": args.client_id, "kind": kind.value, "token": token}))
        else:
            print(f"client: {args.client_id} ({kind.value}, {args.name.strip()})")
            print(f"token:  {token}")
        print(
            "Mã truy cập chỉ hiện một lần; nền tảng chỉ lưu mã băm của nó. / "
            "The token is shown only now; the platform keeps only its hash.",
            file=sys.stderr,
        )
        return 0

    return run_on_database("hocba access add-client", args, work)


def _list(args: argparse.Namespace) -> int:
    async def work(pool: asyncpg.Pool) -> int:
        clients = await PgAccessStore(pool).clients()
        if args.json:
            print(json.dumps([_client_json(c) for c in clients], ensure_ascii=False, indent=2))
            return 0
        table = Table(title="Bên được cấp quyền truy cập / Access clients (giờ Việt Nam, ICT)")
        for column in ("client", "kind", "name", "schools", "created", "revoked"):
            table.add_column(column)
        for c in clients:
            schools = sorted(c.school_codes)
            shown = ", ".join(schools[:5]) + (f" (+{len(schools) - 5})" if len(schools) > 5 else "")
            table.add_row(
                c.client_id,
                c.kind.value,
                c.name,
                shown or "-",
                local_time(c.created_at),
                local_time(c.revoked_at) or "-",
            )
        Console().print(table)
        return 0

    return run_on_database("hocba access list", args, work)


def local_time(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """A timestamp as operators read it: Vietnam time (ICT, UTC+7); empty for None."""
    if value is None:
        return ""
    shown = value.astimezone(VIETNAM_TIME)
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _revoke(args: argparse.Namespace) -> int:
    async def work(pool: asyncpg.Pool) -> int:
        if await PgAccessStore(pool).revoke(args.client_id):
            print(f"client {args.client_id} revoked: its token is refused from now on")
            return 0
        print(
            f"hocba access revoke: no active client {args.client_id!r} (unknown or revoked)",
            file=sys.stderr,
        )
        return 1

    return run_on_database("hocba access revoke", args, work)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "access",
        help="access clients (schools, admissions offices, national DB): add, list, revoke",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_database_arguments(parser)
    commands = parser.add_subparsers(dest="access_command", metavar="ACTION", required=True)

    add = commands.add_parser("add-client", help="register a client; prints its token once")
    add.add_argument("client_id", metavar="ID", help="e.g. so-gddt-hcm-tuyen-sinh")
    add.add_argument("--kind", required=True, choices=[k.value for k in ClientKind])
    add.add_argument("--name", required=True, help="the client's name, e.g. Sở GD&ĐT TP.HCM")
    add.add_argument(
        "--school",
        metavar="CODE",
        action="append",
        help="a school code (repeat for several)",
    )
    add.add_argument("--json", action="store_true", help="print {client_id, kind, token}")
    add.set_defaults(handler=_add)

    listing = commands.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    revoke = commands.add_parser("revoke", help="revoke a client's token at once")
    revoke.add_argument("client_id", metavar="ID")
    revoke.set_defaults(handler=_revoke)
