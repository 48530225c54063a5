"""A generated school year through ingestion → validation → signing → storage, as processes.

Every valid record is approved by its (dev) teacher and principal, signed three times
and stored exactly once; every planted error is refused with its code; SIGKILLing
validation, signing and storage mid-stream loses and doubles nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import asyncpg
import pytest

from services.cli.demo import (
    Approvals,
    DemoYear,
    OutcomeWatch,
    prepare_vendor,
    publish_http,
    publish_kafka,
    school_year,
)
from services.cli.supervisor import ServiceProcesses
from services.core.synthetic import GeneratorSettings
from services.messaging.kafka import KafkaSettings
from services.stack import StackSettings
from tests.e2e.conftest import PIPELINE

pytestmark = pytest.mark.e2e

STACK = StackSettings.from_env()
KAFKA = KafkaSettings.from_env()
VENDOR = "e2e-vendor"
CRASHED = ("validation", "signing", "storage")


async def run_year(
    services: ServiceProcesses, year: DemoYear, *, crash_after_stored: int | None = None
) -> OutcomeWatch:
    token = await prepare_vendor(STACK.pg_dsn, VENDOR, year.school_codes, dt.date(2024, 8, 1))
    for name in PIPELINE:
        services.start(name)
    watch = OutcomeWatch(KAFKA, {year.key_of(r) for r in year.records})
    approvals = Approvals(KAFKA, VENDOR)
    await watch.start()
    try:
        half = len(year.events) // 10
        answers = await publish_http(
            services.url("ingestion", "/v1/events"), token, year.events[:half]
        )
        # Events of records planted with envelope errors are refused at once (E_..._FORMAT).
        assert sum(answers.values()) == half
        assert answers["duplicate"] == 0
        await publish_kafka(KAFKA, year.events[half:])
        crashed = crash_after_stored is None
        deadline = time.monotonic() + 300
        while not watch.settled(year) and time.monotonic() < deadline:
            await watch.poll()
            await approvals.follow(watch)
            if not crashed and len(watch.stored) >= crash_after_stored:
                for name in CRASHED:
                    services.kill(name)
                await asyncio.sleep(1)
                for name in CRASHED:
                    services.start(name)
                crashed = True
        assert crashed, "the run ended before the crash point"
        assert watch.settled(year), "not every record had an outcome in time"
    finally:
        await watch.stop()
    return watch


async def stored_versions(keys: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(STACK.pg_dsn)
    try:
        rows = await connection.fetch(
            "SELECT record_key, count(*) AS versions FROM record_versions "
            "WHERE record_key = ANY($1::text[]) GROUP BY record_key",
            keys,
        )
    finally:
        await connection.close()
    return {row["record_key"]: row["versions"] for row in rows}


def assert_outcomes(year: DemoYear, watch: OutcomeWatch, versions: dict[str, int]) -> None:
    valid = [year.key_of(r) for r in year.records if not r.expected_codes]
    assert versions == dict.fromkeys(valid, 1), "each valid record stored once, nothing else"
    for generated in year.records:
        if generated.expected_codes:
            key = year.key_of(generated)
            refused = watch.invalid.get(key, set()) | watch.rejected.get(key, set())
            assert set(generated.expected_codes) <= refused, (key, generated.expected_codes)


async def test_a_school_year_is_stored_once_and_every_planted_error_refused(
    services: ServiceProcesses,
) -> None:
    settings = GeneratorSettings(schools=2, students_per_class=8, invalid_share=0.25)
    year = school_year(settings, seed=int(time.time()), vendor_id=VENDOR)
    watch = await run_year(services, year)
    assert_outcomes(year, watch, await stored_versions(list(watch.keys)))


async def test_killing_validation_signing_and_storage_mid_stream_loses_and_doubles_nothing(
    services: ServiceProcesses,
) -> None:
    settings = GeneratorSettings(schools=2, students_per_class=12, invalid_share=0.1)
    year = school_year(settings, seed=int(time.time()) + 1, vendor_id=VENDOR)
    valid = sum(1 for r in year.records if not r.expected_codes)
    watch = await run_year(services, year, crash_after_stored=valid // 3)
    assert_outcomes(year, watch, await stored_versions(list(watch.keys)))
