"""The Kafka entry's pipeline: the shared transactional pipeline plus one post-commit step.

:class:`TransactionalPipeline` commits the handler's outputs and the input offsets in
one transaction but has no hook after the commit; ingestion needs one to record the
accepted event ids only once they are durable (see handlers.py, "order of durability").
TO LEAD: an ``on_committed`` callback in TransactionalPipeline would replace this subclass.
"""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from services.ingestion.handlers import KafkaEntry
from services.messaging.pipeline import TransactionalPipeline

__all__ = ["IngestionPipeline"]


class IngestionPipeline(TransactionalPipeline):
    def __init__(self, *, entry: KafkaEntry, **options: Any) -> None:
        super().__init__(handler=entry.handle, **options)
        self.entry = entry

    async def _process(
        self, fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        # Returns only once the batch's transaction committed; an aborted one raises,
        # and the replayed batch replaces the pending ids.
        await super()._process(fetched)
        await self.entry.committed()
