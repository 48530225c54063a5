"""Every dashboard query answers with data from a real Prometheus scraping the real services.

The services run as processes (as ``hocba run`` runs them) and Prometheus as
``hocba stack up --with-monitoring`` starts it (:mod:`services.stack.monitoring`), all on
free ports with their state in a temporary directory, so a developer's own services and
Prometheus on the default ports are left alone. A small school year goes through the
platform as ``hocba demo`` sends it (planted errors included), with what a demo lacks for
some panels: a re-sent HTTP batch (duplicates), bytes that are not a vendor event and an
event for a school the vendor is not assigned (ingestion refusals), an approval of a record
that does not exist (a signing refusal), and a national database simulator that injects
latency and a few errors. Then the stored records are used (:func:`use_the_records`):
lookups with the right and wrong birth dates until a code locks, verifications of a signed
PDF, admission checks by an admissions office, school reads and a mid-year school transfer
(carried evaluations, an access grant). Then every expression of every dashboard must return
at least one sample. Logs are kept in artifacts/monitoring/.
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
from dataclasses import dataclass
from pathlib import Path
from typing import cast

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
from services.core.avro_types import VendorEvent
from services.core.synthetic import GeneratorSettings
from services.messaging.kafka import KafkaSettings, make_producer
from services.messaging.topics import VENDOR_EVENTS
from services.signing.devpki import DevPki
from services.stack import StackSettings, down, monitoring, status
from services.stack.monitoring import MonitoringSettings
from services.storage.access import ClientKind, PgAccessStore
from tests.ports import free_port
from tests.unit.test_dashboards import GRAFANA_VARIABLES, Query, dashboard_queries
from tests.unit.test_transfers_data import Scenario, scenario

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
#: A student moving between two schools of the test's vendor (new codes every run).
_RUN = uuid.uuid4().hex[:8].upper()
TRANSFER = scenario(f"HSMON{_RUN}", f"MON-A-{_RUN}", f"MON-B-{_RUN}", VENDOR, VENDOR)
PURPOSE = "Kiểm tra giám sát (monitoring test)"
#: What the use of the records must have counted (each a sample above 0) besides every
#: dashboard query answering: the dashboards' fallbacks (``or on() ... * 0``) answer 0
#: without any traffic.
USED = (
    'hocba_storage_lookups_total{outcome="found"}',
    'hocba_storage_lookups_total{outcome="not_found"}',
    'hocba_storage_lookups_total{outcome="locked"}',
    'hocba_storage_lookup_lockouts_total{scope="code"}',
    'hocba_storage_verifications_total{outcome="valid", platform="current"}',
    'hocba_storage_verifications_total{outcome="not_a_pdf", platform="none"}',
    'hocba_storage_admission_requests_total{outcome="checked"}',
    'hocba_storage_admission_checks_total{status="found"}',
    'hocba_storage_school_reads_total{resource="records", outcome="found"}',
    'hocba_storage_school_reads_total{resource="pdf", outcome="found"}',
    'hocba_storage_grants_total{outcome="granted"}',
    "hocba_validation_carried_events_total",
)


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
        # POST /v1/verify trusts the PKI that signed the test's records.
        mine.env["HOCBA_TRUST_ROOTS"] = str(DevPki(tmp_path / "signing-state" / "pki").root_cert)
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


@dataclass(frozen=True)
class StoredPage:
    """A stored, signed page of the test's records."""

    lookup_code: str
    born: str
    student_id: str
    school_code: str
    school_year: str


async def stored_pages(keys: list[str]) -> list[StoredPage]:
    connection = await asyncpg.connect(STACK.pg_dsn)
    try:
        rows = await connection.fetch(
            # Grade 5 first: what an admission check finds.
            "SELECT lookup_code, born, student_id, school_code, school_year FROM ("
            " SELECT DISTINCT ON (record_key) lookup_code, grade, student_id, school_code,"
            " school_year, record->'student'->>'date_of_birth' AS born FROM record_versions"
            " WHERE record_key = ANY($1::text[]) AND lookup_code IS NOT NULL"
            " ORDER BY record_key, version DESC"
            ") AS pages ORDER BY grade = 5 DESC, lookup_code LIMIT 2",
            keys,
        )
    finally:
        await connection.close()
    assert len(rows) == 2, "fewer than two stored versions of the test's records"
    return [StoredPage(**dict(row)) for row in rows]


async def send_transfer(ingestion: str, token: str) -> None:
    """A student's first half-year at school A, then their transfer to school B."""
    events = cast(list[VendorEvent], [*TRANSFER.before, TRANSFER.transfer])
    answers = await publish_http(ingestion, token, events)
    assert answers == {"accepted": len(TRANSFER.before) + 1}, answers


async def lookups(
    http: aiohttp.ClientSession, storage: str, page: StoredPage, other: StoredPage
) -> bytes:
    """The record and its PDF with the right birth date, a code that is no code, then the
    other page's code with a wrong birth date until the code locks; returns the PDF."""
    birth_date = {"X-Birth-Date": page.born}
    async with http.get(f"{storage}/v1/records/{page.lookup_code}", headers=birth_date) as answer:
        assert answer.status == 200, await answer.text()
    async with http.get(
        f"{storage}/v1/records/{page.lookup_code}/pdf", headers=birth_date
    ) as answer:
        assert answer.status == 200
        pdf = await answer.read()
        assert pdf.startswith(b"%PDF")
    async with http.get(f"{storage}/v1/records/NO-SUCH-CODE/pdf", headers=birth_date) as answer:
        assert answer.status >= 400
    wrong = {"X-Birth-Date": "2000-01-01"}
    statuses = []
    for _attempt in range(6):  # HOCBA_LOOKUP_CODE_FAILURES (5) lock the code
        async with http.get(f"{storage}/v1/records/{other.lookup_code}", headers=wrong) as answer:
            statuses.append(answer.status)
    assert statuses[:4] == [404] * 4 and statuses[-1] == 429, statuses
    return pdf


