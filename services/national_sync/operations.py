"""What operators do with national sync (``hocba sync status|replay|reconcile``), as functions.

* :func:`sync_status`: backlog (messages on ``hocba.records.stored`` the sync group has not
  committed), dead letters, last delivery, versions by state, and — when the service
  answers — its breaker state and backlog age from its ``/metrics``;
* :func:`replay`: re-drive dead letters (``hocba.sync.dlq``), chosen by school and/or reason,
  by publishing their StoredRecord again on ``hocba.records.stored``; each is marked
  REPLAY_REQUESTED so it is not replayed twice, and the service's next attempt decides;
* :func:`reconcile`: per school year, compare the platform's signed versions with the
  national side's summary (count and combined hash, :func:`services.core.national.
  combined_sha256`); where they differ, list the versions missing there, present there with
  another PDF hash, and present only there; given a ``requeue`` function, hand it the
  missing ones (``hocba sync reconcile`` re-publishes them, rebuilt from storage, on
  ``hocba.records.stored``, so national sync delivers them as any other version).

Every function takes a ``progress`` callback ``(done, total)`` for long runs.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from services.core.national import VersionKey, combined_sha256
from services.messaging.codec import AvroCodec, Decoded
from services.messaging.kafka import (
    KafkaSettings,
    make_consumer,
    make_producer,
    partitions_of,
    uncommitted_ranges,
)
from services.national_sync.client import NationalClient
from services.national_sync.store import SyncStore

__all__ = [
    "ReconcileReport",
    "ReplayReport",
    "SchoolYearDiff",
    "StatusReport",
    "reconcile",
    "replay",
    "sync_status",
]

Progress = Callable[[int, int], None]
#: Re-queues versions for delivery; returns those it re-queued.
Requeue = Callable[[Sequence[VersionKey]], Awaitable[list[VersionKey]]]
STORED = "vn.edu.hocba.StoredRecord"
DEAD_LETTER = "vn.edu.hocba.DeadLetter"


def _no_progress(done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class StatusReport:
    backlog_messages: int
    backlog_exact: bool  # False: an upper bound from offsets (a very large backlog)
    by_state: dict[str, int]
    dead_letters: int
    last_delivered_at: str | None
    signed_versions: int
    service: dict[str, float] | None  # breaker state, backlog age, ... when it answers

    def as_json(self) -> dict[str, Any]:
        return {
            "backlog_messages": self.backlog_messages,
            "backlog_exact": self.backlog_exact,
            "dead_letters": self.dead_letters,
            "last_delivered_at": self.last_delivered_at,
            "signed_versions": self.signed_versions,
            "by_state": self.by_state,
            "service": self.service,
        }


#: Above this many offsets behind, the backlog is reported from offsets alone (not counted).
_COUNT_LIMIT = 50_000


async def _backlog(kafka: KafkaSettings, topic: str, group_id: str) -> tuple[int, bool]:
    """Messages on ``topic`` that ``group_id`` has not committed yet, and whether exact.

    The topic is written in Kafka transactions, whose commit markers take offsets too: a
    gap of offsets is counted message by message (read_committed) when it is small, and
    given as an upper bound when it is larger than ``_COUNT_LIMIT``.
    """
    ranges = await uncommitted_ranges(kafka, group_id, [topic])
    offsets = sum(end - first for first, end in ranges.values())
    if offsets > _COUNT_LIMIT:
        return offsets, False
    return len(await _read_ranges(kafka, ranges)), True


_SERVICE_GAUGES = {
    "hocba_sync_breaker_state": "breaker_state",
    "hocba_sync_backlog_age_seconds": "backlog_age_seconds",
    "hocba_sync_dlq_size": "dlq_size",
    "hocba_sync_last_success_timestamp_seconds": "last_success_unix",
}


def _scrape(metrics_url: str) -> dict[str, float] | None:
    """The service's own gauges from its ``/metrics``; None when it does not answer."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=2) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    found: dict[str, float] = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in _SERVICE_GAUGES:
            found[_SERVICE_GAUGES[name]] = float(line.rsplit(" ", 1)[1])
    return found


async def sync_status(
    pool: asyncpg.Pool,
    kafka: KafkaSettings,
    *,
    stored_topic: str,
    group_id: str,
    metrics_url: str,
) -> StatusReport:
    totals = await SyncStore(pool).totals()
    backlog, exact = await _backlog(kafka, stored_topic, group_id)
    return StatusReport(
        backlog_messages=backlog,
        backlog_exact=exact,
        by_state=totals.by_state,
        dead_letters=totals.by_state.get("DEAD_LETTERED", 0),
        last_delivered_at=(
            totals.last_delivered_at.isoformat() if totals.last_delivered_at else None
        ),
        signed_versions=totals.signed_versions,
        service=_scrape(metrics_url),
    )


@dataclass
class ReplayReport:
    replayed: list[VersionKey] = field(default_factory=list)
    skipped_not_dead: int = 0  # letters whose version was delivered or replayed since
    not_matching: int = 0


