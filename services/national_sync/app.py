"""The national-sync service (đồng bộ CSDL ngành): stored record versions → the national database.

Shortest use::

    python -m services.national_sync          # or: hocba run national-sync

How a batch goes (``hocba.records.stored``, up to ``HOCBA_SYNC_MAX_BATCH`` messages):

1. every version in it is delivered (:mod:`.delivery`), ``HOCBA_SYNC_CONCURRENCY`` at a time,
   each until delivered or given up; every attempt goes out on ``hocba.sync.status`` as it
   happens, every given-up version on ``hocba.sync.dlq`` with its whole history;
2. meanwhile the consumer keeps its group membership but fetches nothing more (its partitions
   are paused): during an outage the breaker holds the batch, consumption waits, and no
   offset moves;
3. the last word on each version goes to the ``national_sync`` table, the producer is
   flushed, and only then are the batch's offsets committed.

A crash anywhere before step 3 re-delivers the batch to whoever consumes next: the national
side answers 200 "already have it" for what it holds (the PUT is idempotent on the version),
so each version is stored there exactly once; status messages of a re-delivered batch may
repeat (at least once, by design). Versions without a signed PDF are skipped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Counter, Gauge, Histogram

from services.core.national import VersionKey
from services.messaging.codec import AvroCodec, Decoded, default_codec
from services.messaging.kafka import make_consumer, make_producer
from services.messaging.metrics import ServiceMetrics
from services.messaging.service import ServiceShell, run_service
from services.national_sync.client import Answer, NationalClient
from services.national_sync.delivery import Attempt, Deliverer, Delivery
from services.national_sync.policy import Breaker, BreakerState
from services.national_sync.settings import SyncSettings
from services.national_sync.store import SyncStore

__all__ = ["SyncMetrics", "SyncService", "main"]

_log = logging.getLogger("hocba.national_sync")
_SERVICE = "national-sync"
STORED = "vn.edu.hocba.StoredRecord"
STATUS = "vn.edu.hocba.SyncStatus"
DEAD_LETTER = "vn.edu.hocba.DeadLetter"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class SyncMetrics:
    """National-sync metrics (alert-worthy ones named in docs/metrics.md)."""

    shared: ServiceMetrics

    def __post_init__(self) -> None:
        r, labels = self.shared.registry, ["service"]
        self.attempts = Counter(
            "hocba_sync_attempts_total",
            "Delivery attempts to the national database, by outcome (SyncOutcome).",
            [*labels, "outcome"],
            registry=r,
        )
        self.attempt_seconds = Histogram(
            "hocba_sync_attempt_seconds",
            "Duration of one delivery attempt (HTTP PUT), by outcome.",
            [*labels, "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.versions = Counter(
            "hocba_sync_versions_total",
            "Versions finished, by result: DELIVERED, ALREADY_PRESENT, DEAD_LETTERED, SKIPPED.",
            [*labels, "result"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "hocba_sync_breaker_state",
            "Circuit breaker in front of the national database: 0 closed, 1 half-open, 2 open.",
            labels,
            registry=r,
        )
        self.dlq_size = Gauge(
            "hocba_sync_dlq_size",
            "Versions dead-lettered and not yet replayed (from the national_sync table).",
            labels,
            registry=r,
        )
        self.backlog_age = Gauge(
            "hocba_sync_backlog_age_seconds",
            "Age of the oldest version being delivered (now - stored_at); 0 when idle.",
            labels,
            registry=r,
        )
        self.last_success = Gauge(
            "hocba_sync_last_success_timestamp_seconds",
            "Unix time of the last version the national side acknowledged.",
            labels,
            registry=r,
        )

    def on_attempt(self, key: VersionKey, attempt: Attempt, answer: Answer) -> None:
        service = self.shared.service
        self.attempts.labels(service, attempt.outcome).inc()
        self.attempt_seconds.labels(service, attempt.outcome).observe(answer.latency_seconds)
        if answer.kind.delivered:
            self.last_success.labels(service).set(time.time())


class SyncService:
    """The consumer loop, the deliverer and the HTTP shell of one replica."""

    def __init__(
        self,
        settings: SyncSettings,
        pool: asyncpg.Pool,
        national: NationalClient,
        *,
        codec: AvroCodec | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec or default_codec()
        shared = metrics or ServiceMetrics(_SERVICE)
        self.metrics = SyncMetrics(shared)
        self.store = SyncStore(pool)
        self.pool = pool
        self.national = national
        self.breaker = Breaker(
            failure_threshold=settings.breaker_failures,
            cooldown_seconds=settings.breaker_cooldown_s,
            on_change=self._breaker_changed,
        )
        self.deliverer = Deliverer(
            national, settings.backoff, self.breaker, on_attempt=self._on_attempt
        )
        self.consumer: AIOKafkaConsumer = make_consumer(
            settings.kafka,
            settings.stored_topic,
            group_id=settings.group_id,
            max_poll_interval_ms=300_000,
        )
        self.producer: AIOKafkaProducer = make_producer(settings.kafka)
        self.shell = ServiceShell(metrics=shared, host=settings.http_host, port=settings.http_port)
        self.shell.ready_checks = [self.ready]
        self._started = False
        #: stored_at of the versions being delivered (backlog age), their datums (statuses).
        self._in_flight: dict[VersionKey, dt.datetime] = {}
        self._in_flight_datum: dict[VersionKey, Mapping[str, Any]] = {}
        #: Status and dead-letter sends of the batch in hand, awaited before its commit.
        self._sends: list[asyncio.Future[asyncio.Future[Any]]] = []
        self.metrics.breaker_state.labels(shared.service).set(0)

    async def ready(self) -> bool:
        return self._started

    def _breaker_changed(self, state: BreakerState) -> None:
        self.metrics.breaker_state.labels(self.metrics.shared.service).set(int(state))
        _log.warning("national database breaker %s", state.name)

    def _on_attempt(self, key: VersionKey, attempt: Attempt, answer: Answer) -> None:
        self.metrics.on_attempt(key, attempt, answer)
        stored = self._in_flight_datum.get(key)
        status = {
            "record_id": key.record_id,
            "version": key.version,
            "school_code": stored["school_code"] if stored else "",
            "outcome": attempt.outcome,
            "attempt": attempt.attempt,
            "http_status": attempt.http_status,
            "detail": attempt.detail,
            "latency_ms": attempt.latency_ms,
            "at": attempt.at,
        }
        self._sends.append(
            asyncio.ensure_future(
                self.producer.send(
                    self.settings.status_topic,
                    self.codec.encode(STATUS, status),
                    key=str((stored or {}).get("record_key", key.record_id)).encode(),
                )
            )
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop``; the batch in hand is finished (or its offsets left)."""
        await self.producer.start()
        await self.consumer.start()
        self._started = True
        self.metrics.shared.up.labels(self.metrics.shared.service).set(1)
        try:
            await self._refresh_dlq_size()
            while not stop.is_set():
                fetched = await self.consumer.getmany(
                    timeout_ms=500, max_records=self.settings.max_batch
                )
                records = [r for batch in fetched.values() for r in batch]
                if not records:
                    self.metrics.backlog_age.labels(self.metrics.shared.service).set(0)
                    await self._record_lag()
                    continue
                finished = await self._hold_while(self._deliver_all(records), stop)
                if finished is None:
                    return  # stopped mid-batch: offsets stay, the batch is re-delivered
                await self._settle(fetched, finished)
                await self._record_lag()
        finally:
            self._started = False
            self.metrics.shared.up.labels(self.metrics.shared.service).set(0)
            await self.consumer.stop()
            await self.producer.stop()

    async def _hold_while(
        self, work: Coroutine[Any, Any, list[Delivery]], stop: asyncio.Event
    ) -> list[Delivery] | None:
        """Run a batch's deliveries while the consumer stays in its group without fetching."""
        task = asyncio.create_task(work)
        paused = self.consumer.assignment()
        self.consumer.pause(*paused)
        try:
            while not task.done():
                if stop.is_set():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    return None
                # Paused partitions return nothing; the call keeps the poll interval alive.
                await self.consumer.getmany(timeout_ms=200)
                self._update_backlog_age()
            return task.result()
        finally:
            self.consumer.resume(*[tp for tp in paused if tp in self.consumer.assignment()])

    async def _deliver_all(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Delivery]:
        limit = asyncio.Semaphore(self.settings.concurrency)
        self._in_flight_datum = {}
        stored: list[dict[str, Any]] = []
        for record in records:
            decoded = self.codec.decode(record.value or b"", expected=STORED)
            if not isinstance(decoded, Decoded):
                self.metrics.shared.reject(decoded.code, None)
                _log.error("undecodable stored record", extra={"code": decoded.code})
                continue
            datum = decoded.value
            if not datum.get("pdf_sha256"):
                self.metrics.versions.labels(self.metrics.shared.service, "SKIPPED").inc()
                continue
            key = VersionKey(datum["record_id"], datum["school_year"], datum["version"])
            if key in self._in_flight_datum:
                continue  # the same version twice in one batch: once is enough
            self._in_flight_datum[key] = datum
            self._in_flight[key] = datum["stored_at"]
            stored.append(datum)

        async def one(datum: dict[str, Any]) -> Delivery:
            async with limit:
                delivery = await self.deliverer.deliver(datum)
                self._in_flight.pop(delivery.key, None)
                return delivery

        shared = self.metrics.shared
        shared.messages_in.labels(shared.service, self.settings.stored_topic).inc(len(records))
        shared.in_flight.labels(shared.service).set(len(stored))
        try:
            return list(await asyncio.gather(*(one(d) for d in stored)))
        finally:
            self.metrics.shared.in_flight.labels(self.metrics.shared.service).set(0)

    async def _settle(
        self,
        fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        deliveries: list[Delivery],
    ) -> None:
        """Dead letters out, statuses flushed, sync state written, then offsets committed."""
        now = dt.datetime.now(dt.UTC)
        for delivery in deliveries:
            service = self.metrics.shared.service
            self.metrics.versions.labels(service, delivery.outcome).inc()
            if delivery.delivered:
                continue
            letter = {
                "stored": delivery.stored,
                "reason_code": delivery.reason_code or "E_SYNC_ATTEMPTS_EXHAUSTED",
                "attempts": [a.as_datum() for a in delivery.attempts],
                "dead_lettered_at": now,
            }
            _log.warning(
                "dead-lettered",
                extra={"version": str(delivery.key), "reason": delivery.reason_code},
            )
            self._sends.append(
                asyncio.ensure_future(
                    self.producer.send(
                        self.settings.dlq_topic,
                        self.codec.encode(DEAD_LETTER, letter),
                        key=str(delivery.stored["record_key"]).encode(),
                    )
                )
            )
        # Every status and dead letter acknowledged by the broker before the offsets move.
        for queued in await asyncio.gather(*self._sends):
            record = await queued
            self.metrics.shared.messages_out.labels(self.metrics.shared.service, record.topic).inc()
        self._sends = []
        if deliveries:
            await self.store.record(deliveries)
        offsets = {tp: batch[-1].offset + 1 for tp, batch in fetched.items() if batch}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions: their new owner re-delivers the batch, which
            # the national side answers with 200 (already present).
            _log.warning("offsets not committed (%s); the batch will be re-delivered", exc)
        await self._refresh_dlq_size()

    def _update_backlog_age(self) -> None:
        oldest = min(self._in_flight.values(), default=None)
        age = 0.0 if oldest is None else (dt.datetime.now(dt.UTC) - oldest).total_seconds()
        self.metrics.backlog_age.labels(self.metrics.shared.service).set(max(age, 0.0))

    async def _refresh_dlq_size(self) -> None:
        try:
            size = await self.store.dead_letter_count()
        except (asyncpg.PostgresError, OSError) as exc:
            _log.warning("cannot count dead letters: %s", exc)
            return
        self.metrics.dlq_size.labels(self.metrics.shared.service).set(size)

    async def _record_lag(self) -> None:
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                continue
            position = await self.consumer.position(tp)
            self.metrics.shared.consumer_lag.labels(
                self.metrics.shared.service, tp.topic, str(tp.partition)
            ).set(max(end - position, 0))

    async def serve(self) -> None:
        """Serve HTTP and consume until SIGTERM/SIGINT."""
        await self.shell.serve([self.run])


async def _serve(settings: SyncSettings) -> None:
    pool = await asyncpg.create_pool(
        settings.pg_dsn,
        min_size=1,
        max_size=4,
        server_settings={"application_name": "hocba-national-sync"},
    )
    try:
        async with NationalClient(settings.national) as national:
            await SyncService(settings, pool, national).serve()
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the national-sync service; 0 after a clean stop, 1 on a fatal error, 2 bad config."""
    return run_service(
        argv,
        prog="hocba run national-sync",
        description="National sync: hocba.records.stored → the national education database "
        "(HOCBA_NATIONAL_URL), with retries, a circuit breaker and dead letters. Configured "
        "by HOCBA_* environment variables (see services/national_sync/settings.py).",
        load=SyncSettings.from_env,
        serve=_serve,
        fatal=(OSError, asyncpg.PostgresError, KafkaError),
        log=_log,
    )
