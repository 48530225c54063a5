"""``hocba status [--json]``: the platform on one screen, for the operator who opens it first.

Per stage (ingestion, validation, signing, storage, national sync): whether it answers and
is ready, its throughput (messages in and out per second over ``--interval`` seconds, from
two scrapes of its ``/metrics``), its consumer lag, and the age of the oldest message its
consumer group has not committed (read from Kafka at the group's committed offset: that is
the oldest unprocessed event, whether or not the stage runs); then the dead letters, the
national-sync breaker, the last record stored and the last one delivered to the national
database (from PostgreSQL).

Exit codes: 0 every stage ready and the breaker closed, 1 otherwise, 2 bad configuration.
Services are found at ``http://$HOCBA_HTTP_HOST:<port>`` with the ports of ``hocba run``
(``HOCBA_*_PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from services.cli.supervisor import ServiceProcesses
from services.messaging.kafka import KafkaSettings, make_consumer, uncommitted_ranges
from services.messaging.topics import (
    EVENTS_ACCEPTED,
    RECORDS_SIGNED,
    RECORDS_STORED,
    RECORDS_VALIDATED,
    VENDOR_EVENTS,
)
from services.stack.errors import ConfigError
from services.stack.settings import StackSettings

__all__ = ["StageStatus", "parse_metrics", "register"]

#: stage -> (service name in ``hocba run``, consumer group, topics it consumes)
_STAGES: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "ingestion": ("ingestion", "hocba-ingestion", (VENDOR_EVENTS.name,)),
    "validation": ("validation", "hocba-validation", (EVENTS_ACCEPTED.name,)),
    "signing": (
        "signing",
        "hocba-signing",
        (RECORDS_VALIDATED.name, EVENTS_ACCEPTED.name),
    ),
    "storage": ("storage", "hocba-storage", (RECORDS_SIGNED.name,)),
    "national-sync": ("national-sync", "hocba-national-sync", (RECORDS_STORED.name,)),
}
_BREAKER = {0: "closed", 1: "half-open", 2: "OPEN"}


def parse_metrics(text: str) -> dict[str, float]:
    """Sum each metric family's samples over their labels (``name`` -> total)."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            value = float(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        totals[name] = totals.get(name, 0.0) + value
    return totals


