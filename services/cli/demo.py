"""``hocba demo``: a synthetic school year through the running platform, end to end.

1. checks the local stack; registers a demo vendor, a token and its schools;
2. starts ingestion, validation, signing, storage, the national database simulator and
   national sync (unless they already answer), the signing service with the development
   PKI (``services.cli.devsigning``);
3. generates a school year (``services.core.synthetic``), publishes its vendor events
   — most over Kafka, a share over ``POST /v1/events`` —;
4. approves every validated record as its homeroom teacher and principal would
   (SignatureApproval events); the signing service signs each page three times (teacher,
   principal, school seal) with timestamps and validation data, and storage keeps it;
5. follows ``hocba.records.stored``, ``hocba.sync.status``, ``hocba.records.invalid`` and
   ``hocba.events.rejected`` until every generated record is accounted for: each valid
   record signed, stored and delivered to the national database (the project's simulator,
   ``hocba run national-sim``, started with national sync), each planted error refused with
   its code;
6. prints a summary and stops the services it started.

The pieces (:func:`school_year`, :func:`prepare_vendor`, :func:`publish_kafka`,
:func:`publish_http`, :class:`OutcomeWatch`) are reused by the end-to-end tests and
the pipeline benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.cli.devsigning import dev_signing
from services.cli.supervisor import ServiceNotReadyError, ServiceProcesses
from services.core.avro_types import SignerRole, VendorEvent
from services.core.events import vendor_events
from services.core.record import key_of
from services.core.record import record_key as core_record_key
from services.core.synthetic import GeneratedRecord, GeneratorSettings, generate_school_year
from services.ingestion.store import VendorExistsError
from services.ingestion.vendors import PostgresVendorStore
from services.messaging.codec import Decoded, default_codec
from services.messaging.jsonform import to_json
from services.messaging.kafka import KafkaSettings, make_producer, record_key
from services.messaging.schemas import default_registry
from services.messaging.topics import (
    EVENTS_REJECTED,
    RECORDS_INVALID,
    RECORDS_STORED,
    RECORDS_VALIDATED,
    SYNC_STATUS,
    VENDOR_EVENTS,
)
from services.stack import StackSettings, status
from services.stack.kafka_topics import topic_partitions

__all__ = [
    "Approvals",
    "DemoYear",
    "OutcomeWatch",
    "approval_event",
    "approval_events",
    "prepare_vendor",
    "publish_http",
    "publish_kafka",
    "register",
    "school_year",
]

_PIPELINE = ("ingestion", "validation", "signing", "storage", "national-sim", "national-sync")
_HTTP_BATCH = 500
# Codes a year-end submission cannot express (it always carries a completion).
_NOT_EXPRESSIBLE_AS_EVENTS = frozenset({"E_COMPLETION_MISSING"})


@dataclass(frozen=True)
class DemoYear:
    """A generated school year and the vendor events that carry it."""

    records: list[GeneratedRecord]
    events: list[VendorEvent]

    @property
    def school_codes(self) -> set[str]:
        return {event["school_code"] for event in self.events}

    def key_of(self, generated: GeneratedRecord) -> str:
        return core_record_key(generated.record)


def school_year(settings: GeneratorSettings, seed: int, vendor_id: str) -> DemoYear:
    """Generate records and their events (planted errors included), reproducibly."""
    settings = GeneratorSettings(
        school_year=settings.school_year,
        schools=settings.schools,
        classes_per_grade=settings.classes_per_grade,
        students_per_class=settings.students_per_class,
        grades=settings.grades,
        invalid_share=settings.invalid_share,
        exclude_codes=settings.exclude_codes | _NOT_EXPRESSIBLE_AS_EVENTS,
    )
    records = list(generate_school_year(settings, seed=seed))
    rng = random.Random(seed)
    events = [e for r in records for e in vendor_events(r.record, vendor_id, rng)]
    return DemoYear(records, events)


async def prepare_vendor(
    dsn: str, vendor_id: str, school_codes: Iterable[str], valid_from: dt.date
) -> str:
    """Register the vendor (idempotent), assign its schools, and return a new API token."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        store = PostgresVendorStore(pool)
        with contextlib.suppress(VendorExistsError):  # registered by an earlier run
            await store.add_vendor(vendor_id, f"Demo vendor {vendor_id}")
        for school_code in sorted(set(school_codes)):
            await store.assign(vendor_id, school_code, valid_from, None)
        return (await store.issue_token(vendor_id)).token
    finally:
        await pool.close()


