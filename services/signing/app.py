"""The signing service: ``python -m services.signing`` or ``hocba run signing``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from services.core.record_page import PageFonts
from services.messaging.codec import default_codec
from services.messaging.metrics import ServiceMetrics
from services.messaging.pipeline import TransactionalPipeline
from services.messaging.service import ServiceShell, run_service
from services.messaging.settings import SettingsError
from services.messaging.state import ChangelogState
from services.signing.handlers import SigningHandler
from services.signing.page_signer import PadesPageSigner
from services.signing.registry import RegistryError, load_registry
from services.signing.settings import SigningSettings

__all__ = ["SigningService", "bootstrap", "main"]

_log = logging.getLogger("hocba.signing")


@dataclass
class SigningService:
    settings: SigningSettings
    metrics: ServiceMetrics
    pipeline: TransactionalPipeline
    shell: ServiceShell
    signer: PadesPageSigner

    async def run(self) -> None:
        await self.signer.open()
        await self.pipeline.start()
        try:
            await self.shell.serve([self.pipeline.run])
        finally:
            await self.pipeline.stop()
            await self.signer.close()


def load_fonts(settings: SigningSettings) -> PageFonts:
    """The page's fonts (DejaVu, which covers Vietnamese), read once at start-up."""
    try:
        return PageFonts(
            regular=(settings.font_dir / "DejaVuSans.ttf").read_bytes(),
            bold=(settings.font_dir / "DejaVuSans-Bold.ttf").read_bytes(),
        )
    except OSError as exc:
        raise SettingsError(f"HOCBA_FONT_DIR: {exc}") from exc


def bootstrap(settings: SigningSettings) -> SigningService:
    """Build every part of the service from its settings (keys are opened in ``run``)."""
    try:
        registry = load_registry(settings.signers_file)
    except RegistryError as exc:
        raise SettingsError(f"HOCBA_SIGNERS_FILE: {exc}") from exc
    metrics = ServiceMetrics("signing")
    signer = PadesPageSigner(registry, metrics)
    handler = SigningHandler(
        settings, default_codec(), metrics, registry, signer, load_fonts(settings)
    )
    pipeline = TransactionalPipeline(
        settings=settings.kafka,
        topics=[settings.validated_topic, settings.accepted_topic],
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
    return SigningService(settings, metrics, pipeline, shell, signer)


async def _serve(settings: SigningSettings) -> None:
    # aiokafka clients must be built inside the running event loop.
    await bootstrap(settings).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the signing service; 0 after a clean stop, 2 on bad configuration."""
    return run_service(
        argv,
        prog="hocba run signing",
        description="Signing service: hocba.records.validated + signature approvals → the "
        "year page signed by the homeroom teacher, the principal and the school seal "
        "(PAdES B-LTA) → hocba.records.signed. Configured by HOCBA_* environment variables "
        "(see services/signing/settings.py).",
        load=SigningSettings.from_env,
        serve=_serve,
        fatal=(),
        log=_log,
    )