def _scrape(url: str) -> dict[str, float] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return parse_metrics(answer.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class StageStatus:
    stage: str
    answering: bool = False
    ready: bool = False
    in_per_s: float | None = None
    out_per_s: float | None = None
    lag_messages: float | None = None
    oldest_unprocessed_age_s: float | None = None


@dataclass
class PlatformStatus:
    at: str
    stages: list[StageStatus] = field(default_factory=list)
    dead_letters: int | None = None
    breaker: str | None = None
    last_stored_at: str | None = None
    last_synced_at: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(s.ready for s in self.stages) and self.breaker in (None, "closed")


async def _oldest_unprocessed(
    kafka: KafkaSettings, group: str, topics: Sequence[str]
) -> float | None:
    """Age in seconds of the oldest message ``group`` has not committed; None if none."""
    ranges = await uncommitted_ranges(kafka, group, topics)
    if not ranges:
        return None
    reader = make_consumer(kafka, group_id=None)
    await reader.start()
    try:
        reader.assign(list(ranges))
        for tp, (first, _end) in ranges.items():
            reader.seek(tp, first)
        batch = await reader.getmany(timeout_ms=1500, max_records=len(ranges) * 2)
    finally:
        await reader.stop()
    # The first record fetched of each partition is its oldest uncommitted one (a range
    # holding only commit markers fetches none).
    stamps = [records[0].timestamp for records in batch.values() if records]
    return max(time.time() - min(stamps) / 1000, 0.0) if stamps else None


async def _database(dsn: str, status: PlatformStatus) -> None:
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        status.problems.append(f"PostgreSQL: {type(exc).__name__}: {exc}")
        return
    try:
        stored = await connection.fetchval("SELECT max(stored_at) FROM record_versions")
        status.last_stored_at = stored.isoformat() if stored else None
        try:
            synced, dead = await connection.fetchrow(
                "SELECT max(delivered_at), count(*) FILTER (WHERE state = 'DEAD_LETTERED')"
                " FROM national_sync"
            )
            status.last_synced_at = synced.isoformat() if synced else None
            status.dead_letters = int(dead)
        except asyncpg.UndefinedTableError:
            status.problems.append("the national_sync table is missing: run `hocba stack up`")
    finally:
        await connection.close()


async def collect(interval: float) -> PlatformStatus:
    """Everything ``hocba status`` shows (two scrapes ``interval`` seconds apart)."""
    stack = StackSettings.from_env()
    kafka = KafkaSettings.from_env()
    urls = ServiceProcesses(stack.state_dir / "logs")
    status = PlatformStatus(at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    first = {stage: _scrape(urls.url(name, "/metrics")) for stage, (name, _, _) in _STAGES.items()}
    started = time.monotonic()
    await asyncio.sleep(interval)
    elapsed = time.monotonic() - started
    for stage, (name, group, topics) in _STAGES.items():
        line = StageStatus(stage)
        before, after = first[stage], _scrape(urls.url(name, "/metrics"))
        line.answering = after is not None
        line.ready = line.answering and _ready(urls.url(name, "/readyz"))
        if before is not None and after is not None:
            line.in_per_s = (
                after.get("hocba_messages_in_total", 0.0)
                - before.get("hocba_messages_in_total", 0.0)
            ) / elapsed
            line.out_per_s = (
                after.get("hocba_messages_out_total", 0.0)
                - before.get("hocba_messages_out_total", 0.0)
            ) / elapsed
            line.lag_messages = after.get("hocba_consumer_lag_messages")
        if stage == "national-sync" and after is not None:
            state = int(after.get("hocba_sync_breaker_state", 0))
            status.breaker = _BREAKER.get(state, str(state))
        try:
            line.oldest_unprocessed_age_s = await _oldest_unprocessed(kafka, group, topics)
        except (KafkaError, OSError) as exc:
            status.problems.append(f"Kafka ({stage}): {type(exc).__name__}: {exc}")
        status.stages.append(line)
    await _database(stack.pg_dsn, status)
    return status


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _print(status: PlatformStatus) -> None:
    console = Console()
    table = Table(title=f"hocba — {status.at}")
    for column in ("stage", "state", "in/s", "out/s", "lag", "oldest unprocessed"):
        table.add_column(column, justify="left" if column in ("stage", "state") else "right")
    for line in status.stages:
        state = (
            "[green]ready[/green]"
            if line.ready
            else "[yellow]not ready[/yellow]"
            if line.answering
            else "[red]down[/red]"
        )
        lag = "—" if line.lag_messages is None else f"{line.lag_messages:,.0f}"
        table.add_row(
            line.stage,
            state,
            _rate(line.in_per_s),
            _rate(line.out_per_s),
            lag,
            _age(line.oldest_unprocessed_age_s),
        )
    console.print(table)
    dead = "—" if status.dead_letters is None else str(status.dead_letters)
    console.print(f"dead letters (hocba.sync.dlq, not replayed): {dead}")
    console.print(f"national-sync breaker: {status.breaker or '— (not running)'}")
    console.print(f"last record stored: {status.last_stored_at or '—'}")
    console.print(f"last delivered to the national database: {status.last_synced_at or '—'}")
    for problem in status.problems:
        console.print(f"[red]{problem}[/red]")


def _run(args: argparse.Namespace) -> int:
    try:
        status = asyncio.run(collect(args.interval))
    except (ConfigError, ValueError) as exc:  # a malformed HOCBA_* setting
        print(f"hocba status: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = asdict(status)
        data["healthy"] = status.healthy
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print(status)
    return 0 if status.healthy else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="the platform on one screen: stages, lag, oldest unprocessed event, DLQ, breaker",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help="seconds between the two scrapes that give the rates (default 2)",
    )
    parser.set_defaults(handler=_run)