async def publish_kafka(kafka: KafkaSettings, events: Sequence[VendorEvent]) -> None:
    """Publish events to ``hocba.vendor.events`` as a vendor with Kafka would."""
    codec = default_codec()
    producer = make_producer(kafka)
    await producer.start()
    try:
        for event in events:
            key = record_key(event["school_code"], event["student_id"], event["school_year"])
            await producer.send(
                VENDOR_EVENTS.name, codec.encode(VENDOR_EVENTS.value_schema, dict(event)), key=key
            )
        await producer.flush()
    finally:
        await producer.stop()


async def publish_http(url: str, token: str, events: Sequence[VendorEvent]) -> Counter[str]:
    """POST events in batches to ``/v1/events``; return the count of each answer status."""
    schema = default_registry().current(VENDOR_EVENTS.value_schema)
    answers: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for start in range(0, len(events), _HTTP_BATCH):
            body = {
                "events": [to_json(schema, dict(e)) for e in events[start : start + _HTTP_BATCH]]
            }
            async with session.post(url, json=body) as response:
                response.raise_for_status()
                answer = await response.json()
            answers.update(result["status"] for result in answer["results"])
    return answers


def approval_event(
    vendor_id: str, record_key: str, role: SignerRole, signer_id: str, version: int = 1
) -> VendorEvent:
    """A signer's SignatureApproval of a record version, as a vendor's application sends it."""
    school_code, student_id, school_year = record_key.split("|")
    return {
        "event_id": str(uuid.uuid4()),
        "vendor_id": vendor_id,
        "occurred_at": dt.datetime.now(dt.UTC),
        "school_code": school_code,
        "student_id": student_id,
        "school_year": school_year,
        "payload": (
            "vn.edu.hocba.SignatureApproval",
            {"role": role, "signer_id": signer_id, "version": version, "record_sha256": None},
        ),
        "correlation_id": None,
    }


def approval_events(vendor_id: str, record_key: str, version: int = 1) -> list[VendorEvent]:
    """The dev homeroom teacher's, then the dev principal's approval of a record version."""
    return [
        approval_event(vendor_id, record_key, "HOMEROOM_TEACHER", "dev-gvcn", version),
        approval_event(vendor_id, record_key, "PRINCIPAL", "dev-hieu-truong", version),
    ]


@dataclass
class Approvals:
    """Approves each validated record as its signers would, re-sending while it is not ready.

    An approval can overtake its record (they travel different paths to the signing
    service) and be refused with E_APPROVAL_NO_PENDING_RECORD: it is sent again, with new
    event ids, a moment later, as a vendor's application would.
    """

    kafka: KafkaSettings
    vendor_id: str
    attempts: dict[str, int] = field(default_factory=dict)
    _answered: dict[str, int] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)

    async def follow(self, watch: OutcomeWatch, max_attempts: int = 10) -> None:
        """Approve records newly validated, and re-send refused-too-early approvals when due."""
        due: list[str] = []
        now = time.monotonic()
        for key in watch.judged_at.keys() - watch.invalid.keys():
            refusals = watch.signing_refusals.get(key, [])
            if key not in self.attempts:
                due.append(key)
            elif len(refusals) > self._answered.get(key, 0):
                self._answered[key] = len(refusals)
                if "E_APPROVAL_NO_PENDING_RECORD" in refusals[-2:]:
                    self._retry_at[key] = now + 1.0
            if key in self._retry_at and self._retry_at[key] <= now:
                if self.attempts.get(key, 0) < max_attempts:
                    due.append(key)
                del self._retry_at[key]
        if not due:
            return
        for key in due:
            self.attempts[key] = self.attempts.get(key, 0) + 1
        await publish_kafka(
            self.kafka, [e for key in due for e in approval_events(self.vendor_id, key)]
        )


