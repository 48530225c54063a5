"""The validation service: ``python -m services.validation`` or ``hocba run validation``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from services.messaging.codec import default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import TransactionalPipeline
from services.messaging.service import ServiceShell, run_service
from services.messaging.state import ChangelogState
from services.validation.handlers import ValidationHandler
from services.validation.settings import ValidationSettings

__all__ = ["ValidationService", "bootstrap", "main"]

_log = logging.getLogger("hocba.validation")


@dataclass
class ValidationService:
    settings: ValidationSettings
    metrics: ServiceMetrics
    pipeline: TransactionalPipeline
    shell: ServiceShell

    async def run(self) -> None:
        await self.pipeline.start()
        try:
            await self.shell.serve([self.pipeline.run])
        finally:
            await self.pipeline.stop()


def bootstrap(settings: ValidationSettings) -> ValidationService:
    """Build every part of the service from its settings (no I/O until ``run``)."""
    metrics = ServiceMetrics("validation")
    handler = ValidationHandler(settings, default_codec(), metrics)
    pipeline = TransactionalPipeline(
        settings=settings.kafka,
        topics=[settings.accepted_topic],
        group_id=settings.group_id,
        transactional_id=settings.transactional_id,
        handler=handler,
        metrics=metrics,
        state=ChangelogState(settings.state_topic),
        max_batch=settings.max_batch,
    )

    async def ready() -> bool:
        return pipeline.ready

    shell = ServiceShell(metrics, settings.http_host, settings.http_port, ready_checks=[ready])
    return ValidationService(settings, metrics, pipeline, shell)


async def _serve(settings: ValidationSettings) -> None:
    # aiokafka clients must be built inside the running event loop.
    await bootstrap(settings).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validation service; 0 after a clean stop, 1 on a fatal error, 2 bad config."""
    return run_service(
        argv,
        prog="hocba run validation",
        description="Validation service: hocba.events.accepted → each student's year record "
        "checked against Circular 27 → hocba.records.validated / .invalid. Configured by "
        "HOCBA_* environment variables (see services/validation/settings.py).",
        load=ValidationSettings.from_env,
        serve=_serve,
        log=_log,
    )
