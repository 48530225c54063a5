"""Configuration of the signing service, read once from the environment.

* ``HOCBA_KAFKA_BOOTSTRAP``: Kafka bootstrap servers (``127.0.0.1:9092``)
* ``HOCBA_INSTANCE_ID``: this replica's number, suffix of its Kafka transactional id (``0``)
* ``HOCBA_SIGNING_PORT``: HTTP port of metrics and health (``8083``)
* ``HOCBA_HTTP_HOST``: HTTP bind address (``127.0.0.1``)
* ``HOCBA_LOG_LEVEL``: level of the JSON logs (``WARNING``)
* ``HOCBA_SIGNING_MAX_BATCH``: messages per Kafka batch, one transaction (``50``)
* ``HOCBA_SIGNING_CONCURRENCY``: pages signed at once within a batch (``16``): a signature
  spends most of its time waiting for the TSA, so pages overlap their waits
* ``HOCBA_SIGNERS_FILE``: the signer registry, JSON (see ``registry.py``); required
* ``HOCBA_RECORD_ID_KEY``: secret key of the record identifiers, ≥ 16 characters, never
  changed (every record identifier would change); required
* ``HOCBA_PUBLIC_URL``: base of the verification page the QR code opens
  (``http://127.0.0.1:8084``)
* ``HOCBA_FONT_DIR``: directory with DejaVuSans.ttf and DejaVuSans-Bold.ttf
  (``/usr/share/fonts/truetype/dejavu``)

``hocba run`` and ``hocba demo`` fill the two required ones with the local stack's
development PKI when they are unset (``services/cli/devsigning.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.messaging.kafka import KafkaSettings
from services.messaging.settings import SettingsError, env_number
from services.messaging.topics import (
    EVENTS_ACCEPTED,
    EVENTS_REJECTED,
    RECORDS_SIGNED,
    RECORDS_VALIDATED,
    SIGNING_STATE,
)

__all__ = ["SigningSettings"]

_MIN_KEY_LENGTH = 16


@dataclass(frozen=True, slots=True)
class SigningSettings:
    """Everything the signing service is configured with."""

    signers_file: Path
    record_id_key: bytes
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    instance_id: str = "0"
    http_host: str = "127.0.0.1"
    http_port: int = 8083
    log_level: str = "WARNING"
    #: Signing takes tens of milliseconds per signature: small batches keep transactions short.
    max_batch: int = 50
    concurrency: int = 16
    public_url: str = "http://127.0.0.1:8084"
    font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")
    group_id: str = "hocba-signing"
    validated_topic: str = RECORDS_VALIDATED.name
    accepted_topic: str = EVENTS_ACCEPTED.name
    signed_topic: str = RECORDS_SIGNED.name
    rejected_topic: str = EVENTS_REJECTED.name
    state_topic: str = SIGNING_STATE.name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SigningSettings:
        """Raises :class:`SettingsError` for a missing or malformed variable."""
        env = os.environ if env is None else env
        signers = env.get("HOCBA_SIGNERS_FILE", "").strip()
        if not signers:
            raise SettingsError("HOCBA_SIGNERS_FILE is required: the signer registry (JSON)")
        key = env.get("HOCBA_RECORD_ID_KEY", "")
        if len(key) < _MIN_KEY_LENGTH:
            raise SettingsError(
                f"HOCBA_RECORD_ID_KEY is required, at least {_MIN_KEY_LENGTH} characters: "
                "the secret behind every record identifier (never change it)"
            )
        return cls(
            signers_file=Path(signers),
            record_id_key=key.encode(),
            kafka=KafkaSettings.from_env(),
            instance_id=env.get("HOCBA_INSTANCE_ID", "0"),
            http_host=env.get("HOCBA_HTTP_HOST", "127.0.0.1"),
            http_port=env_number(env, "HOCBA_SIGNING_PORT", 8083, int),
            log_level=env.get("HOCBA_LOG_LEVEL", "WARNING"),
            max_batch=max(1, env_number(env, "HOCBA_SIGNING_MAX_BATCH", 50, int)),
            concurrency=max(1, env_number(env, "HOCBA_SIGNING_CONCURRENCY", 16, int)),
            public_url=env.get("HOCBA_PUBLIC_URL", "http://127.0.0.1:8084").rstrip("/"),
            font_dir=Path(env.get("HOCBA_FONT_DIR", "/usr/share/fonts/truetype/dejavu")),
        )

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}-{self.instance_id}"

    def verify_url(self, lookup_code: str) -> str:
        """The page the QR code on a record opens: verification of that record."""
        return f"{self.public_url}/tra-cuu/{lookup_code}"
