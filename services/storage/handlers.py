"""``hocba.records.signed`` → PostgreSQL → ``hocba.records.stored``.

The handler runs inside :class:`~services.messaging.pipeline.TransactionalPipeline`:
it stores the batch in one database transaction that commits *before* it returns; the
pipeline then commits the StoredRecord messages together with the consumed offsets in
one Kafka transaction.

Each SignedRecord is one version row, as the signing service numbered it; storage
checks its hashes (``E_STORAGE_HASH_MISMATCH``) and that it agrees with what is stored
(:mod:`services.storage.versions`).

Crash window: if the process dies after the database commit and before the Kafka
commit, the batch is consumed again. Every version is then found under its
``(record_id, school_year, version)`` with the same hashes: a re-delivery, nothing is
written again and the same StoredRecord (same version, same stored_at) is emitted again.
So ``hocba.records.stored`` is **at-least-once**: consumers are idempotent on
(record_id, school_year, version). A re-delivery from upstream is answered the same way.

Bad input never stops the partition: undecodable bytes, unknown schema fingerprints,
inconsistent records, conflicts with what is stored and records the database could not
hold are counted (``hocba_messages_rejected_total``) and logged as one JSON error line
each (conflicts also in the audit trail), and the batch goes on. A database outage is
retried for ``db_retry_budget_s``; after that the handler raises, the service exits
without committing offsets, and a restart resumes at the same batch.

Messages of ``transfers_topic`` (``hocba.transfers``, school transfers) are handed to
:class:`~services.storage.grants.TransferGrants`, which records their access grants
before the handler returns; they emit nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from services.messaging.codec import AvroCodec, DecodeFailure, default_codec
from services.messaging.pipeline import Incoming, Outgoing
from services.messaging.schemas import default_registry
from services.messaging.state import StateBatch
from services.storage.errors import StorageDataError, StorageUnavailableError
from services.storage.grants import TransferGrants
from services.storage.mapping import (
    SIGNED_RECORD,
    STORED_RECORD,
    YEAR_RECORD,
    Refusal,
    candidate_from_signed,
    stored_record_datum,
)
from services.storage.metrics import StorageMetrics
from services.storage.repository import RecordStore
from services.storage.versions import Delivery, StoreResult

__all__ = ["StoreSignedRecords"]

_log = logging.getLogger("hocba.storage")
_MAX_BACKOFF_S: Final = 5.0


class StoreSignedRecords:
    """The pipeline handler of the storage service (``async (batch, state) -> outputs``).

    ``public_url`` is where this service's HTTP API is reachable from outside (for the
    StoredRecord's ``pdf_url``); None leaves ``pdf_url`` empty.
    """

    def __init__(
        self,
        store: RecordStore,
        metrics: StorageMetrics,
        *,
        stored_topic: str,
        retry_budget_s: float = 60.0,
        public_url: str | None = None,
        codec: AvroCodec | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        grants: TransferGrants | None = None,
        transfers_topic: str | None = None,
    ) -> None:
        self._grants = grants
        self._transfers_topic = transfers_topic
        self._store = store
        self._metrics = metrics
        self._stored_topic = stored_topic
        self._retry_budget_s = retry_budget_s
        self._public_url = public_url
        self._codec = codec or default_codec()
        self._year_record = default_registry().current(YEAR_RECORD)
        self._sleep = sleep

    async def __call__(
        self, batch: Sequence[Incoming], state: StateBatch | None = None
    ) -> list[Outgoing]:
        transfers = [m for m in batch if m.topic == self._transfers_topic]
        if transfers:
            assert self._grants is not None, "a transfers topic needs its grants"
            await self._grants(transfers)
            batch = [m for m in batch if m.topic != self._transfers_topic]
        deliveries = [d for d in (self._delivery(m) for m in batch) if d is not None]
        outputs: list[Outgoing] = []
        for delivery, result in await self._store_isolating(deliveries):
            self._metrics.versions.labels(self._metrics.service, result.outcome.value).inc()
            code = result.outcome.refusal_code
            if code is not None:
                self._refuse(delivery, code, result.reason)
                continue
            stored = result.stored
            assert stored is not None, "an accepted version is always named"
            if result.outcome.writes_version:
                self._metrics.pdf_bytes.labels(self._metrics.service).inc(
                    stored.pdf_size_bytes or 0
                )
            datum = stored_record_datum(stored, public_url=self._public_url)
            outputs.append(
                Outgoing(
                    self._stored_topic,
                    self._codec.encode(STORED_RECORD, datum),
                    key=stored.record_key.encode("utf-8"),
                )
            )
        return outputs

    def _delivery(self, message: Incoming) -> Delivery | None:
        decoded = self._codec.decode(message.value or b"", expected=SIGNED_RECORD)
        if isinstance(decoded, DecodeFailure):
            self._log_refusal(message, decoded.code, decoded.message_en, None)
            return None
        candidate = candidate_from_signed(decoded.value, year_record_schema=self._year_record)
        if isinstance(candidate, Refusal):
            self._log_refusal(message, candidate.code, candidate.message_en, candidate.vendor_id)
            return None
        return Delivery(candidate, message.topic, message.partition, message.offset)

    def _refuse(self, delivery: Delivery, code: str, reason: str) -> None:
        c = delivery.candidate
        self._log_refusal(
            delivery,
            code,
            reason,
            c.vendor_id,
            record_id=c.record_id,
            school_year=c.school_year,
            version=c.version,
        )

    def _log_refusal(
        self,
        where: Incoming | Delivery,
        code: str,
        reason: str,
        vendor_id: str | None,
        **about: object,
    ) -> None:
        self._metrics.shared.reject(code, vendor_id)
        _log.error(
            "refused a message on %s",
            where.topic,
            extra={
                "code": code,
                "reason": reason,
                "topic": where.topic,
                "partition": where.partition,
                "offset": where.offset,
                "vendor_id": vendor_id,
                **about,
            },
        )

    async def _store_isolating(
        self, deliveries: Sequence[Delivery]
    ) -> list[tuple[Delivery, StoreResult]]:
        """Store the batch; if the database refuses a value, store one by one and refuse it."""
        if not deliveries:
            return []
        try:
            return list(zip(deliveries, await self._store_retrying(deliveries), strict=True))
        except StorageDataError:
            self._metrics.isolated_batches.labels(self._metrics.service).inc()
        results: list[tuple[Delivery, StoreResult]] = []
        for delivery in deliveries:
            try:
                (result,) = await self._store_retrying([delivery])
            except StorageDataError as exc:
                self._refuse(delivery, "E_STORAGE_DB_REFUSED", f"SQLSTATE {exc.sqlstate}: {exc}")
                continue
            results.append((delivery, result))
        return results

    async def _store_retrying(self, deliveries: Sequence[Delivery]) -> list[StoreResult]:
        deadline = time.monotonic() + self._retry_budget_s
        backoff = 0.1
        while True:
            try:
                return await self._store.store_batch(deliveries)
            except StorageUnavailableError as exc:
                self._metrics.db_retries.labels(self._metrics.service, exc.sqlstate or "none").inc()
                if time.monotonic() + backoff > deadline:
                    _log.error(
                        "database unavailable for %.0f s; giving up the batch (not committed)",
                        self._retry_budget_s,
                        extra={"sqlstate": exc.sqlstate, "reason": str(exc)},
                    )
                    raise
                _log.warning(
                    "transient database failure; retrying the batch",
                    extra={"sqlstate": exc.sqlstate, "reason": str(exc), "backoff_s": backoff},
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
