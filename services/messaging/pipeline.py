"""Consume → handle → produce, exactly once per batch, for every Kafka-to-Kafka stage.

The handler is a plain coroutine: it gets a batch of consumed messages (and, for a
stateful stage, a :class:`StateBatch`) and returns the messages to emit. Delivery
lives here, once: the outputs, the state changes and the consumed offsets are
committed in one Kafka transaction, so a crash replays a batch whole or not at all.
Bad input is the handler's to answer with a coded rejection; it never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from services.messaging.kafka import KafkaSettings
from services.messaging.metrics import ServiceMetrics
from services.messaging.state import ChangelogState, StateBatch

__all__ = ["Handler", "Incoming", "Outgoing", "TransactionalPipeline"]

_log = logging.getLogger("hocba.pipeline")


@dataclass(frozen=True, slots=True)
class Incoming:
    """One consumed Kafka message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    #: Kafka record headers, as the producer set them.
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to produce; ``partition`` None lets the key choose it."""

    topic: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None
    #: Kafka record headers (metadata a consumer may read without decoding the value).
    headers: tuple[tuple[str, bytes], ...] = ()


_Fetched = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]

Handler = Callable[[Sequence[Incoming], StateBatch | None], Awaitable[Sequence[Outgoing]]]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, pipeline: TransactionalPipeline) -> None:
        self.pipeline = pipeline

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # Let the batch in hand commit before the partitions go elsewhere. State is
        # reconciled at the next assignment (ChangelogState.reassign).
        async with self.pipeline.batch_lock:
            self.pipeline.generation += 1
            self.pipeline.reconciled = set()
        # A partition that went elsewhere is no longer this replica's lag to report.
        metrics = self.pipeline.metrics
        for tp in revoked:
            with contextlib.suppress(KeyError):
                metrics.consumer_lag.remove(metrics.service, tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        # aiokafka may hand out records of the new assignment while this runs: the
        # run loop holds them back until ``reconciled`` names their partition.
        async with self.pipeline.batch_lock:
            self.pipeline.generation += 1
            state = self.pipeline.state
            if state is not None:
                restored = await state.reassign(
                    self.pipeline.settings, (tp.partition for tp in assigned)
                )
                _log.info("restored %d state keys from %s", restored, state.topic)
                metrics = self.pipeline.metrics
                metrics.state_keys.labels(metrics.service).set(len(state))
            self.pipeline.reconciled = set(assigned)


class TransactionalPipeline:
    """One consumer group member of a Kafka-to-Kafka stage with exactly-once batches."""

    def __init__(
        self,
        *,
        settings: KafkaSettings,
        topics: Sequence[str],
        group_id: str,
        transactional_id: str,
        handler: Handler,
        metrics: ServiceMetrics,
        state: ChangelogState | None = None,
        max_batch: int = 500,
        poll_timeout_ms: int = 200,
        linger_ms: int = 50,
        max_message_bytes: int = 4 * 1024 * 1024,
        on_committed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.topics = tuple(topics)
        self.group_id = group_id
        self.handler = handler
        #: Runs after each batch's transaction committed: for work that must only follow
        #: durable outputs (ingestion records accepted event ids here).
        self.on_committed = on_committed
        self.metrics = metrics
        self.state = state
        self.max_batch = max_batch
        self.poll_timeout_ms = poll_timeout_ms
        self.linger_ms = linger_ms
        self.ready = False
        # Held while a batch is processed and while a rebalance reconciles state;
        # ``generation`` tells a batch fetched before a rebalance from one after it.
        self.batch_lock = asyncio.Lock()
        self.generation = 0
        # Partitions whose state is restored: aiokafka may hand out records of a new
        # assignment before the rebalance listener has run; those wait.
        self.reconciled: set[TopicPartition] = set()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-{metrics.service}",
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # A stateful stage reading several topics keyed alike (signing: validated
            # records and approvals) must own partition p of every one of them, since its
            # state for partition p covers both: the range assignor co-partitions them.
            partition_assignment_strategy=(RangePartitionAssignor,),
            # Oversized messages must reach the handler to be rejected with a reason.
            max_partition_fetch_bytes=max_message_bytes,
            fetch_max_bytes=max(max_message_bytes, 52_428_800),
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-{metrics.service}",
            transactional_id=transactional_id,
            enable_idempotence=True,
            acks="all",
            # Within a transaction nothing needs to leave before the commit, which flushes
            # every open batch at once: one produce request per partition leader per
            # transaction instead of one every 5 ms (fewer syscalls and broker requests).
            linger_ms=1000,
            max_request_size=max_message_bytes + 65_536,
        )

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe(list(self.topics), listener=_Rebalance(self))
        self.ready = True
        self.metrics.up.labels(self.metrics.service).set(1)

    async def stop(self) -> None:
        """Stop after the batch in hand: its transaction is committed or aborted by now."""
        self.ready = False
        self.metrics.up.labels(self.metrics.service).set(0)
        await self._consumer.stop()
        await self._producer.stop()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            generation = self.generation
            fetched = await self._fetch_batch()
            if not fetched:
                await self._record_lag()
                continue
            try:
                async with self.batch_lock:
                    early = {tp: r for tp, r in fetched.items() if tp not in self.reconciled}
                    stale = generation != self.generation or bool(early)
                    if stale:
                        self._rewind(fetched)
                    else:
                        await self._process(fetched)
                if stale:
                    # getmany can return buffered records without yielding: give the
                    # rebalance listener its turn before fetching again.
                    await asyncio.sleep(0.05)
                    continue
                backoff = 0.1
            except KafkaError as exc:
                if not getattr(exc, "retriable", False):
                    raise
                # Transaction aborted: replay the batch from its first offsets.
                self.metrics.transactions.labels(self.metrics.service, "aborted").inc()
                _log.warning("transaction aborted (%s); replaying the batch", exc)
                self._rewind(fetched)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            await self._record_lag()

    async def _fetch_batch(self) -> _Fetched:
        """Up to ``max_batch`` records, waiting at most ``linger_ms`` for more after the first.

        A transaction costs several broker round trips whatever its size: under load,
        lingering a little for fuller batches raises throughput many times over.
        """
        fetched: _Fetched = await self._consumer.getmany(
            timeout_ms=self.poll_timeout_ms, max_records=self.max_batch
        )
        count = sum(len(records) for records in fetched.values())
        deadline = time.monotonic() + self.linger_ms / 1000
        while fetched and count < self.max_batch:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            more = await self._consumer.getmany(
                timeout_ms=remaining_ms, max_records=self.max_batch - count
            )
            for tp, records in more.items():
                fetched.setdefault(tp, []).extend(records)
                count += len(records)
        return fetched

    def _rewind(self, fetched: _Fetched) -> None:
        """Fetch these records again (a rebalance or an aborted transaction got between)."""
        assigned = self._consumer.assignment()
        for tp, records in fetched.items():
            if tp in assigned:
                self._consumer.seek(tp, records[0].offset)

    async def _process(self, fetched: _Fetched) -> None:
        started = time.perf_counter()
        service = self.metrics.service
        batch: list[Incoming] = []
        for tp, records in fetched.items():
            self.metrics.messages_in.labels(service, tp.topic).inc(len(records))
            batch += [
                Incoming(
                    tp.topic, tp.partition, r.offset, r.key, r.value, r.timestamp, tuple(r.headers)
                )
                for r in records
            ]
        self.metrics.in_flight.labels(service).set(len(batch))
        self.metrics.batch_size.labels(service).observe(len(batch))
        state_batch = self.state.batch() if self.state is not None else None
        outputs = list(await self.handler(batch, state_batch))
        offsets = {tp: records[-1].offset + 1 for tp, records in fetched.items()}
        async with self._producer.transaction():
            for out in outputs:
                await self._producer.send(
                    out.topic,
                    value=out.value,
                    key=out.key,
                    partition=out.partition,
                    headers=list(out.headers) or None,
                )
            if state_batch is not None and self.state is not None:
                for change in state_batch.changes():
                    await self._producer.send(
                        self.state.topic,
                        value=change.value,
                        key=change.key,
                        partition=change.partition,
                    )
            await self._producer.send_offsets_to_transaction(offsets, self.group_id)
        if state_batch is not None and self.state is not None:
            self.state.apply(state_batch)
            self.metrics.state_keys.labels(service).set(len(self.state))
        self.metrics.transactions.labels(service, "committed").inc()
        if self.on_committed is not None:
            await self.on_committed()
        for out in outputs:
            self.metrics.messages_out.labels(service, out.topic).inc()
        self.metrics.in_flight.labels(service).set(0)
        self.metrics.processing_seconds.labels(service).observe(time.perf_counter() - started)

    async def _record_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self._consumer.position(tp)
            self.metrics.consumer_lag.labels(self.metrics.service, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )
