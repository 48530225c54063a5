"""Signing service benchmark: the signing stage end to end on the local stack's Kafka.

(``tests/perf/bench_signing.py`` measures the signing code in-process; this one measures the
service around it: Kafka batches and transactions, the changelog state that carries each
page's PDF between the validated record and the last approval, the approvals' path.)

Run (the stack up — ``.venv/bin/hocba stack up`` —, no signing service running)::

    .venv/bin/python -m tests.perf.bench_signing_service [--records 600] [--replicas 1|2]
        [--private-topics] [--split-approvals] [--max-batch N] [--concurrency N]

What it does, all in one run, on one broker and one dev PKI:

* the dev PKI of the stack (``<state>/pki``, built as ``hocba run`` would if absent; a fresh
  one in a temporary directory if its port is taken) is served from a child process
  (``serve_dev_pki(in_process=False)``): the TSA and OCSP responder are not in any measured
  service's process; the signer registry is written the way ``services.cli.devsigning`` does;
* the ceiling: ``tests.perf.bench_signing.throughput`` — as many worker processes as
  replicas, rendering and fully signing records in-process with the same PKI;
* the signing service, ``--replicas`` instances (own ``HOCBA_INSTANCE_ID`` and port), run as
  ``python -m services.signing`` runs it but in a *private consumer group*
  ``hocba-signing-bench-<run>``: the group id is not configurable by environment
  (``SigningSettings.group_id``), and the real ``hocba-signing`` group starts from its
  committed offsets, so old unconsumed records on the dev stack would be rendered first.
  The private group's offsets are committed at the topics' ends before it starts: only this
  run's messages are read, and the real group's offsets are left untouched. (A later
  ``hocba run signing`` will still read this run's messages and refuse its approvals, as
  they are signed already; a later ``hocba run storage`` stores its signed records; every
  signing instance restores the run's state entries at start.) ``--private-topics`` runs
  on private copies of the five topics instead (same configuration and partitions, deleted
  at the end): nothing is left behind, and services others run meanwhile do not interfere;
* warm-up: one page per partition of ``hocba.records.validated`` rendered and signed (checks
  that every partition is assigned and its state restored; reported apart);
* phase A: N ValidatedRecords (generated records, a random seed per run: fresh 20-digit
  student ids, keyed by record key as validation keys them) published while the replicas
  are paused (SIGSTOP), then timed from SIGCONT until every page is rendered (the replicas'
  ``hocba_signing_pages_total{step="rendered"}``);
* phase B: each record's teacher and principal ``SignatureApproval`` as ``AcceptedEvent``s
  with the headers ingestion sets, published while paused, timed from SIGCONT until the N
  ``SignedRecord``s are committed on ``hocba.records.signed``; refusals on
  ``hocba.events.rejected`` are counted by code. Published together, a page's two approvals
  mostly share a batch, so its half-signed PDF never reaches the state topic;
  ``--split-approvals`` sends every teacher's approval first (timed until committed), then
  every principal's, as when they approve on different days;
* CPU: seconds each process (each replica, the dev PKI server, the Kafka broker, this
  harness) used in each phase, per record, from ``/proc``; the service's own metrics per
  phase (batches, transaction time, per step); bytes written to ``hocba.signing.state``;
* Kafka transactions alone, shaped like the service's batches (a temporary topic, this
  harness's producer configured as the pipeline's): what a batch pays to commit.

Records/s are "a backlog drained": timed from SIGCONT to the last page rendered (phase A)
or the last SignedRecord seen committed (phase B). Every process this starts is stopped at
the end (replicas' logs in ``artifacts/bench/signing-service/<run>/``) and its consumer
groups are deleted (its transactional ids expire with the broker's defaults); without
``--private-topics`` the run's records, approvals, signed records and state entries stay on
the dev stack's topics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.admin import DeleteGroupsRequest
from prometheus_client.parser import text_string_to_metric_families

from services.cli.demo import approval_events
from services.cli.devsigning import _PASSPHRASE_ENV, _record_id_key, _registry
from services.cli.supervisor import ServiceProcesses, answers
from services.core.outcome import outcome_message
from services.core.record import key_of, year_record_from_avro
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.core.validation import validate_year_record
from services.messaging.codec import Decoded, default_codec
from services.messaging.kafka import KafkaSettings, make_producer
from services.messaging.topics import (
    EVENTS_ACCEPTED,
    EVENTS_REJECTED,
    HEADER_EVENT_ID,
    HEADER_PAYLOAD,
    RECORDS_SIGNED,
    RECORDS_VALIDATED,
    SIGNING_STATE,
    Topic,
)
from services.signing.devpki import DevPki, PkiServices, build_dev_pki, serve_dev_pki
from services.signing.errors import DevPkiError
from services.signing.settings import SigningSettings
from services.stack import StackSettings, status
from services.stack.kafka_topics import topic_partitions
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "artifacts" / "bench" / "signing-service"
MODULE = "tests.perf.bench_signing_service"
VENDOR = "bench-vendor"


def _default(name: str) -> Any:
    """A SigningSettings default (a slots dataclass: not readable as a class attribute)."""
    return next(f.default for f in dataclasses.fields(SigningSettings) if f.name == name)


REAL_GROUP: str = _default("group_id")
VALIDATED = "vn.edu.hocba.ValidatedRecord"
ACCEPTED = "vn.edu.hocba.AcceptedEvent"
REJECTED = "vn.edu.hocba.RejectedEvent"
STATE = "vn.edu.hocba.SigningState"
APPROVAL = "vn.edu.hocba.SignatureApproval"
POLL_S = 0.1
TOPICS_ENV = "HOCBA_BENCH_TOPICS"


@dataclass(frozen=True)
class Topics:
    """The signing stage's topics: the platform's, or this run's private copies."""

    validated: str = RECORDS_VALIDATED.name
    accepted: str = EVENTS_ACCEPTED.name
    signed: str = RECORDS_SIGNED.name
    rejected: str = EVENTS_REJECTED.name
    state: str = SIGNING_STATE.name

    @classmethod
    def private(cls, run: str) -> Topics:
        return cls(**{f.name: f"bench.{run}.{f.default}" for f in dataclasses.fields(cls)})

    def definitions(self) -> list[tuple[str, Topic]]:
        """(name here, the platform topic whose configuration it copies)."""
        return [
            (self.validated, RECORDS_VALIDATED),
            (self.accepted, EVENTS_ACCEPTED),
            (self.signed, RECORDS_SIGNED),
            (self.rejected, EVENTS_REJECTED),
            (self.state, SIGNING_STATE),
        ]


