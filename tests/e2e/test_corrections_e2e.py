"""A signed year page corrected twice (đính chính), through the service processes.

One generated student-year goes through ingestion → validation → signing (the dev PKI:
teacher, principal, school seal, document timestamp) → storage → national sync (to the
project's simulator). Then, twice, the vendor changes the year and sends a
RecordCorrection with a reason: each time a new version supersedes the last, printed
with its reason, signed through the same approvals, stored and delivered. At every step
each stored version verifies offline and only the newest is current. A change without a
new RecordCorrection is refused to the vendor (E_CORRECTION_REASON_REQUIRED) and stores
nothing.

The services use a PostgreSQL schema of this module (migrations applied there), national
sync its own consumer group, status and dead-letter topics; the pipeline's topics are the
platform's, as in test_pipeline_e2e.py, and the student-year is new on every run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.cli.demo import (
    OutcomeWatch,
    approval_events,
    prepare_vendor,
    publish_kafka,
    school_year,
)
from services.cli.supervisor import ServiceProcesses
from services.core.avro_types import VendorEvent
from services.core.record_page import SIGNATURE_FIELDS
from services.core.synthetic import GeneratorSettings
from services.messaging.kafka import KafkaSettings
from services.signing.registry import load_registry
from services.stack import StackSettings
from services.stack.migrations import apply_migrations
from services.verification import load_trust_roots, verify_pdf
from tests.e2e.conftest import PIPELINE
from tests.ports import free_port

pytestmark = pytest.mark.e2e

STACK = StackSettings.from_env()
KAFKA = KafkaSettings.from_env()
VENDOR = "e2e-corrections"
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
REASONS = (
    "Sửa số ngày nghỉ học theo sổ điểm danh của lớp (lý do 1)",
    "Cập nhật lại số ngày nghỉ sau khi đối chiếu với phụ huynh (lý do 2)",
)
STEP_TIMEOUT_S = 120.0


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    name = f"e2e_corr_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(STACK.pg_dsn)
    try:
        await admin.execute(f"CREATE SCHEMA {name}")
        await apply_migrations(STACK.pg_dsn, MIGRATIONS, schema=name)
        yield name
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await admin.close()


@pytest.fixture
async def sync_topics() -> AsyncIterator[dict[str, str]]:
    run = uuid.uuid4().hex[:8]
    names = {kind: f"test.corrections.{run}.{kind}" for kind in ("status", "dlq")}
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=1, replication_factor=1) for n in names.values()]
        )
        yield names
    finally:
        await admin.delete_topics(list(names.values()))
        await admin.close()


@pytest.fixture
def platform(
    services: ServiceProcesses, pg_schema: str, sync_topics: dict[str, str]
) -> ServiceProcesses:
    services.env.update(
        {
            "HOCBA_PG_DSN": f"{STACK.pg_dsn}?search_path={pg_schema}",
            "HOCBA_NATIONAL_SIM_PORT": str(free_port()),
            "HOCBA_SYNC_PORT": str(free_port()),
            "HOCBA_SYNC_GROUP": f"test-corrections-{uuid.uuid4().hex[:8]}",
            "HOCBA_SYNC_STATUS_TOPIC": sync_topics["status"],
            "HOCBA_SYNC_DLQ_TOPIC": sync_topics["dlq"],
        }
    )
    services.env["HOCBA_NATIONAL_URL"] = services.url("national-sim", "")
    return services


class Vendor:
    """The vendor's side of one student-year: its events, approvals and what came back."""

    def __init__(self, key: str, watch: OutcomeWatch) -> None:
        self.key = key
        self.watch = watch
        self.school_code, self.student_id, self.school_year = key.split("|")

    def event(self, payload: Any) -> VendorEvent:
        return {
            "event_id": str(uuid.uuid4()),
            "vendor_id": VENDOR,
            "occurred_at": dt.datetime.now(dt.UTC),
            "school_code": self.school_code,
            "student_id": self.student_id,
            "school_year": self.school_year,
            "payload": payload,
            "correlation_id": None,
        }

    def correction(self, reason: str) -> VendorEvent:
        return self.event(
            ("vn.edu.hocba.RecordCorrection", {"reason": reason, "requested_by": "gvcn-e2e"})
        )

    def year_end(self, year_end: VendorEvent, days_absent: int) -> VendorEvent:
        """The year-end submission sent again, changed: another number of days absent."""
        kind, payload = year_end["payload"]
        return self.event((kind, {**payload, "days_absent": days_absent}))

    def refusals(self) -> list[str]:
        return list(self.watch.signing_refusals.get(self.key, []))

    async def until(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await self.watch.poll(timeout_ms=300)

    async def approve(self, version: int) -> None:
        """Teacher and principal approve ``version``, again while it is not pending yet (an
        approval may overtake its record), until the version is stored."""
        for _ in range(10):
            seen = len(self.refusals())

            def answered(seen: int = seen) -> bool:
                return self.watch.stored.get(self.key) == version or len(self.refusals()) > seen

            await publish_kafka(KAFKA, approval_events(VENDOR, self.key, version))
            await self.until(f"version {version} stored or its approval refused", answered)
            if self.watch.stored.get(self.key) == version:
                return
            assert set(self.refusals()[seen:]) <= {"E_APPROVAL_NO_PENDING_RECORD"}, self.refusals()
            await asyncio.sleep(1.0)
        raise AssertionError(f"version {version} was never pending for its approvals")


async def stored_versions(key: str, schema: str) -> list[dict[str, Any]]:
    """Every stored version of the page, with whether the platform holds it current."""
    connection = await asyncpg.connect(STACK.pg_dsn, server_settings={"search_path": schema})
    try:
        rows = await connection.fetch(
            "SELECT v.version, v.supersedes_version, v.correction_reason, v.pdf, "
            "v.content_sha256, v.record->>'days_absent' AS days_absent, "
            "c.version IS NOT NULL AS current "
            "FROM record_versions v LEFT JOIN current_versions c "
            "ON (c.record_id, c.school_year, c.version) = (v.record_id, v.school_year, v.version) "
            "WHERE v.record_key = $1 ORDER BY v.version",
            key,
        )
    finally:
        await connection.close()
    return [dict(row) for row in rows]


async def check_versions(
    key: str, schema: str, roots: Any, expected: list[tuple[int | None, str | None]]
) -> list[dict[str, Any]]:
    """The page has exactly the ``expected`` (supersedes, reason) versions, 1..n; each
    verifies offline, the newest is current and every other superseded."""
    versions = await stored_versions(key, schema)
    assert [v["version"] for v in versions] == list(range(1, len(expected) + 1))
    assert [(v["supersedes_version"], v["correction_reason"]) for v in versions] == expected
    assert [v["current"] for v in versions] == [False] * (len(expected) - 1) + [True]
    for stored in versions:
        report = await verify_pdf(
            bytes(stored["pdf"]),
            roots,
            online=False,
            expected_record_sha256=bytes(stored["content_sha256"]).hex(),
        )
        assert report.valid, (stored["version"], report.problems)
        assert report.level == "B-LTA" and report.seal_lock_holds is True
        assert [s.field_name for s in report.signatures] == [
            SIGNATURE_FIELDS[role] for role in ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL")
        ]
    return versions


def pdf_text(pdf: bytes) -> str:
    done = subprocess.run(
        ["/usr/bin/pdftotext", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return " ".join(done.stdout.decode("utf-8").split())


def held_by_simulator(platform: ServiceProcesses) -> dict[tuple[str, int], int]:
    """(record id, version) → how many times the simulator stored it (PUT answered 201)."""
    with urllib.request.urlopen(platform.url("national-sim", "/admin/stats"), timeout=10) as r:
        stats = json.loads(r.read())
    return {(v["record_id"], v["version"]): v["creates"] for v in stats["versions"]}


async def test_a_page_corrected_twice_keeps_three_verifiable_versions_and_refuses_a_silent_change(
    platform: ServiceProcesses, pg_schema: str, signing_env: dict[str, str]
) -> None:
    settings = GeneratorSettings(schools=1, students_per_class=1, grades=(3,), invalid_share=0.0)
    year = school_year(settings, seed=time.time_ns() % 2**32, vendor_id=VENDOR)
    generated = year.records[0]
    key = year.key_of(generated)
    events = [
        e for e in year.events if e["student_id"] == generated.record["student"]["student_id"]
    ]
    year_end = events[-1]
    assert year_end["payload"][0] == "vn.edu.hocba.YearEndSubmission"
    days = generated.record["days_absent"] or 0
    roots = load_trust_roots(load_registry(Path(signing_env["HOCBA_SIGNERS_FILE"])).trust_roots)
    await prepare_vendor(
        platform.env["HOCBA_PG_DSN"], VENDOR, {key.split("|")[0]}, dt.date(2024, 8, 1)
    )
    for name in (*PIPELINE, "national-sim", "national-sync"):
        platform.start(name)
    watch = OutcomeWatch(KAFKA, {key})
    await watch.start()
    vendor = Vendor(key, watch)
    try:
        # Version 1: the year as the vendor sent it, signed and stored.
        await publish_kafka(KAFKA, events)
        await vendor.until("the record validated", lambda: key in watch.judged_at)
        await vendor.approve(1)
        (first,) = await check_versions(key, pg_schema, roots, [(None, None)])
        assert "Đính chính" not in pdf_text(bytes(first["pdf"]))

        # Version 2: a change, then its RecordCorrection. The change alone is refused.
        await publish_kafka(
            KAFKA, [vendor.year_end(year_end, days + 1), vendor.correction(REASONS[0])]
        )
        await vendor.until(
            "the change refused", lambda: "E_CORRECTION_REASON_REQUIRED" in vendor.refusals()
        )
        await vendor.approve(2)
        versions = await check_versions(key, pg_schema, roots, [(None, None), (1, REASONS[0])])
        assert versions[1]["days_absent"] == str(days + 1)
        assert f"Đính chính phiên bản 1: {REASONS[0]}" in pdf_text(bytes(versions[1]["pdf"]))

        # Version 3: the RecordCorrection first this time, then the change it is for.
        refused = len(vendor.refusals())
        await publish_kafka(
            KAFKA, [vendor.correction(REASONS[1]), vendor.year_end(year_end, days + 2)]
        )
        await vendor.approve(3)
        # (Approvals that overtook the record were refused and sent again, nothing else.)
        assert set(vendor.refusals()[refused:]) <= {"E_APPROVAL_NO_PENDING_RECORD"}
        versions = await check_versions(
            key, pg_schema, roots, [(None, None), (1, REASONS[0]), (2, REASONS[1])]
        )
        assert versions[2]["days_absent"] == str(days + 2)
        assert f"Đính chính phiên bản 2: {REASONS[1]}" in pdf_text(bytes(versions[2]["pdf"]))

        # A change without a new RecordCorrection: refused, nothing waits, nothing stored.
        await publish_kafka(KAFKA, [vendor.year_end(year_end, days + 3)])
        await vendor.until(
            "the silent change refused",
            lambda: vendor.refusals()[refused:].count("E_CORRECTION_REASON_REQUIRED") == 1,
        )
        await publish_kafka(KAFKA, approval_events(VENDOR, key, 4)[:1])
        await vendor.until(
            "the approval of a version 4 refused",
            lambda: vendor.refusals()[-1:] == ["E_APPROVAL_NO_PENDING_RECORD"],
        )
        await check_versions(
            key, pg_schema, roots, [(None, None), (1, REASONS[0]), (2, REASONS[1])]
        )

        # National sync delivered every version to the national database (the simulator).
        record_id = await _record_id(key, pg_schema)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while {v: held_by_simulator(platform).get((record_id, v)) for v in (1, 2, 3)} != {
            1: 1,
            2: 1,
            3: 1,
        }:
            assert time.monotonic() < deadline, held_by_simulator(platform)
            await asyncio.sleep(0.5)
    finally:
        await watch.stop()


async def _record_id(key: str, schema: str) -> str:
    connection = await asyncpg.connect(STACK.pg_dsn, server_settings={"search_path": schema})
    try:
        value = await connection.fetchval(
            "SELECT record_id FROM record_versions WHERE record_key = $1 LIMIT 1", key
        )
    finally:
        await connection.close()
    assert isinstance(value, str)
    return value
