"""Wiring of the ingestion service: ``bootstrap(settings)`` builds every part, ``main`` runs it.

Run it with ``python -m services.ingestion`` (or ``hocba run ingestion``); configuration
comes from ``HOCBA_*`` environment variables (see :mod:`services.ingestion.settings`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.ingestion.directory import TransferDirectory, VendorDirectory
from services.ingestion.handlers import Ingestor, KafkaEntry
from services.ingestion.http import HttpEntry, load_openapi
from services.ingestion.metrics import IngestionMetrics
from services.ingestion.settings import IngestionSettings, SettingsError
from services.ingestion.store import StoreError
from services.ingestion.vendors import PostgresVendorStore, translate_error
from services.messaging.codec import AvroCodec
from services.messaging.kafka import make_producer
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import TransactionalPipeline
from services.messaging.schemas import default_registry
from services.messaging.service import ServiceShell, configure_logging

__all__ = ["OPENAPI_PATH", "Ingestion", "bootstrap", "main", "serve"]

_log = logging.getLogger("hocba.ingestion")
#: The one source of the HTTP API's description, served at GET /v1/openapi.json.
OPENAPI_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "ingestion.json"


@dataclass
class Ingestion:
    """Every part of a running ingestion service."""

    settings: IngestionSettings
    pool: asyncpg.Pool
    store: PostgresVendorStore
    metrics: IngestionMetrics
    ingestor: Ingestor
    pipeline: TransactionalPipeline
    http: HttpEntry
    shell: ServiceShell

    async def _ready(self) -> bool:
        return self.pipeline.ready and self.http.ready and await self.store.ping()

    async def run_pipeline(self, stop: asyncio.Event) -> None:
        await self.pipeline.start()
        try:
            await self.pipeline.run(stop)
        finally:
            await self.pipeline.stop()

    async def run_http_producer(self, stop: asyncio.Event) -> None:
        await self.http.producer.start()
        self.http.ready = True
        try:
            await stop.wait()
        finally:
            self.http.ready = False
            await self.http.producer.stop()

    async def close(self) -> None:
        await self.http.producer.stop()  # a no-op once run_http_producer stopped it
        await self.pool.close()


async def bootstrap(settings: IngestionSettings) -> Ingestion:
    """Build the service's clients and parts (nothing connects at import time)."""
    base = ServiceMetrics("ingestion")
    metrics = IngestionMetrics(base)
    try:
        pool = await asyncpg.create_pool(settings.pg_dsn, min_size=1, max_size=8, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise translate_error(exc, "connect") from exc
    store = PostgresVendorStore(pool, base)
    codec = AvroCodec(default_registry(), max_message_bytes=settings.max_message_bytes)
    ingestor = Ingestor(
        settings=settings,
        store=store,
        directory=VendorDirectory(store, settings.vendor_cache_ttl_s),
        metrics=metrics,
        transfers=TransferDirectory(store, settings.transfer_cache_ttl_s),
    )
    entry = KafkaEntry(ingestor=ingestor, codec=codec, settings=settings)
    pipeline = TransactionalPipeline(
        handler=entry.handle,
        # Accepted event ids are recorded only once the batch is durable (handlers.py).
        on_committed=entry.committed,
        settings=settings.kafka,
        topics=[settings.vendor_events_topic],
        group_id=settings.group_id,
        transactional_id=settings.transactional_id,
        metrics=base,
        max_batch=settings.max_batch,
    )
    http = HttpEntry(
        ingestor=ingestor,
        codec=codec,
        producer=make_producer(settings.kafka, client_id=f"{settings.kafka.client_id}-ingestion"),
        settings=settings,
        openapi=load_openapi(OPENAPI_PATH),
    )
    shell = ServiceShell(base, settings.http_host, settings.http_port, routes=http.routes())
    service = Ingestion(settings, pool, store, metrics, ingestor, pipeline, http, shell)
    shell.ready_checks = [service._ready]
    return service


async def serve(settings: IngestionSettings) -> None:
    """Run until SIGTERM/SIGINT: Kafka entry, HTTP entry, metrics and health."""
    service = await bootstrap(settings)
    try:
        await service.shell.serve([service.run_pipeline, service.run_http_producer])
    finally:
        await service.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingestion",
        description="The ingestion service: vendor events from Kafka and HTTP, checked, "
        "authorized and de-duplicated. Configured by HOCBA_* environment variables.",
    )
    parser.add_argument("--port", type=int, help="HTTP port (default: HOCBA_INGESTION_PORT)")
    args = parser.parse_args(argv)
    try:
        settings = IngestionSettings.from_env()
    except SettingsError as exc:
        print(f"ingestion: {exc}", file=sys.stderr)
        return 2
    if args.port is not None:
        from dataclasses import replace

        settings = replace(settings, http_port=args.port)
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except StoreError as exc:
        _log.error("ingestion stopped: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
