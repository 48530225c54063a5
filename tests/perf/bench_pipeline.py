"""Pipeline benchmark: ingestion → validation → storage on the local stack.

Run (the stack up, no platform service running)::

    .venv/bin/python -m tests.perf.bench_pipeline [--students-per-class 20] [--rate 1000]

Prints, all measured in the same run on the same broker:

* the ceiling: raw aiokafka consume throughput of the same encoded events;
* throughput: a generated school year published as fast as Kafka takes it, timed
  from the first publish to the last record stored (or refused), in events/s, and
  its ratio to the ceiling;
* latency at a steady rate (default 1,000 events/s): for each record, the time from
  publishing its year-end submission to seeing it on ``hocba.records.stored``,
  p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.cli.demo import DemoYear, OutcomeWatch, prepare_vendor, publish_kafka, school_year
from services.cli.supervisor import ServiceProcesses
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


async def settle(watch: OutcomeWatch, year: DemoYear, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not watch.settled(year):
        if time.monotonic() > deadline:
            raise SystemExit(f"not settled after {timeout:.0f} s")
        await watch.poll(timeout_ms=100)


async def throughput(kafka: KafkaSettings, year: DemoYear) -> tuple[float, float]:
    """Events/s through ingestion+validation (last record judged) and through storage."""
    watch = OutcomeWatch(kafka, {year.key_of(r) for r in year.records})
    await watch.start()
    try:
        started = time.monotonic()
        publishing = asyncio.create_task(publish_kafka(kafka, year.events))
        await settle(watch, year, timeout=600)
        await publishing
        stored = len(year.events) / (time.monotonic() - started)
        judged = len(year.events) / (max(watch.judged_at.values()) - started)
        return judged, stored
    finally:
        await watch.stop()


async def latency(kafka: KafkaSettings, year: DemoYear, rate: float) -> list[float]:
    """Publish at ``rate`` events/s; per record, year-end published → stored seen."""
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
        await settle(watch, year, timeout=300)
    finally:
        await producer.stop()
        await watch.stop()
    return [watch.first_stored_at[k] - published_last[k] for k in watch.stored]


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
    big = school_year(settings, seed, VENDOR)
    paced = school_year(
        GeneratorSettings(schools=2, students_per_class=args.students_per_class), seed + 1, VENDOR
    )
    await prepare_vendor(
        stack.pg_dsn, VENDOR, big.school_codes | paced.school_codes, dt.date(2024, 8, 1)
    )
    print(
        f"generated {len(big.records)} records / {len(big.events)} events (throughput run), "
        f"{len(paced.records)} records / {len(paced.events)} events (latency run)"
    )
    ceiling = await raw_consume_rate(kafka, big.events)
    print(
        f"ceiling: one aiokafka consumer reading + decoding the same events: "
        f"{ceiling:,.0f} events/s"
    )
    processes = ServiceProcesses(LOGS)
    try:
        for name in ("ingestion", "validation", "storage"):
            processes.start(name)
        judged, stored = await throughput(kafka, big)
        print(
            f"throughput through ingestion+validation: {judged:,.0f} events/s "
            f"(ratio to the ceiling {judged / ceiling:.2f}); through storage: "
            f"{stored:,.0f} events/s (ratio {stored / ceiling:.2f})"
        )
        delays = await latency(kafka, paced, args.rate)
        print(
            f"latency at {args.rate:,.0f} events/s, year-end published → stored "
            f"({len(delays)} records): p50 {_percentile(delays, 50) * 1000:,.0f} ms, "
            f"p99 {_percentile(delays, 99) * 1000:,.0f} ms"
        )
    finally:
        processes.stop_all()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=6)
    parser.add_argument("--students-per-class", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000.0)
    asyncio.run(main(parser.parse_args()))
