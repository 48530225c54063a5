"""Every service's /metrics against docs/metrics.md, and through ``promtool check metrics``.

The six services run as processes (as ``hocba run`` runs them), on free ports, with the dev
PKI of a temporary state directory on a free port of its own, against the local stack. Once
each is ready, a little work gives labelled families samples to check: an unauthenticated
``POST /v1/events``, a lookup of a code that does not exist, the simulator's statistics, and
bytes on ``hocba.vendor.events`` that are no vendor event (ingestion refuses them through
its whole Kafka pipeline: consumed, judged, refused, committed). Then each service's
exposition (kept in artifacts/metrics-contract/<service>.metrics) must

* pass ``promtool check metrics`` (Prometheus' parser and naming lint) without a word;
* expose exactly the ``hocba_*`` families docs/metrics.md lists for that service, with the
  documented type. prometheus_client writes ``# HELP``/``# TYPE`` for a labelled family even
  before it has samples, so the families are read from the ``# TYPE`` lines; the
  ``<name>_created`` gauges it adds beside counters and histograms are not families of
  their own;
* carry exactly the documented labels on every sample it has (``le`` aside).

Their consumer groups are the platform's: a developer's services already running would share
their partitions with these, so the test refuses to run beside them, as the e2e tests do.
Logs are kept in artifacts/metrics-contract/.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.cli.devsigning import dev_signing
from services.cli.supervisor import SERVICES, ServiceProcesses
from services.messaging.kafka import KafkaSettings, make_producer
from services.messaging.topics import VENDOR_EVENTS
from tests.ports import free_port
from tests.unit.test_alert_rules import DocumentedMetric, documented_metrics, promtool

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "metrics-contract"
START_ORDER = ("national-sim", "ingestion", "validation", "signing", "storage", "national-sync")
_HISTOGRAM_LABELS = frozenset({"le"})
#: How long ingestion may take to join its group and refuse the test's message.
_CONSUME_TIMEOUT_S = 45.0


def _request(url: str, *, method: str = "GET", body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as refusal:
        return int(refusal.code)


def exercise(services: ServiceProcesses) -> None:
    """A few requests that count something in labelled families (no data is written)."""
    events = json.dumps({"events": []}).encode()
    assert _request(services.url("ingestion", "/v1/events"), method="POST", body=events) == 401
    assert _request(services.url("ingestion", "/v1/openapi.json")) == 200
    assert _request(services.url("storage", "/v1/records/KHONG-CO-MA-NAY")) >= 400
    assert _request(services.url("national-sim", "/admin/stats")) == 200


async def send_garbage_event() -> None:
    """Bytes that are no Avro single-object message: refused by ingestion with a code."""
    producer = make_producer(KafkaSettings.from_env())
    await producer.start()
    try:
        await producer.send_and_wait(
            VENDOR_EVENTS.name, b"not a vendor event (metrics contract)", key=b"metrics|test|x"
        )
    finally:
        await producer.stop()


def wait_for_samples(services: ServiceProcesses, name: str, *families: str) -> None:
    """Until the service's /metrics has a sample of each family (its work is counted)."""
    deadline = time.monotonic() + _CONSUME_TIMEOUT_S
    while True:
        text = scrape(services, name)
        missing = [f for f in families if f"\n{f}{{" not in text and f"\n{f} " not in text]
        if not missing:
            return
        assert time.monotonic() < deadline, (
            f"{name} counted no {missing} after {_CONSUME_TIMEOUT_S:.0f} s; "
            f"see {services.log_dir}/{name}.log"
        )
        time.sleep(0.5)


def scrape(services: ServiceProcesses, name: str) -> str:
    with urllib.request.urlopen(services.url(name, "/metrics"), timeout=10) as answer:
        return str(answer.read().decode("utf-8"))