async def _read_ranges(
    kafka: KafkaSettings,
    ranges: dict[TopicPartition, tuple[int, int]],
    progress: Progress = _no_progress,
) -> list[bytes]:
    """The values of the committed messages in each partition's [first, end) (no group)."""
    if not ranges:
        return []
    reader = make_consumer(kafka, group_id=None)
    await reader.start()
    try:
        reader.assign(list(ranges))
        for tp, (first, _end) in ranges.items():
            reader.seek(tp, first)
        total = sum(end - first for first, end in ranges.values())
        values: list[bytes] = []
        remaining = set(ranges)
        while remaining:
            batch = await reader.getmany(*remaining, timeout_ms=1000)
            values += [r.value or b"" for records in batch.values() for r in records]
            for tp in list(remaining):
                # An empty answer: only commit markers (or an open transaction) are left.
                if not batch or await reader.position(tp) >= ranges[tp][1]:
                    remaining.discard(tp)
            progress(len(values), total)
        return values
    finally:
        await reader.stop()


async def _read_topic(
    kafka: KafkaSettings, topic: str, codec: AvroCodec, expected: str, progress: Progress
) -> list[dict[str, Any]]:
    """Every message on ``topic`` from its beginning to its end now, decoded."""
    partitions = await partitions_of(kafka, [topic])
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    ranges = {tp: (starts[tp], ends[tp]) for tp in partitions if ends[tp] > starts[tp]}
    found: list[dict[str, Any]] = []
    for value in await _read_ranges(kafka, ranges, progress):
        decoded = codec.decode(value, expected=expected)
        if isinstance(decoded, Decoded):
            found.append(decoded.value)
    return found


async def replay(
    pool: asyncpg.Pool,
    kafka: KafkaSettings,
    codec: AvroCodec,
    *,
    dlq_topic: str,
    stored_topic: str,
    school_code: str | None = None,
    reason_code: str | None = None,
    dry_run: bool = False,
    progress: Progress = _no_progress,
) -> ReplayReport:
    """Re-drive the dead letters that match and are still dead (see the module docstring)."""
    store = SyncStore(pool)
    still_dead = {row.key for row in await store.dead_letters()}
    letters = await _read_topic(kafka, dlq_topic, codec, DEAD_LETTER, progress)
    report = ReplayReport()
    chosen: dict[VersionKey, dict[str, Any]] = {}
    for letter in letters:
        stored = letter["stored"]
        if (school_code and stored["school_code"] != school_code) or (
            reason_code and letter["reason_code"] != reason_code
        ):
            report.not_matching += 1
            continue
        key = VersionKey(stored["record_id"], stored["school_year"], stored["version"])
        if key not in still_dead:
            report.skipped_not_dead += 1
            continue
        chosen[key] = stored  # the latest letter of a version wins
    report.replayed = sorted(chosen)
    if dry_run or not chosen:
        return report
    producer = make_producer(kafka)
    await producer.start()
    try:
        sends = [
            await producer.send(
                stored_topic,
                codec.encode(STORED, stored),
                key=str(stored["record_key"]).encode(),
            )
            for stored in chosen.values()
        ]
        for sent in sends:
            await sent
    finally:
        await producer.stop()
    await store.mark_replay_requested(report.replayed)
    return report


@dataclass(frozen=True)
class SchoolYearDiff:
    school_code: str
    school_year: str
    local_count: int
    national_count: int
    missing: tuple[VersionKey, ...] = ()  # here, not there
    different: tuple[VersionKey, ...] = ()  # there with another PDF hash
    extra: tuple[VersionKey, ...] = ()  # there, not here

    @property
    def matches(self) -> bool:
        return not (self.missing or self.different or self.extra)


@dataclass
class ReconcileReport:
    checked: int = 0
    differences: list[SchoolYearDiff] = field(default_factory=list)
    repaired: list[VersionKey] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "school_years_checked": self.checked,
            "differences": [
                {
                    "school_code": d.school_code,
                    "school_year": d.school_year,
                    "local_count": d.local_count,
                    "national_count": d.national_count,
                    "missing": [str(k) for k in d.missing],
                    "different": [str(k) for k in d.different],
                    "extra": [str(k) for k in d.extra],
                }
                for d in self.differences
            ],
            "requeued": [str(k) for k in self.repaired],
        }


async def reconcile(
    pool: asyncpg.Pool,
    national: NationalClient,
    *,
    school_code: str | None = None,
    school_year: str | None = None,
    requeue: Requeue | None = None,
    progress: Progress = _no_progress,
) -> ReconcileReport:
    """Compare per school year; hand what the national side lacks to ``requeue``."""
    store = SyncStore(pool)
    pairs = [
        (school, year)
        for school, year in await store.school_years(school_code)
        if school_year is None or year == school_year
    ]
    report = ReconcileReport()
    for done, (school, year) in enumerate(pairs, start=1):
        local = dict(await store.local_versions(school, year))
        summary = await national.summary(school, year)
        report.checked += 1
        if int(summary["count"]) == len(local) and summary["combined_sha256"] == combined_sha256(
            local.items()
        ):
            progress(done, len(pairs))
            continue
        there = dict(await national.versions(school, year))
        report.differences.append(
            SchoolYearDiff(
                school,
                year,
                len(local),
                int(summary["count"]),
                missing=tuple(sorted(k for k in local if k not in there)),
                different=tuple(sorted(k for k in local if k in there and there[k] != local[k])),
                extra=tuple(sorted(k for k in there if k not in local)),
            )
        )
        progress(done, len(pairs))
    missing = [k for d in report.differences for k in d.missing]
    if requeue is not None and missing:
        report.repaired = await requeue(missing)
    return report
