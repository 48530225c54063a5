"""The signing service's crypto port, with PAdES and the registry's key stores behind it.

Opens every registered signer's key store once at start-up (PKCS#12 files, PKCS#11 token
sessions, CSC sessions) and keeps it open; every failure of the signing stack is
translated into :class:`~services.signing.handlers.SigningFailedError` here, so the
handler refuses the approval with E_SIGNING_FAILED and the page keeps its signatures.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Final

from prometheus_client import Histogram
from pyhanko.sign import signers

from services.messaging.metrics import ServiceMetrics
from services.signing.backends import config_from_mapping, open_signer
from services.signing.errors import SigningError
from services.signing.facts import SignatureFacts
from services.signing.handlers import SigningFailedError
from services.signing.pades import SigningServices, add_archive_timestamp, sign_field
from services.signing.registry import SignerRegistry

__all__ = ["PadesPageSigner"]

_APPEARANCE: Final = {
    "homeroom_teacher": "Giáo viên chủ nhiệm",
    "principal": "Hiệu trưởng",
    "school_seal": "Con dấu nhà trường",
}


class PadesPageSigner:
    """:class:`~services.signing.handlers.PageSigner` over pyhanko and the signer registry."""

    def __init__(self, registry: SignerRegistry, metrics: ServiceMetrics) -> None:
        self.registry = registry
        self.metrics = metrics
        # Per key store kind, so a slow or failing provider shows on its own (field-notes 4).
        self._signatures = Histogram(
            "hocba_signing_signature_seconds",
            "One PAdES signature (B-T + validation data), by key store kind and outcome.",
            ["service", "backend", "outcome"],
            registry=metrics.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self._stack = AsyncExitStack()
        self._signers: dict[str, signers.Signer] = {}
        self._services: SigningServices | None = None

    async def open(self) -> None:
        """Open every key store and the TSA/revocation clients; raises SigningFailedError."""
        try:
            self._services = SigningServices.create(
                self.registry.tsa_url, self.registry.trust_roots
            )
            for signer_id, entry in self.registry.entries.items():
                config = config_from_mapping(entry.backend)
                self._signers[signer_id] = await self._stack.enter_async_context(
                    open_signer(config)
                )
        except SigningError as exc:
            await self.close()
            raise SigningFailedError(f"cannot open the signers: {exc}") from exc

    async def close(self) -> None:
        await self._stack.aclose()
        if self._services is not None:
            await self._services.close()
            self._services = None

    async def sign(
        self, pdf: bytes, field_name: str, signer_id: str, reason: str
    ) -> tuple[bytes, SignatureFacts]:
        signer = self._signers.get(signer_id)
        if signer is None or self._services is None:
            raise SigningFailedError(f"no open key store for signer {signer_id!r}")
        backend = str(self.registry.entries[signer_id].backend.get("kind", "unknown"))
        started = time.perf_counter()
        outcome = "failed"
        try:
            signed = await sign_field(
                pdf,
                field_name,
                signer,
                self._services,
                reason=reason,
                appearance_text=_APPEARANCE.get(field_name, field_name),
            )
            outcome = "signed"
            return signed.pdf, signed.facts
        except SigningError as exc:
            raise SigningFailedError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._signatures.labels(self.metrics.service, backend, outcome).observe(
                time.perf_counter() - started
            )

    async def archive(self, pdf: bytes) -> bytes:
        if self._services is None:
            raise SigningFailedError("the signing services are not open")
        try:
            return await add_archive_timestamp(pdf, self._services)
        except SigningError as exc:
            raise SigningFailedError(f"document timestamp: {type(exc).__name__}: {exc}") from exc