@pytest.fixture(scope="module")
def expositions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Each service's /metrics once it is ready and has answered a few requests."""
    processes = ServiceProcesses(ARTIFACTS)
    running = [name for name in START_ORDER if processes.already_running(name)]
    assert not running, f"stop the services already running before this test: {running}"
    ports = {name: free_port() for name in (*SERVICES, "pki")}
    processes.env.update({SERVICES[name].port_variable: str(ports[name]) for name in SERVICES})
    processes.env.update(
        {
            "HOCBA_NATIONAL_URL": f"http://127.0.0.1:{ports['national-sim']}",
            # Transactional ids of their own: never fence a developer's replica 0.
            "HOCBA_INSTANCE_ID": "metrics-contract",
            "HOCBA_PUBLIC_URL": f"http://127.0.0.1:{ports['storage']}",
        }
    )
    state = tmp_path_factory.mktemp("signing-state")
    with dev_signing(state, {}, port=ports["pki"]) as signing_env:
        processes.env.update(signing_env)
        try:
            for name in START_ORDER:
                processes.start(name, wait=False)
            for name in START_ORDER:
                processes.wait_ready(name, timeout=60)
            exercise(processes)
            asyncio.run(send_garbage_event())
            wait_for_samples(
                processes, "ingestion", "hocba_ingestion_events_total", "hocba_transactions_total"
            )
            scraped = {name: scrape(processes, name) for name in START_ORDER}
            for name, text in scraped.items():
                (ARTIFACTS / f"{name}.metrics").write_text(text, encoding="utf-8")
            yield scraped
        finally:
            processes.stop_all()


def exposed_families(text: str) -> dict[str, str]:
    """Family name as PromQL knows it (``x_total`` for a counter) → type, from # TYPE lines."""
    declared: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            declared[name] = kind
    created = {
        name
        for name, kind in declared.items()
        if kind == "gauge"
        and name.endswith("_created")
        and (
            declared.get(name.removesuffix("_created") + "_total") == "counter"
            or declared.get(name.removesuffix("_created")) == "histogram"
        )
    }
    return {name: kind for name, kind in declared.items() if name not in created}


def sample_labels(text: str) -> dict[str, set[frozenset[str]]]:
    """Family name (as in the docs) → the label-name sets of its samples."""
    found: dict[str, set[frozenset[str]]] = {}
    for metric in text_string_to_metric_families(text):
        name = f"{metric.name}_total" if metric.type == "counter" else metric.name
        for sample in metric.samples:
            if sample.name.endswith("_created"):
                continue
            labels = frozenset(sample.labels) - _HISTOGRAM_LABELS
            found.setdefault(name, set()).add(labels)
    return found


def documented_for(service: str) -> dict[str, DocumentedMetric]:
    return {name: row for name, row in documented_metrics().items() if service in row.services}


@pytest.mark.parametrize("service", START_ORDER)
def test_promtool_finds_nothing_to_say_about_the_exposition(
    expositions: dict[str, str], service: str
) -> None:
    result = subprocess.run(
        [promtool(), "check", "metrics"],
        input=expositions[service],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not said, f"promtool check metrics ({service}):\n{said}"


@pytest.mark.parametrize("service", START_ORDER)
def test_exposed_families_are_the_documented_ones(
    expositions: dict[str, str], service: str
) -> None:
    exposed = {
        name: kind
        for name, kind in exposed_families(expositions[service]).items()
        if name.startswith("hocba_")
    }
    documented = documented_for(service)
    assert sorted(exposed) == sorted(documented), (
        f"{service} exposes, undocumented: {sorted(set(exposed) - set(documented))}; "
        f"documented for it, not exposed: {sorted(set(documented) - set(exposed))}"
    )
    for name, kind in exposed.items():
        assert kind == documented[name].type, f"{service}: {name} is a {kind} in its /metrics"


@pytest.mark.parametrize("service", START_ORDER)
def test_samples_carry_the_documented_labels(expositions: dict[str, str], service: str) -> None:
    documented = documented_for(service)
    for name, label_sets in sample_labels(expositions[service]).items():
        if not name.startswith("hocba_"):
            continue
        for labels in label_sets:
            assert labels == documented[name].labels, (
                f"{service}: {name} has a sample labelled {sorted(labels)}, "
                f"docs/metrics.md says {sorted(documented[name].labels)}"
            )


@pytest.mark.parametrize("service", START_ORDER)
def test_the_scraped_service_was_ready(expositions: dict[str, str], service: str) -> None:
    ready = [
        sample.value
        for metric in text_string_to_metric_families(expositions[service])
        if metric.name == "hocba_service_ready"
        for sample in metric.samples
    ]
    assert ready == [1.0], f"{service}: hocba_service_ready samples {ready}"
