"""Every dashboard query answers with data from a real Prometheus scraping the real services.

The services run as processes (as ``hocba run`` runs them) and Prometheus as
``hocba stack up --with-monitoring`` starts it (:mod:`services.stack.monitoring`), all on
free ports with their state in a temporary directory, so a developer's own services and
Prometheus on the default ports are left alone. A small school year goes through the
platform as ``hocba demo`` sends it (planted errors included), with what a demo lacks for
some panels: a re-sent HTTP batch (duplicates), bytes that are not a vendor event and an
event for a school the vendor is not assigned (ingestion refusals), an approval of a record
that does not exist (a signing refusal), two record lookups, and a national database
simulator that injects latency and a few errors. Then every expression of every dashboard
must return at least one sample. Logs are kept in artifacts/monitoring/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import math
import os
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from rich.console import Console

from services.cli.demo import (
    Approvals,
    DemoYear,
    OutcomeWatch,
    approval_events,
    prepare_vendor,
    publish_http,
    publish_kafka,
    school_year,
)
from services.cli.devsigning import dev_signing
from services.cli.supervisor import SERVICES, ServiceProcesses
from services.core.synthetic import GeneratorSettings
from services.messaging.kafka import KafkaSettings, make_producer
from services.messaging.topics import VENDOR_EVENTS
from services.stack import StackSettings, down, monitoring, status
from services.stack.monitoring import MonitoringSettings
from tests.ports import free_port
from tests.unit.test_dashboards import GRAFANA_VARIABLES, Query, dashboard_queries

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "monitoring"
STACK = StackSettings.from_env()
KAFKA = KafkaSettings.from_env()
VENDOR = "monitoring-vendor"
#: National sync delivers to the test's simulator, which slows and fails a few requests.
SIM_FAULTS = {"latency_ms": [1, 5], "error_rate": 0.1, "seed": 7}
#: Prometheus scrapes the test's services every second; the school year goes in waves.
SCRAPE_SECONDS = 1
WAVES = 3
#: Windows wide enough to hold the whole run (it lasts well under two minutes).
WINDOWS = GRAFANA_VARIABLES | {"__rate_interval": "3m", "__range": "5m"}
START_ORDER = ("national-sim", "ingestion", "validation", "signing", "storage", "national-sync")


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in (*SERVICES, "prometheus", "pki")}


@pytest.fixture
def services(tmp_path: Path, ports: dict[str, int]) -> Iterator[ServiceProcesses]:
    """The six services on free ports, with the dev PKI of a temporary state dir."""
    mine = ServiceProcesses(ARTIFACTS)
    running = [name for name in START_ORDER if mine.already_running(name)]
    # Their consumer groups are the platform's: a second set would share their partitions.
    assert not running, f"stop the services already running before this test: {running}"
    mine.env.update({SERVICES[name].port_variable: str(ports[name]) for name in SERVICES})
    mine.env.update(
        {
            "HOCBA_NATIONAL_URL": f"http://127.0.0.1:{ports['national-sim']}",
            "HOCBA_NATIONAL_SIM_FAULTS": json.dumps(SIM_FAULTS),
            # Transactional ids of their own: never fence a developer's replica 0.
            "HOCBA_INSTANCE_ID": "monitoring",
            "HOCBA_PUBLIC_URL": f"http://127.0.0.1:{ports['storage']}",
        }
    )
    with dev_signing(tmp_path / "signing-state", {}, port=ports["pki"]) as signing_env:
        mine.env.update(signing_env)
        try:
            yield mine
        finally:
            mine.stop_all()


@pytest.fixture
async def prometheus(tmp_path: Path, ports: dict[str, int]) -> AsyncIterator[MonitoringSettings]:
    """Prometheus as ``stack up --with-monitoring`` starts it, scraping the test's ports."""
    settings = MonitoringSettings(
        state_dir=tmp_path / "state",
        port=ports["prometheus"],
        targets={job: f"127.0.0.1:{ports[job]}" for job in monitoring.SCRAPE_JOBS},
        scrape_interval=f"{SCRAPE_SECONDS}s",
    )
    process = monitoring.start_prometheus(settings, monitoring.find_prometheus())
    try:
        await monitoring.wait_for_prometheus(settings, process, Console(quiet=True))
        yield settings
    finally:
        monitoring.stop_prometheus(settings)  # the test stops it with `stack down` first
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if settings.log_file.exists():
            (ARTIFACTS / "prometheus.log").write_bytes(settings.log_file.read_bytes())
        assert process.wait(timeout=5) is not None


def query(prometheus: MonitoringSettings, expr: str) -> list[dict[str, object]]:
    url = f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.loads(answer.read())
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def has_number(result: list[dict[str, object]]) -> bool:
    """At least one sample that is a number (a quantile of nothing is NaN)."""
    values = [sample["value"] for sample in result]
    return any(not math.isnan(float(value[1])) for value in values)


async def send_garbage_event() -> None:
    """Bytes that are no Avro single-object message: refused by ingestion with a code."""
    producer = make_producer(KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(VENDOR_EVENTS.name, b"not a vendor event", key=b"x|y|z")
    finally:
        await producer.stop()


async def lookups(storage: str, keys: list[str]) -> None:
    """Read one stored record's PDF by its lookup code, and a code that does not exist."""
    connection = await asyncpg.connect(STACK.pg_dsn)
    try:
        code = await connection.fetchval(
            "SELECT lookup_code FROM record_versions "
            "WHERE record_key = ANY($1::text[]) AND lookup_code IS NOT NULL LIMIT 1",
            keys,
        )
    finally:
        await connection.close()
    assert code, "no stored version of the test's records"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{storage}/v1/records/{code}/pdf") as answer:
            assert answer.status == 200
            assert (await answer.read()).startswith(b"%PDF")
        async with session.get(f"{storage}/v1/records/NO-SUCH-CODE/pdf") as answer:
            assert answer.status >= 400


def waves(year: DemoYear, count: int) -> list[DemoYear]:
    """The year split by student into ``count`` parts, sent one after the other."""
    students = sorted({event["student_id"] for event in year.events})
    parts = [set(students[index::count]) for index in range(count)]
    return [
        DemoYear(
            [r for r in year.records if r.record["student"]["student_id"] in part],
            [e for e in year.events if e["student_id"] in part],
        )
        for part in parts
    ]


async def plant_refusals(url: str, token: str, sent: DemoYear, watch: OutcomeWatch) -> None:
    """What a demo lacks: duplicates, ingestion refusals, a refused approval."""
    http_events = sent.events[:5]
    answers = await publish_http(url, token, http_events)  # a vendor's retry
    assert answers["duplicate"] == len(http_events), answers
    stranger = http_events[0] | {
        "event_id": str(uuid.uuid4()),
        "school_code": "MONITORING-UNASSIGNED",
    }
    assert (await publish_http(url, token, [stranger]))["rejected"] == 1
    await send_garbage_event()
    school_code, _student, school_year_ = next(iter(watch.keys)).split("|")
    nobody = f"{school_code}|no-such-student|{school_year_}"
    await publish_kafka(KAFKA, approval_events(VENDOR, nobody))


async def drive(services: ServiceProcesses, year: DemoYear) -> OutcomeWatch:
    """The year in waves, each waited for: Prometheus sees every series change over scrapes.

    A counter or histogram series appears at the first scrape after its first event, with
    that event already counted; a burst finished between two scrapes would leave every
    rate at 0 and every quantile NaN.
    """
    token = await prepare_vendor(STACK.pg_dsn, VENDOR, year.school_codes, dt.date(2024, 8, 1))
    watch = OutcomeWatch(KAFKA, {year.key_of(r) for r in year.records})
    approvals = Approvals(KAFKA, VENDOR)
    url = services.url("ingestion", "/v1/events")
    await watch.start()
    try:
        for number, wave in enumerate(waves(year, WAVES)):
            # Valid students first: the duplicates below re-send accepted events.
            students = sorted(
                (bool(r.expected_codes), r.record["student"]["student_id"]) for r in wave.records
            )
            over_http = {student for _invalid, student in students[: max(1, len(students) // 5)]}
            sent_http = [e for e in wave.events if e["student_id"] in over_http]
            await publish_http(url, token, sent_http)
            await publish_kafka(KAFKA, [e for e in wave.events if e["student_id"] not in over_http])
            if number == 1:
                await plant_refusals(url, token, DemoYear(wave.records, sent_http), watch)
            deadline = time.monotonic() + 60
            while not watch.synced_all(wave) and time.monotonic() < deadline:
                await watch.poll()
                await approvals.follow(watch)
            assert watch.synced_all(wave), f"wave {number}: not every record had an outcome"
            await asyncio.sleep(3 * SCRAPE_SECONDS)
    finally:
        await watch.stop()
    await lookups(services.url("storage", ""), sorted(watch.keys))
    return watch


async def stack_status_and_down(
    prometheus: MonitoringSettings, services: ServiceProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stack status`` lists this Prometheus and ``stack down`` stops it.

    The stack settings name the test's state dir: ``down`` finds no Kafka or PostgreSQL
    started from it and stops only the test's Prometheus.
    """
    for name in SERVICES:
        variable = SERVICES[name].port_variable
        monkeypatch.setenv(variable, services.env[variable])
    monkeypatch.setenv("HOCBA_PROMETHEUS_PORT", str(prometheus.port))
    stack = StackSettings.from_env({**os.environ, "HOCBA_STATE_DIR": str(prometheus.state_dir)})
    components = {component.name: component for component in await status(stack)}
    shown = components["prometheus"]
    assert shown.healthy and shown.managed, shown
    assert shown.detail == f"{len(SERVICES)}/{len(SERVICES)} services answer its scrapes"
    console = Console(record=True, width=200, file=io.StringIO())
    down(stack, console)
    assert "prometheus: stopped" in console.export_text()
    assert monitoring.prometheus_pid(prometheus) is None
    assert "prometheus" not in {component.name for component in await status(stack)}


async def test_every_dashboard_query_has_data(
    services: ServiceProcesses, prometheus: MonitoringSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    for name in START_ORDER:
        await asyncio.to_thread(services.start, name)
    settings = GeneratorSettings(schools=1, students_per_class=4, invalid_share=0.3)
    year = school_year(settings, seed=int(time.time()), vendor_id=VENDOR)
    watch = await drive(services, year)
    refused = {
        code for codes in (*watch.invalid.values(), *watch.rejected.values()) for code in codes
    }
    driven = time.monotonic()

    queries: list[Query] = dashboard_queries(WINDOWS)
    # A few scrapes after the traffic: wait until every query answers, or 30 s.
    empty: list[Query] = queries
    deadline = time.monotonic() + 30
    while empty and time.monotonic() < deadline:
        await asyncio.sleep(2)
        empty = [q for q in queries if not await asyncio.to_thread(query, prometheus, q.expr)]
    health = monitoring.targets_health(prometheus)
    assert health == dict.fromkeys(monitoring.SCRAPE_JOBS, "up"), health
    if prometheus.rules_file.exists():  # the alerting rules load beside the dashboards
        with urllib.request.urlopen(f"{prometheus.url}/api/v1/rules", timeout=10) as answer:
            assert json.loads(answer.read())["data"]["groups"], "alerts.yml loaded no group"
    assert not empty, "queries without data:\n" + "\n".join(map(str, empty))
    answers = {str(q): await asyncio.to_thread(query, prometheus, q.expr) for q in queries}
    (ARTIFACTS / "queries.json").write_text(json.dumps(answers, indent=1), encoding="utf-8")
    not_a_number = [q for q in queries if not has_number(answers[str(q)])]
    assert not not_a_number, "queries answering only NaN:\n" + "\n".join(map(str, not_a_number))
    # The refusals the run planted are on the vendors' table, counted in the range.
    table = next(q for q in queries if q.panel.startswith("Refusals in the time range"))
    codes = {str(sample["metric"]["code"]) for sample in query(prometheus, table.expr)}
    planted = {"E_NOT_AVRO_SINGLE_OBJECT", "E_SCHOOL_NOT_ASSIGNED", "E_APPROVAL_NO_PENDING_RECORD"}
    assert planted | refused <= codes
    await stack_status_and_down(prometheus, services, monkeypatch)
    print(
        f"\n{len(queries)} dashboard queries answered; services up and traffic driven in "
        f"{driven - started:.1f} s, scrapes awaited {time.monotonic() - driven:.1f} s"
    )
