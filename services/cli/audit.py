"""``hocba audit``: who read or changed which record, when, and why (nhật ký truy cập).

  hocba audit record CODE [--json]
      every audit row of a record (CODE: a lookup code or a record id; all school years):
      stores, corrections, refusals and reads, oldest first
  hocba audit client CLIENT_ID [--since T] [--until T] [--limit N] [--json]
      what one access client did, oldest first
  hocba audit search [--action A] [--actor TEXT] [--since T] [--until T] [--limit N] [--json]
      the latest rows matching, newest first (--actor: a part of the actor, e.g.
      client:so-gddt-hcm, http:10.0.0.5, hocba-storage)

Times T are ISO 8601 (2025-06-01, 2025-06-01T08:00, 2025-06-01T01:00:00Z); without a zone
they are Vietnam time; a date alone as --until includes that whole day. Tables show Vietnam
time; --json prints UTC. These reads of the trail are not themselves audited (operators,
with the database's credentials). Connects to ``HOCBA_PG_DSN`` (or ``--dsn``, ``--schema``).
Exit codes: 0 rows found, 1 nothing found, 2 bad arguments or the database unreachable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from services.cli.access import VIETNAM_TIME, local_time
from services.cli.database import add_database_arguments, run_on_database
from services.storage.audit_query import AUDIT_ACTIONS, AuditRow, AuditSearch, PgAuditQuery
from services.storage.record_ids import parse_code

__all__ = ["register"]

_MAX_LIMIT: Final = 100_000
_DETAIL_MAX: Final = 60
# Detail keys worth a glance in a table row, in order (the whole detail is in --json).
_DETAIL_KEYS: Final = ("request_id", "resource", "code", "reason", "status", "queries", "address")


def _instant(text: str, *, end_of_day: bool) -> dt.datetime:
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), VIETNAM_TIME)
            return start + dt.timedelta(days=1) if end_of_day else start
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (2025-06-01, 2025-06-01T08:00)"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VIETNAM_TIME)


def _since(text: str) -> dt.datetime:
    return _instant(text, end_of_day=False)


def _until(text: str) -> dt.datetime:
    return _instant(text, end_of_day=True)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not 1 <= value <= _MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"--limit must be 1-{_MAX_LIMIT:,}")
    return value


def _detail(detail: Any) -> str:
    if not isinstance(detail, dict):
        return ""
    parts = []
    for key in _DETAIL_KEYS:
        value = detail.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value[:3]) + ("…" if len(value) > 3 else "")
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def _print(rows: Sequence[AuditRow], title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{title} (giờ Việt Nam / Vietnam time)")
    for column in ("at", "action", "actor", "client", "purpose", "record", "year", "v", "detail"):
        table.add_column(column, overflow="fold")
    for r in rows:
        # The actor names the client's id; this column says who that is.
        client = r.client_name or r.client_id or ""
        if r.client_kind is not None:
            client += f" ({r.client_kind})"
        table.add_row(
            local_time(r.at, seconds=True),
            r.action,
            r.actor,
            client,
            r.purpose or "",
            r.record_id or "",
            r.school_year or "",
            "" if r.version is None else str(r.version),
            _detail(r.detail),
        )
    Console().print(table)


def _run(
    prog: str, args: argparse.Namespace, work: Callable[[PgAuditQuery], Awaitable[int]]
) -> int:
    return run_on_database(prog, args, lambda pool: work(PgAuditQuery(pool)))


def _found(rows: Sequence[AuditRow], prog: str, what: str) -> int:
    if not rows:
        print(f"{prog}: no audit rows {what}", file=sys.stderr)
        return 1
    return 0


def _record(args: argparse.Namespace) -> int:
    code = parse_code(args.code)
    if code is None:
        print(
            f"hocba audit record: {args.code!r} is neither a lookup code (with a valid check "
            "character) nor a record id (HB + 16 characters)",
            file=sys.stderr,
        )
        return 2

    async def work(query: PgAuditQuery) -> int:
        record_id = await query.record_id_of(code)
        if record_id is None:
            print(f"hocba audit record: no record has the code {code.value}", file=sys.stderr)
            return 1
        rows = await query.of_record(record_id)
        _print(rows, f"Nhật ký học bạ / Audit of record {record_id}", args.json)
        return _found(rows, "hocba audit record", f"for record {record_id}")

    return _run("hocba audit record", args, work)


def _window_ok(prog: str, args: argparse.Namespace) -> bool:
    if args.since is not None and args.until is not None and args.since >= args.until:
        print(f"{prog}: --since must be before --until", file=sys.stderr)
        return False
    return True


def _client(args: argparse.Namespace) -> int:
    if not _window_ok("hocba audit client", args):
        return 2

    async def work(query: PgAuditQuery) -> int:
        rows = await query.of_client(
            args.client_id, since=args.since, until=args.until, limit=args.limit
        )
        _print(rows, f"Nhật ký của / Audit of client {args.client_id}", args.json)
        if len(rows) == args.limit:
            print(
                f"(the first {args.limit:,} rows; narrow --since/--until or raise --limit)",
                file=sys.stderr,
            )
        return _found(rows, "hocba audit client", f"for client {args.client_id}")

    return _run("hocba audit client", args, work)


def _search(args: argparse.Namespace) -> int:
    if not _window_ok("hocba audit search", args):
        return 2
    search = AuditSearch(
        action=args.action,
        actor=args.actor,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )

    async def work(query: PgAuditQuery) -> int:
        rows = await query.search(search)
        _print(rows, "Nhật ký học bạ / Audit search (newest first)", args.json)
        return _found(rows, "hocba audit search", "match")

    return _run("hocba audit search", args, work)


def _window_arguments(parser: argparse.ArgumentParser, limit: int) -> None:
    parser.add_argument("--since", type=_since, metavar="T", help="from this time (included)")
    parser.add_argument("--until", type=_until, metavar="T", help="until this time (excluded)")
    parser.add_argument(
        "--limit", type=_limit, default=limit, metavar="N", help=f"at most N rows ({limit})"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (UTC)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="the audit trail: by record, by access client, search by action/actor/time",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_database_arguments(parser)
    commands = parser.add_subparsers(dest="audit_command", metavar="QUERY", required=True)

    record = commands.add_parser("record", help="every row of a record, oldest first")
    record.add_argument("code", metavar="CODE", help="a lookup code or a record id")
    record.add_argument("--json", action="store_true", help="machine-readable output (UTC)")
    record.set_defaults(handler=_record)

    client = commands.add_parser("client", help="what an access client did, oldest first")
    client.add_argument("client_id", metavar="CLIENT_ID")
    _window_arguments(client, 1000)
    client.set_defaults(handler=_client)

    search = commands.add_parser("search", help="the latest matching rows, newest first")
    search.add_argument("--action", choices=AUDIT_ACTIONS, help="only this action")
    search.add_argument("--actor", metavar="TEXT", help="actors containing TEXT")
    _window_arguments(search, 100)
    search.set_defaults(handler=_search)
