"""Per-partition key/value state backed by a compacted Kafka changelog topic.

A stateful stage (validation assembles each student's year from many events)
keeps its state in memory, partitioned like its input topic, and writes every
change to a changelog topic *in the same Kafka transaction* as its outputs and
consumed offsets. After a crash or a rebalance the state of a partition is
rebuilt by reading its changelog partition to the end, so state, outputs and
offsets never disagree. (faust tables do the same; doing it directly keeps the
transaction boundary explicit, see field-notes.md items 8-9.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.messaging.codec import AvroCodec, Decoded
from services.messaging.kafka import KafkaSettings

__all__ = ["ChangelogState", "StateBatch", "StateChange", "StateCorruptedError"]

_log = logging.getLogger("hocba.state")
# Longer than it takes a coordinator to write commit markers, shorter than the
# transaction timeout after which a stranded transaction is aborted anyway.
_STABLE_WAIT_S = 30.0


class StateCorruptedError(RuntimeError):
    """A state entry of a changelog cannot be decoded: the stage stops rather than forget
    what the entry held (it is the stage's own topic, never vendor input)."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One write to the changelog: ``value`` None deletes the key (a tombstone)."""

    partition: int
    key: bytes
    value: bytes | None


@dataclass
class StateBatch:
    """The changes one batch makes, visible to the batch, applied only after commit."""

    base: ChangelogState
    writes: dict[tuple[int, bytes], bytes | None] = field(default_factory=dict)

    def get(self, partition: int, key: bytes) -> bytes | None:
        if (partition, key) in self.writes:
            return self.writes[(partition, key)]
        return self.base.get(partition, key)

    def decoded(
        self, partition: int, key: bytes, codec: AvroCodec, expected: str
    ) -> dict[str, Any] | None:
        """The entry decoded as an ``expected`` message; None when there is none.

        Raises :class:`StateCorruptedError` when the bytes do not decode.
        """
        raw = self.get(partition, key)
        if raw is None:
            return None
        decoded = codec.decode(raw, expected=expected)
        if not isinstance(decoded, Decoded):
            raise StateCorruptedError(
                f"state of {key!r} in {self.base.topic}[{partition}]: {decoded.code}"
            )
        return decoded.value

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.writes[(partition, key)] = value

    def changes(self) -> Iterator[StateChange]:
        for (partition, key), value in self.writes.items():
            yield StateChange(partition, key, value)


class ChangelogState:
    """In-memory state of the partitions this instance owns, restorable from Kafka."""

    def __init__(self, changelog_topic: str) -> None:
        self.topic = changelog_topic
        self._partitions: dict[int, dict[bytes, bytes]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._partitions.get(partition, {}).get(key)

    def batch(self) -> StateBatch:
        return StateBatch(self)

    def apply(self, batch: StateBatch) -> None:
        """Make a committed batch's changes the new state."""
        for change in batch.changes():
            table = self._partitions.setdefault(change.partition, {})
            if change.value is None:
                table.pop(change.key, None)
            else:
                table[change.key] = change.value

    def drop(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)

    def held(self) -> set[int]:
        """Partitions whose state is in memory."""
        return set(self._partitions)

    async def reassign(self, settings: KafkaSettings, assigned: Iterable[int]) -> int:
        """Follow a new assignment: forget lost partitions, restore new ones.

        Partitions kept across a rebalance keep their in-memory state: it is exactly
        what this instance committed, and nobody else wrote them meanwhile (a
        partition that moved away was dropped at the assignment that lacked it).
        """
        wanted = set(assigned)
        self.drop(self.held() - wanted)
        return await self.restore(settings, wanted - self.held())

    def __len__(self) -> int:
        return sum(len(t) for t in self._partitions.values())

    async def restore(self, settings: KafkaSettings, partitions: Iterable[int]) -> int:
        """Rebuild the given partitions from the changelog; return the keys restored."""
        wanted = [TopicPartition(self.topic, p) for p in sorted(set(partitions))]
        if not wanted:
            return 0
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-restore",
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            consumer.assign(wanted)
            await consumer.seek_to_beginning(*wanted)
            end = await self._stable_end_offsets(settings, consumer, wanted)
            tables: dict[int, dict[bytes, bytes]] = {tp.partition: {} for tp in wanted}
            remaining = {tp for tp in wanted if end[tp] > 0}
            while remaining:
                fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
                for tp, records in fetched.items():
                    table = tables[tp.partition]
                    for record in records:
                        if record.key is None:
                            continue
                        if record.value is None:
                            table.pop(record.key, None)
                        else:
                            table[record.key] = record.value
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        self._partitions.update(tables)
        return sum(len(t) for t in tables.values())

    @staticmethod
    async def _stable_end_offsets(
        settings: KafkaSettings, committed: AIOKafkaConsumer, wanted: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """End offsets once no transaction is open on the partitions.

        A committed transaction's markers reach the partitions shortly *after* the
        producer's commit returns; until then the last stable offset stops before
        it and a restore would miss the latest committed state. Wait (bounded)
        until the last stable offset reaches the high watermark.
        """
        uncommitted = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-restore-hw",
            group_id=None,
            isolation_level="read_uncommitted",
        )
        await uncommitted.start()
        try:
            deadline = asyncio.get_running_loop().time() + _STABLE_WAIT_S
            while True:
                stable = await committed.end_offsets(wanted)
                high = await uncommitted.end_offsets(wanted)
                if all(stable[tp] >= high[tp] for tp in wanted):
                    return dict(stable)
                if asyncio.get_running_loop().time() > deadline:
                    _log.warning(
                        "changelog %s still has open transactions; restoring to "
                        "the last stable offset",
                        wanted[0].topic,
                    )
                    return dict(stable)
                await asyncio.sleep(0.05)
        finally:
            await uncommitted.stop()