async def verify(http: aiohttp.ClientSession, storage: str, pdf: bytes) -> None:
    """The signed PDF handed in (valid, current), and a file that is no PDF."""
    headers = {"Content-Type": "application/pdf"}
    async with http.post(f"{storage}/v1/verify", data=pdf, headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        body = await answer.json()
    assert body["report"]["valid"] is True, body["report"]
    assert body["platform"]["status"] == "current", body["platform"]
    async with http.post(f"{storage}/v1/verify", data=b"not a pdf", headers=headers) as answer:
        assert answer.status == 400


async def use_the_records(storage: str, ingestion: str, token: str, keys: list[str]) -> None:
    """What parents, admissions offices and schools do with the stored records.

    Histograms are observed twice, a few scrapes apart: a quantile needs a series that
    changed between two scrapes (its first observation comes with the series).
    """
    await send_transfer(ingestion, token)
    page, other = await stored_pages(keys)
    suffix = uuid.uuid4().hex[:10]
    pool = await asyncpg.create_pool(STACK.pg_dsn, min_size=1, max_size=2)
    access = PgAccessStore(pool)
    clients = {
        "office": (ClientKind.ADMISSIONS_OFFICE, [page.school_code]),
        "school": (ClientKind.SCHOOL, [page.school_code]),
        "receiving": (ClientKind.SCHOOL, [TRANSFER.school_b]),
    }
    tokens = {
        name: await access.add_client(f"monitoring-{name}-{suffix}", kind, f"{name} (test)", codes)
        for name, (kind, codes) in clients.items()
    }
    try:
        async with aiohttp.ClientSession() as http:
            pdf = await lookups(http, storage, page, other)
            for round_ in range(2):
                await verify(http, storage, pdf)
                checks = {"purpose": PURPOSE, "lookup_codes": [page.lookup_code, "KHONG-PHAI-MA"]}
                office = {"Authorization": f"Bearer {tokens['office']}"}
                url = f"{storage}/v1/admissions/checks"
                async with http.post(url, json=checks, headers=office) as answer:
                    assert answer.status == 200, await answer.text()
                school = {"Authorization": f"Bearer {tokens['school']}"}
                records = f"{storage}/v1/students/{page.student_id}/records"
                query = {"purpose": PURPOSE}
                async with http.get(records, headers=school, params=query) as answer:
                    assert answer.status == 200, await answer.text()
                pdf_url = f"{records}/{page.school_year}/pdf"
                async with http.get(pdf_url, headers=school, params=query) as answer:
                    assert answer.status == 200, await answer.text()
                if round_ == 0:
                    await asyncio.sleep(3 * SCRAPE_SECONDS)
            await until_granted(TRANSFER)
            receiving = {"Authorization": f"Bearer {tokens['receiving']}"}
            moved = f"{storage}/v1/students/{TRANSFER.student}/records"
            async with http.get(moved, headers=receiving, params={"purpose": PURPOSE}) as answer:
                assert answer.status == 404  # entitled by the grant, nothing signed yet
    finally:
        for name in tokens:
            await access.revoke(f"monitoring-{name}-{suffix}")
        await pool.close()


async def until_granted(transfer: Scenario) -> None:
    """Until storage turned the transfer into an access grant for the receiving school."""
    connection = await asyncpg.connect(STACK.pg_dsn)
    try:
        async with asyncio.timeout(60):
            while not await connection.fetchval(
                "SELECT count(*) FROM record_grants WHERE student_id = $1 AND school_code = $2",
                transfer.student,
                transfer.school_b,
            ):
                await asyncio.sleep(0.5)
    finally:
        await connection.close()


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
    schools = {*year.school_codes, TRANSFER.school_a, TRANSFER.school_b}
    token = await prepare_vendor(STACK.pg_dsn, VENDOR, schools, dt.date(2024, 8, 1))
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
    await use_the_records(services.url("storage", ""), url, token, sorted(watch.keys))
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
    unused: list[str] = list(USED)
    deadline = time.monotonic() + 30
    while (empty or unused) and time.monotonic() < deadline:
        await asyncio.sleep(2)
        empty = [q for q in queries if not await asyncio.to_thread(query, prometheus, q.expr)]
        unused = [
            expr for expr in USED if not await asyncio.to_thread(query, prometheus, f"{expr} > 0")
        ]
    health = monitoring.targets_health(prometheus)
    assert health == dict.fromkeys(monitoring.SCRAPE_JOBS, "up"), health
    if prometheus.rules_file.exists():  # the alerting rules load beside the dashboards
        with urllib.request.urlopen(f"{prometheus.url}/api/v1/rules", timeout=10) as answer:
            assert json.loads(answer.read())["data"]["groups"], "alerts.yml loaded no group"
    assert not empty, "queries without data:\n" + "\n".join(map(str, empty))
    assert not unused, f"the use of the records counted none of {unused}"
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
