"""Wiring of the storage service: ``bootstrap(settings)`` builds every client once.

Shortest use::

    python -m services.storage          # or: hocba run storage

Runs until SIGTERM/SIGINT, then finishes the batch in hand (its database transaction
and its Kafka transaction commit or abort as a whole), stops the consumer and the
producer, stops serving HTTP and closes the PostgreSQL pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import TransactionalPipeline
from services.messaging.service import ServiceShell, run_service
from services.storage.access import PgAccessStore, forwarded_for
from services.storage.admissions import AdmissionsApi, PgAdmissionChecks
from services.storage.errors import StorageError
from services.storage.grants import PgGrantStore, TransferGrants
from services.storage.handlers import StoreSignedRecords
from services.storage.http import OpenApiError, RecordsApi, load_openapi
from services.storage.lookup import LookupLimits, RecordLookup
from services.storage.lookup_store import PgLookupStore
from services.storage.metrics import StorageMetrics
from services.storage.repository import PgRecordStore
from services.storage.school_api import PgSchoolReads, SchoolRecordsApi
from services.storage.settings import StorageSettings
from services.storage.standing import PgStanding
from services.storage.verify_api import PdfVerification, VerifyApi
from services.storage.web import LookupPages, VerifyPages

__all__ = ["StorageService", "bootstrap", "main"]

_log = logging.getLogger("hocba.storage")
_SERVICE = "storage"


@dataclass
class StorageService:
    """Every part of a running storage service, built by :func:`bootstrap`."""

    settings: StorageSettings
    pool: asyncpg.Pool
    store: PgRecordStore
    metrics: StorageMetrics
    handler: StoreSignedRecords
    pipeline: TransactionalPipeline
    shell: ServiceShell

    async def ready(self) -> bool:
        """Ready when the pipeline consumes and the database answers."""
        return self.pipeline.ready and await self.store.ping()

    async def consume(self, stop: asyncio.Event) -> None:
        """The pipeline as a shell worker: start, run until ``stop``, stop after the batch."""
        await self.pipeline.start()
        try:
            await self.pipeline.run(stop)
        finally:
            await self.pipeline.stop()

    async def run(self) -> None:
        """Serve until stopped; always close the pool."""
        try:
            await self.shell.serve([self.consume])
        finally:
            await self.pool.close()


async def create_pool(settings: StorageSettings) -> asyncpg.Pool:
    """The PostgreSQL pool of the service (``search_path`` pinned when a schema is set)."""
    server_settings = {"application_name": f"hocba-storage-{settings.instance_id}"}
    if settings.pg_schema is not None:
        server_settings["search_path"] = settings.pg_schema
    return await asyncpg.create_pool(
        settings.pg_dsn,
        min_size=1,
        max_size=settings.pool_size,
        command_timeout=60,
        server_settings=server_settings,
    )


async def bootstrap(
    settings: StorageSettings, *, metrics: ServiceMetrics | None = None
) -> StorageService:
    """Build the pool, the store, the handler, the pipeline and the HTTP shell."""
    shared = metrics or ServiceMetrics(_SERVICE)
    storage_metrics = StorageMetrics(shared)
    openapi = load_openapi()
    pool = await create_pool(settings)
    store = PgRecordStore(pool, shared, actor=settings.actor)
    handler = StoreSignedRecords(
        store,
        storage_metrics,
        stored_topic=settings.stored_topic,
        retry_budget_s=settings.db_retry_budget_s,
        public_url=settings.public_url,
        grants=TransferGrants(
            PgGrantStore(pool, actor=settings.actor),
            storage_metrics,
            retry_budget_s=settings.db_retry_budget_s,
        ),
        transfers_topic=settings.transfers_topic,
    )
    pipeline = TransactionalPipeline(
        settings=settings.kafka,
        topics=[settings.signed_topic, settings.transfers_topic],
        group_id=settings.group_id,
        transactional_id=settings.transactional_id,
        handler=handler,
        metrics=shared,
        max_batch=settings.max_batch,
    )
    admissions = AdmissionsApi(
        PgAdmissionChecks(pool, storage_metrics), PgAccessStore(pool), storage_metrics
    )
    verification = PdfVerification(
        PgStanding(pool, shared),
        storage_metrics,
        settings.trust_roots,
        concurrency=settings.verify_concurrency,
        max_bytes=settings.verify_max_bytes,
    )
    # One lookup for the JSON API and the web pages: the same limits, floor and audit.
    lookup = RecordLookup(
        PgLookupStore(pool, settings.lookup_code, metrics=shared),
        storage_metrics,
        LookupLimits(settings.lookup_min_seconds, settings.lookup_client),
    )
    service = StorageService(
        settings=settings,
        pool=pool,
        store=store,
        metrics=storage_metrics,
        handler=handler,
        pipeline=pipeline,
        shell=ServiceShell(
            metrics=shared,
            host=settings.http_host,
            port=settings.http_port,
            middlewares=[forwarded_for(settings.trusted_proxies)],
            routes=[
                *RecordsApi(lookup, PgAccessStore(pool), storage_metrics, openapi).routes(),
                *admissions.routes(),
                *VerifyApi(verification, PgAccessStore(pool)).routes(),
                *LookupPages(lookup).routes(),
                *VerifyPages(verification).routes(),
                *SchoolRecordsApi(
                    PgSchoolReads(pool, storage_metrics), PgAccessStore(pool), storage_metrics
                ).routes(),
            ],
        ),
    )
    service.shell.ready_checks = [service.ready]
    return service


async def _serve(settings: StorageSettings) -> None:
    service = await bootstrap(settings)
    await service.run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the storage service; 0 after a clean stop, 1 on a fatal error, 2 on bad config."""
    return run_service(
        argv,
        prog="hocba run storage",
        description="Storage service: hocba.records.signed → PostgreSQL → "
        "hocba.records.stored, and the record lookup API. Configured by HOCBA_* "
        "environment variables (see services/storage/settings.py).",
        load=StorageSettings.from_env,
        serve=_serve,
        fatal=(StorageError, OpenApiError, OSError, asyncpg.PostgresError),
        log=_log,
    )