# -- the messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One ValidatedRecord as validation publishes it, and where the key sends it."""

    record_key: str
    value: bytes
    partition: int

    @property
    def key(self) -> bytes:
        return self.record_key.encode()


def generate_pages(
    count: int, warm_rounds: int, partitions: int, seed: int
) -> tuple[list[Page], list[list[Page]]]:
    """``count`` pages for the phases, and ``warm_rounds`` rounds of one page per partition."""
    codec = default_codec()
    now = dt.datetime.now(dt.UTC)
    every = list(range(partitions))
    partitioner = DefaultPartitioner()
    rounds: list[dict[int, Page]] = [{} for _ in range(warm_rounds)]
    pages: list[Page] = []
    # 100 records per school (5 grades x 20); the spare schools feed the warm-up rounds.
    settings = GeneratorSettings(schools=count // 100 + 2 + warm_rounds * partitions // 50)
    for generated in generate_school_year(settings, seed=seed):
        if generated.expected_codes:
            continue
        record = year_record_from_avro(generated.record)
        name, datum = outcome_message(
            record, validate_year_record(record), vendor_id=VENDOR, validated_at=now
        )
        if name != VALIDATED:
            continue
        key = datum["record_key"]
        page = Page(
            key, codec.encode(VALIDATED, dict(datum)), partitioner(key.encode(), every, every)
        )
        wanting = next((r for r in rounds if page.partition not in r), None)
        if wanting is not None:
            wanting[page.partition] = page
        elif len(pages) < count:
            pages.append(page)
        if len(pages) == count and all(len(r) == partitions for r in rounds):
            break
    keys = {p.record_key for p in pages} | {p.record_key for r in rounds for p in r.values()}
    if len(keys) != len(pages) + sum(len(r) for r in rounds):
        raise SystemExit("the generator repeated a record key: run again (another seed)")
    return pages, [list(r.values()) for r in rounds]


def approval_messages(
    record_keys: Sequence[str], roles: Sequence[int] = (0, 1)
) -> list[tuple[bytes, bytes, list[Any]]]:
    """Each record's teacher (0) and principal (1) approvals as ingestion forwards them."""
    codec = default_codec()
    now = dt.datetime.now(dt.UTC)
    out = []
    for record_key in record_keys:
        events = approval_events(VENDOR, record_key)
        for event in (events[i] for i in roles):
            value = codec.encode(ACCEPTED, {"event": event, "accepted_at": now, "channel": "KAFKA"})
            headers = [
                (HEADER_EVENT_ID, str(event["event_id"]).encode()),
                (HEADER_PAYLOAD, APPROVAL.encode()),
            ]
            out.append((record_key.encode(), value, headers))
    return out


async def publish_pages(kafka: KafkaSettings, topics: Topics, pages: Sequence[Page]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for page in pages:
            await producer.send(topics.validated, page.value, key=page.key)
        await producer.flush()
    finally:
        await producer.stop()


async def publish_approvals(
    kafka: KafkaSettings, topics: Topics, record_keys: Sequence[str], roles: Sequence[int]
) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for key, value, headers in approval_messages(record_keys, roles):
            await producer.send(topics.accepted, value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


# -- the consumer group ------------------------------------------------------------------


async def start_group_at_end(
    kafka: KafkaSettings, topics: Topics, group: str, partitions: int
) -> None:
    """Commit ``group``'s offsets at the input topics' current ends (it reads nothing older)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        wanted = [
            TopicPartition(topic, p)
            for topic in (topics.validated, topics.accepted)
            for p in range(partitions)
        ]
        consumer.assign(wanted)
        await consumer.commit(await consumer.end_offsets(wanted))
    finally:
        await consumer.stop()


async def committed_up_to(
    kafka: KafkaSettings, group: str, ends: dict[TopicPartition, int]
) -> bool:
    """True once ``group`` has committed every partition of ``ends`` up to its offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return all(tp in offsets and offsets[tp].offset >= end for tp, end in ends.items())


async def end_offsets(
    kafka: KafkaSettings, topic: str, partitions: int
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        return dict(
            await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        )
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def created_topics(
    kafka: KafkaSettings, topics: Topics, partitions: int
) -> AsyncIterator[None]:
    """Create this run's private topics (configured as the platform's); delete them after."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    names = [name for name, _ in topics.definitions()]
    try:
        await admin.create_topics(
            [
                NewTopic(name, partitions, 1, topic_configs=topic.configs())
                for name, topic in topics.definitions()
            ]
        )
        yield
    finally:
        try:
            await admin.delete_topics(names)
        finally:
            await admin.close()


async def delete_groups(kafka: KafkaSettings, groups: Sequence[str]) -> None:
    """Delete this run's (empty) consumer groups, best effort: they would linger for days.

    aiokafka 0.14's admin client has no delete_consumer_groups: the request is sent to
    each group's coordinator directly.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        await admin.start()
        for group in groups:
            with contextlib.suppress(Exception):  # e.g. the probe's group was never made
                node = await admin.find_coordinator(group)
                await admin._send_request_to_node(node, DeleteGroupsRequest([group]))
    finally:
        await admin.close()


async def partition_counts(kafka: KafkaSettings) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        return await topic_partitions(admin)
    finally:
        await admin.close()


# -- the service replicas ----------------------------------------------------------------


@dataclass
class SigningReplica(ServiceProcesses):
    """One signing instance, run as ``services.signing`` runs it, in a private group."""

    group_id: str = ""

    def start(self, name: str, *, wait: bool = True, timeout: float = 90.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", MODULE, "--serve-group", self.group_id]
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=log, cwd=REPO
            )
        if wait:
            self.wait_ready(name, timeout)

    @property
    def pid(self) -> int:
        return self.running["signing"].pid


def serve(group_id: str) -> int:
    """The child side: ``services.signing.app`` exactly, but in consumer group ``group_id``
    (and on the topics named by $HOCBA_BENCH_TOPICS, JSON, when set)."""
    from services.messaging.service import configure_logging
    from services.signing.app import bootstrap

    topics = Topics(**json.loads(os.environ.get(TOPICS_ENV, "{}")))
    settings = dataclasses.replace(
        SigningSettings.from_env(),
        group_id=group_id,
        validated_topic=topics.validated,
        accepted_topic=topics.accepted,
        signed_topic=topics.signed,
        rejected_topic=topics.rejected,
        state_topic=topics.state,
    )
    configure_logging(settings.log_level)

    async def run() -> None:
        # aiokafka clients must be built inside the running event loop.
        await bootstrap(settings).run()

    asyncio.run(run())
    return 0


def _signal(replicas: Sequence[SigningReplica], signum: int) -> None:
    for replica in replicas:
        process = replica.running.get("signing")
        if process is not None and process.poll() is None:
            process.send_signal(signum)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def signing_elsewhere() -> list[str]:
    """Signing services already running on this machine (they would consume this run too)."""
    patterns: tuple[bytes, ...] = (b"-m services.signing ", b"hocba run signing")
    patterns += (b"hocba run all", b"hocba demo", f"-m {MODULE} --serve-group".encode())
    found = []
    for pid in _pids():
        cmdline = _cmdline(pid)
        if pid != os.getpid() and any(p in cmdline + b" " for p in patterns):
            found.append(f"pid {pid}: {cmdline.decode(errors='replace').strip()[:120]}")
    return found


# -- measuring ---------------------------------------------------------------------------

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(
    session: aiohttp.ClientSession, replicas: Sequence[SigningReplica]
) -> list[Samples]:
    """Every replica's /metrics, parsed."""
    found = []
    for replica in replicas:
        async with session.get(replica.url("signing", "/metrics")) as response:
            text = await response.text()
        samples: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        found.append(samples)
    return found


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def delta(after: Sequence[Samples], before: Sequence[Samples], name: str, **labels: str) -> float:
    return sum(
        total(a, name, **labels) - total(b, name, **labels)
        for a, b in zip(after, before, strict=True)
    )


def rendered(snapshot: Sequence[Samples]) -> list[float]:
    return [total(s, "hocba_signing_pages_total", step="rendered") for s in snapshot]


class CpuMeter:
    """CPU seconds of each process involved (Linux /proc)."""

    def __init__(self, replicas: Sequence[SigningReplica], pki_pid: int | None) -> None:
        self.replicas = replicas
        self.pki_pid = pki_pid
        self.broker = [pid for pid in _pids() if b"kafka.Kafka" in _cmdline(pid)]
        self.tick = os.sysconf("SC_CLK_TCK")

    def _cpu(self, pid: int) -> float:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def sample(self) -> dict[str, float]:
        found = {f"signing-{i}": self._cpu(r.pid) for i, r in enumerate(self.replicas)}
        if self.pki_pid is not None:
            found["dev PKI"] = self._cpu(self.pki_pid)
        found["broker"] = sum(self._cpu(pid) for pid in self.broker)
        times = os.times()
        found["harness"] = times.user + times.system
        return found


def cpu_line(before: dict[str, float], after: dict[str, float], records: int) -> str:
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    parts = [f"{name} {seconds * 1000 / records:,.1f}" for name, seconds in used.items()]
    return (
        f"CPU ms per record: {', '.join(parts)}; total {sum(used.values()) * 1000 / records:,.1f}"
    )


@dataclass
class OutputWatch:
    """Follows ``hocba.records.signed`` and ``hocba.events.rejected`` from their ends, for keys."""

    kafka: KafkaSettings
    topics: Topics
    partitions: int
    keys: set[str] = field(default_factory=set)
    signed_at: dict[str, float] = field(default_factory=dict)
    signed_bytes: dict[str, int] = field(default_factory=dict)
    refusals: Counter[str] = field(default_factory=Counter)
    refused: set[str] = field(default_factory=set)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        wanted = [
            TopicPartition(t, p)
            for t in (self.topics.signed, self.topics.rejected)
            for p in range(self.partitions)
        ]
        consumer.assign(wanted)
        await consumer.seek_to_end(*wanted)
        for tp in wanted:  # resolve the ends now, before anything is published
            await consumer.position(tp)
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    def settled(self, keys: set[str]) -> bool:
        """Every key signed or refused."""
        return keys <= (self.signed_at.keys() | self.refused)

    async def poll(self) -> None:
        assert self._consumer is not None, "start() first"
        codec = default_codec()
        batches = await self._consumer.getmany(timeout_ms=int(POLL_S * 1000), max_records=5000)
        now = time.monotonic()
        for tp, messages in batches.items():
            for message in messages:
                if tp.topic == self.topics.signed:
                    # Keyed by the record key: no need to decode a signed record and its PDF.
                    key = (message.key or b"").decode(errors="replace")
                    if key in self.keys and key not in self.signed_at:
                        self.signed_at[key] = now
                        self.signed_bytes[key] = len(message.value or b"")
                    continue
                decoded = codec.decode(message.value or b"", expected=REJECTED)
                if not isinstance(decoded, Decoded):
                    continue
                value = decoded.value
                key = key_of(
                    value["school_code"] or "",
                    value["student_id"] or "",
                    value["school_year"] or "",
                )
                if key in self.keys:
                    self.refused.add(key)
                    self.refusals.update(f["code"] for f in value["findings"])


async def read_state(
    kafka: KafkaSettings,
    since: dict[TopicPartition, int],
    keys: set[str],
    cuts: dict[TopicPartition, int],
) -> tuple[list[int], list[int], bytes]:
    """Sizes of this run's state writes before ``cuts`` and after, and the largest one."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    before: list[int] = []
    after: list[int] = []
    largest = b""
    try:
        wanted = list(since)
        consumer.assign(wanted)
        ends = await consumer.end_offsets(wanted)
        for tp in wanted:
            consumer.seek(tp, since[tp])
        remaining = {tp for tp in wanted if ends[tp] > since[tp]}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=2000)
            for tp, messages in fetched.items():
                for message in messages:
                    if (message.key or b"").decode(
                        errors="replace"
                    ) not in keys or not message.value:
                        continue
                    (before if message.offset < cuts[tp] else after).append(len(message.value))
                    if len(message.value) > len(largest):
                        largest = message.value
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return before, after, largest


def state_codec_cost(raw: bytes) -> tuple[float, float]:
    """Milliseconds to decode and to encode one state entry (median of 20)."""
    codec = default_codec()
    decodes, encodes = [], []
    value: dict[str, Any] = {}
    for _ in range(20):
        started = time.perf_counter()
        decoded = codec.decode(raw, expected=STATE)
        decodes.append(time.perf_counter() - started)
        assert isinstance(decoded, Decoded)
        value = decoded.value
        started = time.perf_counter()
        codec.encode(STATE, value)
        encodes.append(time.perf_counter() - started)
    return statistics.median(decodes) * 1000, statistics.median(encodes) * 1000


def service_lines(
    after: Sequence[Samples], before: Sequence[Samples], wall: float, replicas: int
) -> list[str]:
    """The replicas' own metrics over a phase: batches, their time, and time per step."""
    batches = delta(after, before, "hocba_batch_size_messages_count")
    if not batches:
        return ["  service: no batch processed"]
    busy = delta(after, before, "hocba_processing_seconds_sum")
    messages = delta(after, before, "hocba_batch_size_messages_sum")
    committed = delta(after, before, "hocba_transactions_total", outcome="committed")
    aborted = delta(after, before, "hocba_transactions_total", outcome="aborted")
    lines = [
        f"  service: {batches:,.0f} batches ({committed:,.0f} transactions committed, "
        f"{aborted:,.0f} aborted), {messages / batches:,.1f} messages and "
        f"{busy / batches * 1000:,.0f} ms each (handler + transaction); batch loop busy "
        f"{busy / (wall * replicas):.0%} of the wall time"
    ]
    steps = []
    for step in ("render", "homeroom_teacher", "principal", "school_seal", "archive"):
        count = delta(after, before, "hocba_signing_seconds_count", step=step)
        if count:
            seconds = delta(after, before, "hocba_signing_seconds_sum", step=step)
            steps.append(f"{step} {seconds / count * 1000:,.1f}")
    if steps:
        lines.append(
            "  service, mean ms per page and step (wall time; signatures overlap, up to "
            f"HOCBA_SIGNING_CONCURRENCY at once): {', '.join(steps)}"
        )
    render = delta(after, before, "hocba_signing_seconds_sum", step="render")
    if render and not delta(after, before, "hocba_signing_seconds_count", step="archive"):
        lines.append(
            f"  batch time outside rendering (decode, state encode, Kafka transaction): "
            f"{(busy - render) / batches * 1000:,.0f} ms per batch"
        )
    return lines


# -- the dev PKI -------------------------------------------------------------------------


@contextlib.contextmanager
def served_pki(state_dir: Path) -> Iterator[tuple[DevPki, PkiServices, str]]:
    """The stack's dev PKI served from a child process (a fresh one if its port is taken)."""
    pki_dir = state_dir / "pki"
    pki = DevPki(pki_dir) if (pki_dir / "devpki.json").exists() else build_dev_pki(pki_dir)
    with contextlib.ExitStack() as stack:
        try:
            services = stack.enter_context(serve_dev_pki(pki, in_process=False))
            where = str(pki_dir)
        except DevPkiError as exc:
            fresh = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pki-")))
            pki = build_dev_pki(fresh, port=free_port())
            services = stack.enter_context(serve_dev_pki(pki, in_process=False))
            where = f"a fresh PKI in {fresh} ({pki_dir} could not be served: {exc})"
        yield pki, services, where


def pki_server_pid() -> int | None:
    """The dev PKI child process of this harness."""
    me = str(os.getpid())
    for pid in _pids():
        try:
            parent = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1]
        except OSError:
            continue
        if parent == me and b"services.signing.devpki" in _cmdline(pid):
            return pid
    return None


# -- the run -----------------------------------------------------------------------------


async def wait_rendered(
    session: aiohttp.ClientSession,
    replicas: Sequence[SigningReplica],
    target: float,
    timeout: float,
) -> tuple[float, list[Samples]]:
    """Poll /metrics until the replicas rendered ``target`` pages in all; when, and the metrics."""
    deadline = time.monotonic() + timeout
    while True:
        snapshot = await scrape(session, replicas)
        now = time.monotonic()
        if sum(rendered(snapshot)) >= target:
            return now, snapshot
        if now > deadline:
            raise SystemExit(
                f"only {sum(rendered(snapshot)):.0f} of {target:.0f} pages rendered "
                f"after {timeout:.0f} s"
            )
        for replica in replicas:
            if replica.running["signing"].poll() is not None:
                raise SystemExit(f"a replica exited; see {replica.log_dir}/signing.log")
        await asyncio.sleep(POLL_S)


async def wait_signed(
    watch: OutputWatch, keys: set[str], replicas: Sequence[SigningReplica], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not watch.settled(keys):
        if time.monotonic() > deadline:
            missing = len(keys - watch.signed_at.keys() - watch.refused)
            raise SystemExit(
                f"{missing} of {len(keys)} records neither signed nor refused after {timeout:.0f} s"
            )
        for replica in replicas:
            if replica.running["signing"].poll() is not None:
                raise SystemExit(f"a replica exited; see {replica.log_dir}/signing.log")
        await watch.poll()


async def main(args: argparse.Namespace) -> None:
    # aiokafka warns about every retriable hiccup (a new topic's leader not yet elected).
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    stack = StackSettings.from_env()
    kafka = KafkaSettings.from_env()
    unhealthy = [c.name for c in await status(stack) if not c.healthy and c.name == "kafka"]
    if unhealthy:
        raise SystemExit("the local stack's Kafka is not up: run `.venv/bin/hocba stack up` first")
    elsewhere = signing_elsewhere()
    if elsewhere and not args.private_topics:
        raise SystemExit(
            "a signing service is already running; it would consume this run's messages "
            "too. Stop it first (or use --private-topics):\n  " + "\n  ".join(elsewhere)
        )
    if elsewhere:
        print("warning: signing services running beside this run share its CPU:")
        print("  " + "\n  ".join(elsewhere))
    counts = await partition_counts(kafka)
    partitions = counts.get(RECORDS_VALIDATED.name, 0)
    accepted_partitions = counts.get(EVENTS_ACCEPTED.name, 0)
    if not partitions:
        raise SystemExit("the platform's topics are missing: run `.venv/bin/hocba stack up`")
    if accepted_partitions != partitions:
        raise SystemExit(
            f"{RECORDS_VALIDATED.name} has {partitions} partitions and {EVENTS_ACCEPTED.name} "
            f"{accepted_partitions}: the signing stage needs them co-partitioned"
        )
    run = uuid.uuid4().hex[:8]
    seed = secrets.randbits(48)
    pages, warm_rounds = generate_pages(args.records, 4, partitions, seed)
    group = f"{REAL_GROUP}-bench-{run}"
    topics = Topics.private(run) if args.private_topics else Topics()
    print(
        f"run {run}: {len(pages)} records (seed {seed}), {args.replicas} replica(s), "
        f"{partitions} partitions; {os.cpu_count()} cores shared by everything below"
    )
    async with contextlib.AsyncExitStack() as cleanup:
        if args.private_topics:
            await cleanup.enter_async_context(created_topics(kafka, topics, partitions))
            print(
                f"topics: private copies {topics.validated}, {topics.accepted}, "
                f"{topics.signed}, {topics.rejected}, {topics.state} (the platform's "
                f"configurations, {partitions} partitions; deleted at the end)"
            )
        else:
            print(
                "topics: the platform's (this run's records, approvals, signed records and "
                "state stay on them)"
            )
        await run_services(args, stack, kafka, topics, partitions, run, group, pages, warm_rounds)


async def run_services(
    args: argparse.Namespace,
    stack: StackSettings,
    kafka: KafkaSettings,
    topics: Topics,
    partitions: int,
    run: str,
    group: str,
    pages: list[Page],
    warm_rounds: list[list[Page]],
) -> None:
    """The dev PKI, the ceiling, then the replicas and the measured phases."""
    with (
        served_pki(stack.state_dir) as (pki, pki_services, where),
        tempfile.TemporaryDirectory(prefix="bench-signers-") as signers_dir,
    ):
        pki_pid = pki_server_pid()
        print(
            f"dev PKI: {where}, served by a child process (pid {pki_pid}) "
            f"at {pki_services.base_url}"
        )
        ceiling_rate, ceiling_cpu_ms = await ceiling(args, pki, pki_services, pki_pid)
        registry = Path(signers_dir) / "signers.json"
        registry.write_text(
            json.dumps(_registry(pki, pki_services.tsa_url), ensure_ascii=False), "utf-8"
        )
        env = dict(os.environ)
        env.update(
            HOCBA_SIGNERS_FILE=str(registry),
            HOCBA_RECORD_ID_KEY=env.get("HOCBA_RECORD_ID_KEY") or _record_id_key(stack.state_dir),
        )
        env[_PASSPHRASE_ENV] = pki.p12_passphrase.decode()
        env[TOPICS_ENV] = json.dumps(dataclasses.asdict(topics))
        if args.max_batch:
            env["HOCBA_SIGNING_MAX_BATCH"] = str(args.max_batch)
        if args.concurrency:
            env["HOCBA_SIGNING_CONCURRENCY"] = str(args.concurrency)
        replicas = []
        for number in range(args.replicas):
            port = int(_default("http_port")) + 100 * number
            if answers(f"http://127.0.0.1:{port}/healthz", timeout=0.5):
                raise SystemExit(f"port {port} is taken by a service")
            replica_env = dict(env, HOCBA_INSTANCE_ID=str(number), HOCBA_SIGNING_PORT=str(port))
            replicas.append(
                SigningReplica(LOGS / run / f"replica-{number}", env=replica_env, group_id=group)
            )
        settings = SigningSettings.from_env(replicas[0].env)
        await start_group_at_end(kafka, topics, group, partitions)
        print(
            f"consumer group: {group} (private; its offsets committed at the ends of "
            f"{topics.validated} and {topics.accepted} before it started, so only "
            f"this run's messages are read; the real group {REAL_GROUP} is untouched — "
            f"SigningSettings.group_id is not configurable by environment); batches of up to "
            f"{settings.max_batch} messages, {settings.concurrency} pages signed at once; "
            f"logs in {LOGS / run}"
        )
        meter = CpuMeter(replicas, pki_pid)
        try:
            for replica in replicas:
                replica.start("signing", wait=False)
            for replica in replicas:
                replica.wait_ready("signing")
            async with aiohttp.ClientSession() as session:
                await measure(
                    Run(args, kafka, topics, session, replicas, meter, partitions, group),
                    pages,
                    warm_rounds,
                    (ceiling_rate, ceiling_cpu_ms),
                )
        finally:
            _signal(replicas, signal.SIGCONT)
            for replica in replicas:
                replica.stop_all()
            await delete_groups(kafka, [group, f"{group}-probe"])


async def ceiling(
    args: argparse.Namespace, pki: DevPki, services: PkiServices, pki_pid: int | None
) -> tuple[float, float]:
    """The in-process figure of ``bench_signing``, same PKI, as many processes as replicas."""
    from tests.perf.bench_signing import throughput

    meter = CpuMeter([], pki_pid)
    before = meter.sample()
    concurrency = args.concurrency or int(_default("concurrency"))
    rate, cpu_ms = throughput(
        pki.directory, services.tsa_url, args.replicas, args.ceiling_records, concurrency
    )
    after = meter.sample()
    done = args.replicas * args.ceiling_records
    pki_ms = (after.get("dev PKI", 0.0) - before.get("dev PKI", 0.0)) * 1000 / done
    print(
        f"ceiling, in-process (tests.perf.bench_signing.throughput: {args.replicas} process(es) "
        f"x {concurrency} at once, {done} records, render + 3 signatures + document "
        f"timestamp): {rate:,.1f} records/s; CPU {cpu_ms:,.1f} ms/record in the signing "
        f"processes, {pki_ms:,.1f} in the dev PKI"
    )
    return rate, cpu_ms


@dataclass
class Run:
    """What the measured phases work with."""

    args: argparse.Namespace
    kafka: KafkaSettings
    topics: Topics
    session: aiohttp.ClientSession
    replicas: list[SigningReplica]
    meter: CpuMeter
    partitions: int
    group: str


async def measure(
    run: Run, pages: list[Page], warm_rounds: list[list[Page]], ceiling: tuple[float, float]
) -> None:
    """Warm-up, phase A, phase B, and what they cost; prints as it goes."""
    args, kafka, session, replicas = run.args, run.kafka, run.session, run.replicas
    topics = run.topics
    meter, partitions, group = run.meter, run.partitions, run.group
    ceiling_rate, ceiling_cpu_ms = ceiling
    keys = {p.record_key for p in pages}
    # Warm-up: a page per partition until every replica renders its share (the group has
    # settled and every partition's state is restored), then those pages signed.
    started = time.monotonic()
    warm: list[Page] = []
    for round_pages in warm_rounds:
        before = rendered(await scrape(session, replicas))
        await publish_pages(kafka, topics, round_pages)
        warm += round_pages
        _, snapshot = await wait_rendered(session, replicas, sum(before) + len(round_pages), 180)
        shares = [a - b for a, b in zip(rendered(snapshot), before, strict=True)]
        if all(shares) and sum(shares) == len(round_pages):
            break
        await asyncio.sleep(3)  # a rebalance under way
    else:
        raise SystemExit(f"the group did not settle: pages per replica {shares}")
    watch = OutputWatch(kafka, topics, partitions, keys={p.record_key for p in warm})
    await watch.start()
    try:
        await publish_approvals(kafka, topics, [p.record_key for p in warm], (0, 1))
        await wait_signed(watch, watch.keys, replicas, 300)
    finally:
        await watch.stop()
    print(
        f"warm-up: {len(warm)} pages (one per partition and round) rendered and signed in "
        f"{time.monotonic() - started:.1f} s; pages per replica in the last round {shares}"
    )
    state_start = await end_offsets(kafka, topics.state, partitions)
    validated_end: dict[TopicPartition, int] = {}

    # Phase A: a backlog of validated records rendered.
    metrics_a = await scrape(session, replicas)
    _signal(replicas, signal.SIGSTOP)
    try:
        await publish_pages(kafka, topics, pages)
        validated_end = await end_offsets(kafka, topics.validated, partitions)
        cpu_a = meter.sample()
        started_a = time.monotonic()
    finally:
        _signal(replicas, signal.SIGCONT)
    done_a, _ = await wait_rendered(
        session, replicas, sum(rendered(metrics_a)) + len(pages), args.timeout
    )
    wall_a = done_a - started_a
    # CPU and the service's metrics once the last batch's transaction is committed too.
    while not await committed_up_to(kafka, group, validated_end):
        await asyncio.sleep(POLL_S)
    committed_a = time.monotonic() - started_a
    cpu_a_end = meter.sample()
    metrics_a_end = await scrape(session, replicas)
    print(
        f"phase A, {len(pages)} validated records rendered (a backlog, from SIGCONT): "
        f"{len(pages) / wall_a:,.1f} records/s ({wall_a:.1f} s; the last batch committed "
        f"after {committed_a:.1f} s)"
    )
    print("  " + cpu_line(cpu_a, cpu_a_end, len(pages)))
    for line in service_lines(metrics_a_end, metrics_a, committed_a, len(replicas)):
        print(line)
    state_cut = await end_offsets(kafka, topics.state, partitions)

    # Phase B: every record's two approvals; the service signs three times and timestamps.
    # Split: all teachers' approvals first (each page's once-signed PDF goes back to the
    # state topic), then the principals', as when they approve on different days.
    windows: list[tuple[str, Sequence[int]]] = [("both approvals", (0, 1))]
    if args.split_approvals:
        windows = [("teacher approvals", (0,)), ("principal approvals", (1,))]
    record_keys = [p.record_key for p in pages]
    walls: list[float] = []
    cpu_b: list[tuple[dict[str, float], dict[str, float]]] = []
    watch = OutputWatch(kafka, topics, partitions, keys=keys)
    await watch.start()
    try:
        metrics_b = await scrape(session, replicas)
        for label, roles in windows:
            _signal(replicas, signal.SIGSTOP)
            try:
                await publish_approvals(kafka, topics, record_keys, roles)
                accepted_end = await end_offsets(kafka, topics.accepted, partitions)
                cpu_start = meter.sample()
                started_b = time.monotonic()
            finally:
                _signal(replicas, signal.SIGCONT)
            if 1 in roles:
                await wait_signed(watch, keys, replicas, args.timeout)
            # Until the service committed every approval (the teacher-only window ends here).
            deadline = time.monotonic() + args.timeout
            while not await committed_up_to(kafka, group, accepted_end):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{label}: not all committed after {args.timeout:.0f} s")
                await watch.poll()
            cpu_b.append((cpu_start, meter.sample()))
            ended = max(watch.signed_at.values()) if 1 in roles else time.monotonic()
            walls.append(ended - started_b)
            if len(windows) > 1:
                print(
                    f"phase B, {label} ({len(pages)}, a backlog, from SIGCONT): "
                    f"{len(pages) / walls[-1]:,.1f} records/s ({walls[-1]:.1f} s)"
                )
                print("    " + cpu_line(*cpu_b[-1], len(pages)))
        metrics_b_end = await scrape(session, replicas)
    finally:
        await watch.stop()
    signed = len(watch.signed_at)
    if not signed:
        raise SystemExit(f"nothing signed; refusals {dict(watch.refusals)}")
    wall_b = sum(walls)
    rate_b = signed / wall_b
    print(
        f"phase B, {2 * len(pages)} approvals → {signed} SignedRecords committed (a backlog"
        f"{' per window' if len(windows) > 1 else ''}, from SIGCONT): {rate_b:,.1f} records/s "
        f"fully signed ({wall_b:.1f} s); ratio to the in-process ceiling "
        f"{rate_b / ceiling_rate:.2f}"
    )
    refusals = ", ".join(f"{code} {n}" for code, n in sorted(watch.refusals.items())) or "none"
    print(f"  refusals on {topics.rejected} for this run's records: {refusals}")
    cpu_b_used = {n: sum(b[n] - a[n] for a, b in cpu_b) for n in cpu_b[0][0]}
    print("  " + cpu_line({}, cpu_b_used, signed))
    for line in service_lines(metrics_b_end, metrics_b, wall_b, len(replicas)):
        print(line)
    sizes = list(watch.signed_bytes.values())
    print(
        f"  SignedRecord messages: {statistics.mean(sizes) / 1024:,.0f} KB on average "
        "(the PDF inside)"
    )

    # Both phases together: what the in-process figure does per record (render + sign).
    wall = wall_a + wall_b
    service_cpu = sum(
        (cpu_a_end[n] - cpu_a[n]) + cpu_b_used[n] for n in cpu_a if n.startswith("signing-")
    )
    cpu_ms = service_cpu * 1000 / len(pages)
    print(
        f"render + sign through the service (A + B): {len(pages) / wall:,.1f} records/s, ratio "
        f"to the in-process ceiling {len(pages) / wall / ceiling_rate:.2f}; CPU in the "
        f"signing processes {cpu_ms:,.1f} ms/record vs {ceiling_cpu_ms:,.1f} in-process "
        f"({cpu_ms / ceiling_cpu_ms:.2f}x)"
    )
    during_a, during_b, largest = await read_state(kafka, state_start, keys, state_cut)
    line = (
        f"state ({topics.state}) written for this run: phase A {len(during_a)} entries, "
        f"{sum(during_a) / 1024 / len(pages):,.0f} KB/record; phase B {len(during_b)} entries, "
        f"{sum(during_b) / 1024 / len(pages):,.0f} KB/record"
    )
    if largest:
        decode_ms, encode_ms = state_codec_cost(largest)
        line += (
            f"; the largest entry {len(largest) / 1024:,.0f} KB decodes in {decode_ms:.2f} ms "
            f"and encodes in {encode_ms:.2f} ms"
        )
    print(line)
    if args.transaction_probe and during_a:
        batch = int(SigningSettings.from_env(replicas[0].env).max_batch)
        state_kb = statistics.mean(during_a)
        small = int(statistics.mean(during_b)) if during_b else 1024
        shapes = [
            ("1 message of 1 KB", [1024]),
            (
                f"phase A's: {batch} state entries of {state_kb / 1024:,.0f} KB",
                [int(state_kb)] * batch,
            ),
            (
                f"phase B's: {batch // 2} SignedRecords of {statistics.mean(sizes) / 1024:,.0f} KB "
                f"+ {batch // 2} state entries of {small / 1024:,.1f} KB",
                [int(statistics.mean(sizes))] * (batch // 2) + [small] * (batch // 2),
            ),
        ]
        for shape, (wall_ms, cpu_ms_txn) in zip(
            shapes, await transaction_probe(kafka, run.group, shapes), strict=True
        ):
            print(
                f"Kafka transaction alone (this harness's aiokafka producer, back to back, "
                f"median of 10), {shape[0]}: {wall_ms:,.0f} ms, {cpu_ms_txn:,.0f} ms CPU"
            )


async def transaction_probe(
    kafka: KafkaSettings, group: str, shapes: Sequence[tuple[str, list[int]]]
) -> list[tuple[float, float]]:
    """Wall and CPU milliseconds of a transaction carrying messages of these sizes.

    Produced as the pipeline produces (transactional, idempotent, linger 1 s, the consumed
    offsets sent to the transaction), to a temporary topic deleted afterwards.
    """
    topic = f"bench.txn.{group.rsplit('-', 1)[-1]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    found: list[tuple[float, float]] = []
    try:
        await admin.create_topics(
            [NewTopic(topic, 12, 1, topic_configs={"max.message.bytes": str(4 * 1024 * 1024)})]
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            transactional_id=f"{group}-probe",
            enable_idempotence=True,
            acks="all",
            linger_ms=1000,
            max_request_size=4 * 1024 * 1024 + 65_536,
        )
        await producer.start()
        try:
            for _, sizes in shapes:
                payloads = [os.urandom(size) for size in sizes]
                walls, cpus = [], []
                for attempt in range(12):
                    wall, cpu = time.perf_counter(), time.process_time()
                    async with producer.transaction():
                        for number, payload in enumerate(payloads):
                            key = f"{attempt}-{number}".encode()
                            await producer.send(topic, payload, key=key)
                        await producer.send_offsets_to_transaction(
                            {TopicPartition(topic, 0): attempt}, f"{group}-probe"
                        )
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.process_time() - cpu)
                # The first two warm the producer up (metadata, first segments).
                found.append(
                    (statistics.median(walls[2:]) * 1000, statistics.median(cpus[2:]) * 1000)
                )
        finally:
            await producer.stop()
    finally:
        with contextlib.suppress(Exception):  # leave no temporary topic behind if it can be helped
            await admin.delete_topics([topic])
        await admin.close()
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=600, help="records through the service")
    parser.add_argument("--replicas", type=int, default=1, help="signing service instances")
    parser.add_argument(
        "--ceiling-records", type=int, default=150, help="records per in-process worker (≤ 199)"
    )
    parser.add_argument("--max-batch", type=int, help="HOCBA_SIGNING_MAX_BATCH of the replicas")
    parser.add_argument("--concurrency", type=int, help="HOCBA_SIGNING_CONCURRENCY of the replicas")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per phase at most")
    parser.add_argument(
        "--private-topics",
        action="store_true",
        help="run on private copies of the stage's topics, deleted afterwards (leaves no trace "
        "on the platform's topics; safe while others use the stack)",
    )
    parser.add_argument(
        "--split-approvals",
        action="store_true",
        help="phase B in two windows: every teacher's approval, then every principal's",
    )
    parser.add_argument(
        "--no-transaction-probe",
        dest="transaction_probe",
        action="store_false",
        help="skip timing bare Kafka transactions shaped like the service's batches",
    )
    parser.add_argument("--serve-group", help=argparse.SUPPRESS)  # the replicas' side
    parsed = parser.parse_args()
    if not 1 <= parsed.ceiling_records <= 199:
        # bench_signing's workers sign pages of one generated 200-record year, one of them
        # as a warm-up: asking for more silently signs fewer.
        parser.error("--ceiling-records must be between 1 and 199")
    if parsed.serve_group:
        sys.exit(serve(parsed.serve_group))
    asyncio.run(main(parsed))
