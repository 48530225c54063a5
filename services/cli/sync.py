"""``hocba sync status|replay|reconcile``: operate national sync (đồng bộ CSDL ngành).

  hocba sync status [--json]
      backlog on hocba.records.stored, dead letters, last delivery, versions by state, and
      the service's breaker state and backlog age when it runs
  hocba sync replay [--school CODE] [--reason CODE] [--dry-run]
      re-drive dead letters (hocba.sync.dlq) still dead, by school and/or reason code
  hocba sync reconcile [--school CODE] [--year YYYY-YYYY] [--no-repair] [--json]
      compare per-school summaries with the national database, list the differences,
      re-queue what is missing there

Exit codes: 0 done (reconcile: everything matched or was re-queued), 1 differences left
(reconcile) or an unreachable dependency, 2 bad arguments or configuration.
Configured like the service (HOCBA_PG_DSN, HOCBA_KAFKA_BOOTSTRAP, HOCBA_NATIONAL_*,
HOCBA_SYNC_PORT; see services/national_sync/settings.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.core.national import VersionKey
from services.messaging.codec import default_codec
from services.messaging.kafka import make_producer
from services.messaging.metrics import ServiceMetrics
from services.national_sync.client import NationalClient, NationalError
from services.national_sync.operations import Requeue, reconcile, replay, sync_status
from services.national_sync.settings import SettingsError, SyncSettings
from services.storage.mapping import stored_record_datum
from services.storage.repository import PgRecordStore

__all__ = ["register", "storage_requeue"]

STORED = "vn.edu.hocba.StoredRecord"

_BREAKER = {0: "đóng / closed", 1: "nửa mở / half-open", 2: "mở / OPEN"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="national sync: status, replay dead letters, reconcile with the national database",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="sync_command", metavar="SUBCOMMAND", required=True)
    status = commands.add_parser("status", help="backlog, dead letters, breaker, last success")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.set_defaults(handler=_status)
    again = commands.add_parser("replay", help="re-drive dead letters")
    again.add_argument("--school", metavar="CODE", help="only this school's versions")
    again.add_argument("--reason", metavar="CODE", help="only this reason (E_SYNC_...)")
    again.add_argument("--dry-run", action="store_true", help="list, do not re-publish")
    again.set_defaults(handler=_replay)
    check = commands.add_parser("reconcile", help="compare with the national database, repair")
    check.add_argument("--school", metavar="CODE", help="only this school")
    check.add_argument("--year", metavar="YYYY-YYYY", help="only this school year")
    check.add_argument(
        "--no-repair", action="store_true", help="list differences, re-queue nothing"
    )
    check.add_argument("--json", action="store_true", help="print JSON for scripts")
    check.set_defaults(handler=_reconcile)


def _settings() -> SyncSettings | None:
    try:
        return SyncSettings.from_env()
    except SettingsError as exc:
        print(f"hocba sync: {exc}", file=sys.stderr)
        return None


def _run(work: Callable[[SyncSettings, asyncpg.Pool], Any]) -> int:
    settings = _settings()
    if settings is None:
        return 2

    async def main() -> int:
        pool = await asyncpg.create_pool(settings.pg_dsn, min_size=1, max_size=2)
        try:
            result: int = await work(settings, pool)
            return result
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except (OSError, asyncpg.PostgresError, KafkaError, NationalError) as exc:
        print(f"hocba sync: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _status(args: argparse.Namespace) -> int:
    async def work(settings: SyncSettings, pool: asyncpg.Pool) -> int:
        report = await sync_status(
            pool,
            settings.kafka,
            stored_topic=settings.stored_topic,
            group_id=settings.group_id,
            metrics_url=f"http://{settings.http_host}:{settings.http_port}/metrics",
        )
        if args.json:
            print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
            return 0
        console = Console()
        table = Table(title="Đồng bộ CSDL ngành / National sync", show_header=False)
        backlog = f"{report.backlog_messages:,}" + ("" if report.backlog_exact else " (≤)")
        table.add_row("Tồn đọng / backlog (messages)", backlog)
        table.add_row("Thư chết / dead letters", str(report.dead_letters))
        table.add_row("Lần giao cuối / last delivery", report.last_delivered_at or "—")
        table.add_row("Phiên bản đã ký / signed versions", str(report.signed_versions))
        for state, count in sorted(report.by_state.items()):
            table.add_row(f"  {state}", str(count))
        if report.service is None:
            table.add_row("Dịch vụ / service", "không chạy / not running")
        else:
            breaker = int(report.service.get("breaker_state", 0))
            table.add_row("Cầu dao / breaker", _BREAKER.get(breaker, str(breaker)))
            age = report.service.get("backlog_age_seconds", 0.0)
            table.add_row("Tuổi tồn đọng / backlog age", f"{age:,.1f} s")
        console.print(table)
        return 0

    return _run(work)


def _replay(args: argparse.Namespace) -> int:
    async def work(settings: SyncSettings, pool: asyncpg.Pool) -> int:
        with Progress(transient=True) as bar:
            task = bar.add_task("đọc hàng thư chết / reading dead letters", total=None)
            report = await replay(
                pool,
                settings.kafka,
                default_codec(),
                dlq_topic=settings.dlq_topic,
                stored_topic=settings.stored_topic,
                school_code=args.school,
                reason_code=args.reason,
                dry_run=args.dry_run,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        verb = "would re-drive" if args.dry_run else "re-driven"
        print(f"{len(report.replayed)} dead letters {verb}", file=sys.stderr)
        for key in report.replayed:
            print(str(key))
        print(
            f"skipped: {report.skipped_not_dead} delivered or replayed since, "
            f"{report.not_matching} not matching the filter",
            file=sys.stderr,
        )
        return 0

    return _run(work)


def storage_requeue(pool: asyncpg.Pool, settings: SyncSettings) -> Requeue:
    """Re-queue versions for national sync: their StoredRecord, rebuilt from storage, published
    again on the stored topic (``HOCBA_STORAGE_PUBLIC_URL`` fills ``pdf_url`` as storage does)."""
    codec = default_codec()
    public_url = os.environ.get("HOCBA_STORAGE_PUBLIC_URL")

    async def requeue(keys: Sequence[VersionKey]) -> list[VersionKey]:
        records = PgRecordStore(pool, ServiceMetrics("hocba-sync"), actor="hocba sync reconcile")
        wanted = set(keys)
        producer = make_producer(settings.kafka)
        await producer.start()
        requeued: list[VersionKey] = []
        try:
            for record_id in sorted({k.record_id for k in wanted}):
                for version in await records.all_versions(record_id):
                    key = VersionKey(version.record_id, version.school_year, version.version)
                    if key not in wanted:
                        continue
                    datum = stored_record_datum(version, public_url=public_url)
                    sent = await producer.send(
                        settings.stored_topic,
                        codec.encode(STORED, datum),
                        key=version.record_key.encode(),
                    )
                    await sent
                    requeued.append(key)
        finally:
            await producer.stop()
        return sorted(requeued)

    return requeue


def _reconcile(args: argparse.Namespace) -> int:
    async def work(settings: SyncSettings, pool: asyncpg.Pool) -> int:
        async with NationalClient(settings.national) as national:
            with Progress(transient=True) as bar:
                task = bar.add_task("so khớp / reconciling", total=None)
                report = await reconcile(
                    pool,
                    national,
                    school_code=args.school,
                    school_year=args.year,
                    requeue=None if args.no_repair else storage_requeue(pool, settings),
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        if args.json:
            print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        else:
            print(
                f"{report.checked} school years checked, {len(report.differences)} differ",
                file=sys.stderr,
            )
            for diff in report.differences:
                print(
                    f"{diff.school_code} {diff.school_year}: here {diff.local_count}, "
                    f"there {diff.national_count}; missing there {len(diff.missing)}, "
                    f"other PDF there {len(diff.different)}, only there {len(diff.extra)}"
                )
                for key in diff.missing:
                    print(f"  missing there: {key}")
                for key in diff.different:
                    print(f"  different PDF there (conflict, not repaired): {key}")
                for key in diff.extra:
                    print(f"  only there: {key}")
            if report.repaired:
                print(f"{len(report.repaired)} versions re-queued for delivery", file=sys.stderr)
        unrepaired = any(d.different or d.extra for d in report.differences) or (
            args.no_repair and bool(report.differences)
        )
        return 1 if unrepaired else 0

    return _run(work)