@dataclass
class OutcomeWatch:
    """Follows the outcome topics from their current end, for a set of record keys."""

    kafka: KafkaSettings
    keys: set[str]
    stored: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, set[str]] = field(default_factory=dict)
    rejected: dict[str, set[str]] = field(default_factory=dict)
    first_stored_at: dict[str, float] = field(default_factory=dict)
    #: When each record left validation (validated or invalid), for stage timings.
    judged_at: dict[str, float] = field(default_factory=dict)
    #: When an event of the record was last refused (by ingestion or validation).
    refused_at: dict[str, float] = field(default_factory=dict)
    #: Codes of refused signature approvals, per record, in arrival order.
    signing_refusals: dict[str, list[str]] = field(default_factory=dict)
    #: Records whose stored version the national database acknowledged (201 or 200).
    synced: dict[str, str] = field(default_factory=dict)
    #: The lookup code (mã số tra cứu) of each stored record.
    lookup_codes: dict[str, str] = field(default_factory=dict)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Remember where the outcome topics end now: only later messages count."""
        topics = [
            RECORDS_STORED.name,
            SYNC_STATUS.name,
            RECORDS_VALIDATED.name,
            RECORDS_INVALID.name,
            EVENTS_REJECTED.name,
        ]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        await admin.start()
        try:
            counts = await topic_partitions(admin)
        finally:
            await admin.close()
        partitions = [TopicPartition(t, p) for t in topics for p in range(counts.get(t, 0))]
        await consumer.start()
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything is published
            await consumer.position(tp)
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    def judged(self, year: DemoYear) -> bool:
        """Every valid record out of validation, every invalid one answered with a refusal."""
        return self._accounted_for(year, self.judged_at)

    def settled(self, year: DemoYear) -> bool:
        """Every valid record stored, every invalid one answered with a refusal."""
        return self._accounted_for(year, self.stored)

    def synced_all(self, year: DemoYear) -> bool:
        """Every valid record delivered to the national database, every invalid one refused."""
        return self._accounted_for(year, self.synced)

    def _accounted_for(self, year: DemoYear, valid_reached: Mapping[str, object]) -> bool:
        for generated in year.records:
            key = year.key_of(generated)
            if generated.expected_codes:
                if key not in self.invalid and key not in self.rejected:
                    return False
            elif key not in valid_reached:
                return False
        return True

    async def poll(self, timeout_ms: int = 500) -> int:
        assert self._consumer is not None, "start() first"
        codec = default_codec()
        seen = 0
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        for tp, messages in batches.items():
            if tp.topic == RECORDS_VALIDATED.name:
                # Keyed by the record key: no need to decode a whole validated record.
                for message in messages:
                    key = (message.key or b"").decode(errors="replace")
                    if key in self.keys:
                        self.judged_at.setdefault(key, time.monotonic())
                continue
            if tp.topic == SYNC_STATUS.name:  # keyed by the record key too
                for message in messages:
                    key = (message.key or b"").decode(errors="replace")
                    if key not in self.keys:
                        continue
                    status = codec.decode(message.value or b"")
                    if isinstance(status, Decoded) and status.value["outcome"] in _SYNCED:
                        self.synced[key] = status.value["outcome"]
                continue
            for message in messages:
                decoded = codec.decode(message.value or b"")
                if not isinstance(decoded, Decoded):
                    continue
                value = decoded.value
                if tp.topic == RECORDS_STORED.name and value["record_key"] in self.keys:
                    self.stored[value["record_key"]] = value["version"]
                    if value["lookup_code"] is not None:
                        self.lookup_codes[value["record_key"]] = value["lookup_code"]
                    self.first_stored_at.setdefault(value["record_key"], time.monotonic())
                    seen += 1
                elif tp.topic == RECORDS_INVALID.name and value["record_key"] in self.keys:
                    codes = {f["code"] for f in value["findings"] if f["severity"] == "ERROR"}
                    self.invalid[value["record_key"]] = codes
                    self.judged_at.setdefault(value["record_key"], time.monotonic())
                    seen += 1
                elif tp.topic == EVENTS_REJECTED.name:
                    key = key_of(value["school_code"], value["student_id"], value["school_year"])
                    if key not in self.keys:
                        continue
                    codes = {f["code"] for f in value["findings"]}
                    if value["stage"] == "SIGNING":  # an approval, not the record, refused
                        self.signing_refusals.setdefault(key, []).extend(sorted(codes))
                        continue
                    self.rejected.setdefault(key, set()).update(codes)
                    self.refused_at[key] = time.monotonic()
                    seen += 1
        return seen


_SYNCED = frozenset({"DELIVERED", "ALREADY_PRESENT"})


def _summary(year: DemoYear, watch: OutcomeWatch, elapsed: float, http: Counter[str]) -> Table:
    valid = [r for r in year.records if not r.expected_codes]
    planted = [r for r in year.records if r.expected_codes]
    caught = sum(
        1
        for r in planted
        if set(r.expected_codes)
        <= (watch.invalid.get(year.key_of(r), set()) | watch.rejected.get(year.key_of(r), set()))
    )
    refusals: Counter[str] = Counter()
    for codes in (*watch.invalid.values(), *watch.rejected.values()):
        refusals.update(codes)
    table = Table(title=f"Demo school year {year.records[0].record['school_year']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    schools = {r.record["school"]["school_code"] for r in valid}  # not the planted bad codes
    table.add_row("schools", str(len(schools)))
    table.add_row("students (year records)", str(len(year.records)))
    table.add_row("vendor events published", str(len(year.events)))
    table.add_row(
        "  of which over HTTP (accepted/duplicate/rejected)",
        f"{sum(http.values())} ({http['accepted']}/{http['duplicate']}/{http['rejected']})",
    )
    table.add_row(
        "valid records signed (teacher, principal, seal) and stored",
        f"{len(watch.stored)} / {len(valid)}",
    )
    table.add_row(
        "  of which delivered to the national database (simulator)",
        f"{len(watch.synced)} / {len(valid)}",
    )
    table.add_row(
        "records with planted errors refused with their codes", f"{caught} / {len(planted)}"
    )
    for code, count in sorted(refusals.items()):
        table.add_row(f"  refusals with {code}", str(count))
    table.add_row(
        "elapsed", f"{elapsed:.1f} s ({len(year.events) / max(elapsed, 1e-9):,.0f} events/s)"
    )
    return table


async def _demo(args: argparse.Namespace, console: Console) -> int:
    stack = StackSettings.from_env()
    unhealthy = [c.name for c in await status(stack) if not c.healthy]
    if unhealthy:
        console.print(
            f"[red]the local stack is not healthy ({', '.join(unhealthy)}): "
            "run `hocba stack up` first[/red]"
        )
        return 1
    seed = args.seed if args.seed is not None else int(time.time())
    settings = GeneratorSettings(
        school_year=args.school_year,
        schools=args.schools,
        students_per_class=args.students,
        invalid_share=args.invalid_share,
    )
    year = school_year(settings, seed, args.vendor)
    console.print(
        f"generated {len(year.records)} year records, {len(year.events)} vendor events "
        f"(seed {seed}; reproduce with --seed {seed})"
    )
    start_year = int(args.school_year[:4])
    token = await prepare_vendor(
        stack.pg_dsn, args.vendor, year.school_codes, dt.date(start_year, 8, 1)
    )
    kafka = KafkaSettings.from_env()
    processes = ServiceProcesses(stack.state_dir / "logs" / "demo")
    with dev_signing(stack.state_dir, processes.env) as signing_env:
        processes.env.update(signing_env)
        return await _run_demo(args, console, year, token, kafka, processes)


async def _run_demo(
    args: argparse.Namespace,
    console: Console,
    year: DemoYear,
    token: str,
    kafka: KafkaSettings,
    processes: ServiceProcesses,
) -> int:
    approvals = Approvals(kafka, args.vendor)
    try:
        for name in _PIPELINE:
            if processes.already_running(name):
                console.print(f"{name}: already running, using it")
            else:
                processes.start(name)
                console.print(f"{name}: started (log {processes.log_dir / (name + '.log')})")
        watch = OutcomeWatch(kafka, {year.key_of(r) for r in year.records})
        await watch.start()
        try:
            by_student: dict[str, list[VendorEvent]] = {}
            for event in year.events:
                by_student.setdefault(event["student_id"], []).append(event)
            students = sorted(by_student)
            over_http = set(students[: int(len(students) * args.http_share)])
            started = time.monotonic()
            http = await publish_http(
                processes.url("ingestion", "/v1/events"),
                token,
                [e for s in students if s in over_http for e in by_student[s]],
            )
            await publish_kafka(
                kafka, [e for s in students if s not in over_http for e in by_student[s]]
            )
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(
                    "waiting for every record's outcome", total=len(year.records)
                )
                deadline = time.monotonic() + args.timeout
                while not watch.synced_all(year) and time.monotonic() < deadline:
                    await watch.poll()
                    await approvals.follow(watch)
                    progress.update(
                        task,
                        completed=len(watch.stored)
                        + len(watch.invalid.keys() | watch.rejected.keys()),
                    )
            elapsed = time.monotonic() - started
        finally:
            await watch.stop()
        tried = await _try_one(processes, year, watch)
    except ServiceNotReadyError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    finally:
        if not args.keep_running:
            processes.stop_all()
    console.print(_summary(year, watch, elapsed, http))
    if tried is not None:
        console.print(tried)
    if not watch.synced_all(year):
        console.print(f"[red]not every record had an outcome after {args.timeout:.0f} s[/red]")
        return 1
    return 0


async def _try_one(
    processes: ServiceProcesses, year: DemoYear, watch: OutcomeWatch
) -> Table | None:
    """Look one stored record up (code + date of birth) and verify its PDF, as a parent and
    a receiving school would: what the storage API answers, for the reader to try next."""
    stored = [r for r in year.records if year.key_of(r) in watch.lookup_codes]
    if not stored:
        return None
    chosen = stored[0]
    code = watch.lookup_codes[year.key_of(chosen)]
    birth = chosen.record["student"]["date_of_birth"]
    birth_text = birth.isoformat() if isinstance(birth, dt.date) else str(birth)
    table = Table(title="One record to try (tra cứu và xác minh)")
    table.add_column("what")
    table.add_column("answer", overflow="fold")
    table.add_row("lookup code / date of birth", f"{code} / {birth_text}")
    table.add_row("web page", processes.url("storage", f"/tra-cuu/{code}"))
    try:
        await _ask_storage(processes, code, birth_text, table)
    except (aiohttp.ClientError, TimeoutError) as exc:
        table.add_row("storage", f"did not answer: {exc!r}")
    return table


async def _ask_storage(
    processes: ServiceProcesses, code: str, birth_text: str, table: Table
) -> None:
    lookup_url = processes.url("storage", f"/v1/records/{code}")
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = {"X-Birth-Date": birth_text}
        async with session.get(lookup_url, headers=headers) as answer:
            found = await answer.json() if answer.status == 200 else None
            table.add_row(
                "GET /v1/records/{code}",
                f"{answer.status}: {found['student_name']}" if found else str(answer.status),
            )
        async with session.get(f"{lookup_url}/pdf", headers=headers) as answer:
            pdf = await answer.read() if answer.status == 200 else b""
            table.add_row("GET /v1/records/{code}/pdf", f"{answer.status}, {len(pdf):,} bytes")
        if pdf:
            async with session.post(
                processes.url("storage", "/v1/verify"),
                data=pdf,
                headers={"Content-Type": "application/pdf"},
            ) as answer:
                verdict = await answer.json() if answer.status == 200 else None
                table.add_row(
                    "POST /v1/verify",
                    f"{answer.status}: signatures "
                    f"{'valid' if verdict['report']['valid'] else 'NOT valid'}, platform: "
                    f"{verdict['platform']['status']}"
                    if verdict
                    else str(answer.status),
                )


def _handle(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args, Console(stderr=False)))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a synthetic school year through the platform, end to end",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--seed", type=int, default=None, help="generator seed (default: the time)")
    parser.add_argument("--school-year", default="2024-2025")
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--students", type=int, default=10, help="students per class")
    parser.add_argument(
        "--invalid-share",
        type=float,
        default=0.1,
        help="share of records with planted errors (default 0.1)",
    )
    parser.add_argument(
        "--http-share",
        type=float,
        default=0.2,
        help="share of students whose events go over HTTP (default 0.2)",
    )
    parser.add_argument("--vendor", default=os.environ.get("HOCBA_DEMO_VENDOR", "demo-vendor"))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for outcomes")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the services it started running"
    )
    parser.set_defaults(handler=_handle)
