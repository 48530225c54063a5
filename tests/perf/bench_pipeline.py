"""Pipeline benchmark: ingestion → validation on the local stack.

(Records reach storage only once signed, which waits for people's approvals: the
signing stage has its own benchmark, ``tests/perf/bench_signing.py``.)

Run (the stack up, no platform service running)::

    .venv/bin/python -m tests.perf.bench_pipeline [--schools 12] [--rate 1000] [--replicas 1]

Prints, all measured in the same run on the same broker:

* the ceiling: raw aiokafka consume throughput of the same encoded events;
* warm-up: a smaller backlog first (a fresh broker's JVM runs cold), reported apart;
* backlog: a generated school year already on ``hocba.vendor.events`` (published while
  ingestion was paused with SIGSTOP) drained through ingestion and validation, in
  events/s from SIGCONT to the last record judged (vendors' producers do not run on the
  platform's machine in production);
* live: the same amount published as fast as Kafka takes it while all three services
  run (the publisher sends pre-encoded bytes, as a vendor's system would), timed
  from the first publish to the last record judged;
* CPU: seconds of CPU each process (services, broker, PostgreSQL, this harness) used
  in each window, per event — where the machine's two cores went;
* latency at a steady rate (default 1,000 events/s): for each record, the time from
  publishing its year-end submission to seeing it on ``hocba.records.validated``,
  p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import statistics
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.cli.demo import DemoYear, OutcomeWatch, prepare_vendor, school_year
from services.cli.supervisor import SERVICES, ServiceProcesses
from services.core.avro_types import VendorEvent
from services.core.synthetic import GeneratorSettings
from services.messaging.codec import default_codec
from services.messaging.kafka import KafkaSettings, make_consumer, make_producer, record_key
from services.messaging.topics import VENDOR_EVENTS
from services.stack import StackSettings

VENDOR = "bench-vendor"
LOGS = Path(__file__).resolve().parents[2] / "artifacts" / "bench"


async def raw_consume_rate(kafka: KafkaSettings, events: list[VendorEvent]) -> float:
    """Events/s one aiokafka consumer reads and decodes from a 12-partition topic: the ceiling."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 12, 1)])
        codec = default_codec()
        producer = make_producer(kafka)
        await producer.start()
        for event in events:
            key = record_key(event["school_code"], event["student_id"], event["school_year"])
            await producer.send(
                topic, codec.encode(VENDOR_EVENTS.value_schema, dict(event)), key=key
            )
        await producer.flush()
        await producer.stop()
        consumer = make_consumer(kafka, group_id=None)
        await consumer.start()
        partitions = [TopicPartition(topic, p) for p in range(12)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Timed from the first fetch request: decoding is included, as the services do it.
        started = time.perf_counter()
        read = 0
        while read < len(events):
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batch.values():
                for message in messages:
                    codec.decode(message.value, expected=VENDOR_EVENTS.value_schema)
                read += len(messages)
        elapsed = time.perf_counter() - started
        await consumer.stop()
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    return len(events) / max(elapsed, 1e-9)


async def until_judged(watch: OutcomeWatch, year: DemoYear, timeout: float) -> float:
    """Wait until validation answered every record; return when the last answer came."""
    deadline = time.monotonic() + timeout
    while not watch.judged(year):
        if time.monotonic() > deadline:
            raise SystemExit(f"not judged after {timeout:.0f} s")
        await watch.poll(timeout_ms=100)
    return max([*watch.judged_at.values(), *watch.refused_at.values()])


Encoded = list[tuple[bytes, bytes]]


def encode_events(events: list[VendorEvent]) -> Encoded:
    """(key, value) of each event, encoded once up front as a vendor's system would."""
    codec = default_codec()
    return [
        (
            record_key(e["school_code"], e["student_id"], e["school_year"]),
            codec.encode(VENDOR_EVENTS.value_schema, dict(e)),
        )
        for e in events
    ]


async def publish_encoded(kafka: KafkaSettings, encoded: Encoded) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for key, value in encoded:
            await producer.send(VENDOR_EVENTS.name, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


class CpuMeter:
    """CPU seconds used by the platform's processes (Linux /proc), for "where did it go"."""

    def __init__(self, replicas: list[ServiceProcesses]) -> None:
        self.replicas = replicas
        self.tick = os.sysconf("SC_CLK_TCK")

    def _cpu(self, pid: int) -> float:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # exited meanwhile
            return 0.0
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _pids(self, matches: str) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if matches.encode() in cmdline:
                found.append(int(entry.name))
        return found

    def sample(self) -> dict[str, float]:
        sample: dict[str, float] = {}
        for replica in self.replicas:
            for name, process in replica.running.items():
                sample[name] = sample.get(name, 0.0) + self._cpu(process.pid)
        sample["broker"] = sum(self._cpu(pid) for pid in self._pids("kafka.Kafka"))
        sample["postgres"] = sum(self._cpu(pid) for pid in self._pids("postgres"))
        times = os.times()
        sample["harness"] = times.user + times.system
        return sample


def cpu_line(before: dict[str, float], after: dict[str, float], events: int) -> str:
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    parts = [f"{name} {seconds * 1e6 / events:,.0f}" for name, seconds in used.items()]
    total = sum(used.values()) * 1e6 / events
    return f"CPU µs per event: {', '.join(parts)}; total {total:,.0f}"


async def backlog(
    kafka: KafkaSettings,
    year: DemoYear,
    replicas: list[ServiceProcesses],
    meter: CpuMeter,
    ceiling: float,
    label: str = "backlog",
) -> None:
    """A backlog drained by ingestion+validation."""
    watch = OutcomeWatch(kafka, {year.key_of(r) for r in year.records})
    await watch.start()
    encoded = encode_events(year.events)
    ingestion = [r.running["ingestion"].pid for r in replicas]
    _signal(ingestion, signal.SIGSTOP)
    try:
        # Paused for a second or two: well inside the consumer session timeout.
        await publish_encoded(kafka, encoded)
        before = meter.sample()
        started = time.monotonic()
        _signal(ingestion, signal.SIGCONT)
        last = await until_judged(watch, year, timeout=600)
        judged = len(year.events) / (last - started)
        print(
            f"{label} through ingestion+validation: {judged:,.0f} events/s "
            f"(ratio to the ceiling {judged / ceiling:.2f}; {len(year.events)} events "
            f"in {last - started:.1f} s)"
        )
        print("  " + cpu_line(before, meter.sample(), len(year.events)))
    finally:
        _signal(ingestion, signal.SIGCONT)
        await watch.stop()


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        os.kill(pid, signum)


async def live(kafka: KafkaSettings, year: DemoYear, meter: CpuMeter) -> float:
    """Events/s through ingestion+validation while the events are published."""
    watch = OutcomeWatch(kafka, {year.key_of(r) for r in year.records})
    await watch.start()
    encoded = encode_events(year.events)
    try:
        before = meter.sample()
        started = time.monotonic()
        publishing = asyncio.create_task(publish_encoded(kafka, encoded))
        last = await until_judged(watch, year, timeout=600)
        await publishing
        judged = len(year.events) / (last - started)
        print("  " + cpu_line(before, meter.sample(), len(year.events)))
        return judged
    finally:
        await watch.stop()


async def latency(kafka: KafkaSettings, year: DemoYear, rate: float) -> list[float]:
    """Publish at ``rate`` events/s; per record, year-end published → validated seen."""
    codec = default_codec()
    watch = OutcomeWatch(kafka, {year.key_of(r) for r in year.records})
    await watch.start()
    producer = make_producer(kafka, linger_ms=0)
    await producer.start()
    published_last: dict[str, float] = {}
    try:
        tick = 0.05
        per_tick = max(1, int(rate * tick))
        started = time.monotonic()
        for i in range(0, len(year.events), per_tick):
            for event in year.events[i : i + per_tick]:
                key = record_key(event["school_code"], event["student_id"], event["school_year"])
                await producer.send(
                    VENDOR_EVENTS.name,
                    codec.encode(VENDOR_EVENTS.value_schema, dict(event)),
                    key=key,
                )
                published_last[key.decode()] = time.monotonic()
            await watch.poll(timeout_ms=0)
            wait = started + (i // per_tick + 1) * tick - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        await producer.flush()
        await until_judged(watch, year, timeout=300)
    finally:
        await producer.stop()
        await watch.stop()
    return [watch.judged_at[k] - published_last[k] for k in watch.judged_at]


def _percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


async def main(args: argparse.Namespace) -> None:
    stack = StackSettings.from_env()
    kafka = KafkaSettings.from_env()
    settings = GeneratorSettings(
        schools=args.schools, students_per_class=args.students_per_class, invalid_share=0.05
    )
    seed = int(time.time())
    drained = school_year(settings, seed, VENDOR)
    # A freshly started broker and services run cold (the JVM's JIT, first segments, caches):
    # a smaller backlog first, reported as warm-up, not as the figure.
    warm_up = school_year(
        GeneratorSettings(
            schools=max(1, args.schools // 4), students_per_class=args.students_per_class
        ),
        seed + 3,
        VENDOR,
    )
    big = school_year(settings, seed + 1, VENDOR)
    paced = school_year(
        GeneratorSettings(schools=2, students_per_class=args.students_per_class), seed + 2, VENDOR
    )
    await prepare_vendor(
        stack.pg_dsn,
        VENDOR,
        drained.school_codes | big.school_codes | paced.school_codes | warm_up.school_codes,
        dt.date(2024, 8, 1),
    )
    print(
        f"generated {len(big.records)} records / {len(big.events)} events (backlog and live "
        f"runs, each), {len(paced.records)} records / {len(paced.events)} events (latency run)"
    )
    ceiling = await raw_consume_rate(kafka, big.events)
    print(
        f"ceiling: one aiokafka consumer reading + decoding the same events: "
        f"{ceiling:,.0f} events/s"
    )
    # Replica 0 runs all three services; the others add ingestion and validation
    # instances (their own instance ids and HTTP ports), as an operator scales out.
    replicas = [ServiceProcesses(LOGS)]
    for number in range(1, args.replicas):
        env = dict(replicas[0].env, HOCBA_INSTANCE_ID=str(number))
        for name in ("ingestion", "validation"):
            variable = SERVICES[name].port_variable
            env[variable] = str(SERVICES[name].port(replicas[0].env) + 100 * number)
        replicas.append(ServiceProcesses(LOGS / f"replica-{number}", env=env))
    meter = CpuMeter(replicas)
    try:
        for name in ("ingestion", "validation"):
            replicas[0].start(name)
        for replica in replicas[1:]:
            for name in ("ingestion", "validation"):
                replica.start(name)
        if len(replicas) > 1:
            await asyncio.sleep(5)  # let the consumer groups settle on their members
        await backlog(kafka, warm_up, replicas, meter, ceiling, label="warm-up")
        await backlog(kafka, drained, replicas, meter, ceiling)
        judged = await live(kafka, big, meter)
        print(
            f"live through ingestion+validation: {judged:,.0f} events/s "
            f"(ratio to the ceiling {judged / ceiling:.2f})"
        )
        delays = await latency(kafka, paced, args.rate)
        print(
            f"latency at {args.rate:,.0f} events/s, year-end published → validated "
            f"({len(delays)} records): p50 {_percentile(delays, 50) * 1000:,.0f} ms, "
            f"p99 {_percentile(delays, 99) * 1000:,.0f} ms"
        )
    finally:
        for replica in replicas:
            replica.stop_all()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=6)
    parser.add_argument("--students-per-class", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument(
        "--replicas", type=int, default=1, help="instances of ingestion and of validation"
    )
    asyncio.run(main(parser.parse_args()))
