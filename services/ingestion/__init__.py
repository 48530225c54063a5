"""Ingestion (tiếp nhận sự kiện): vendor events in, checked events out.

Vendor events arrive on Kafka (``hocba.vendor.events``, Avro) or HTTP
(``POST /v1/events``, JSON). Each is authenticated (HTTP token / Kafka principal),
authorized (the vendor must be assigned to the school on the event's date), checked
(envelope) and de-duplicated by event id, then forwarded to ``hocba.events.accepted``
or answered on ``hocba.events.rejected`` with every coded reason.

Run it: ``python -m services.ingestion``. Wiring: :mod:`services.ingestion.app`.
"""

from services.ingestion.app import Ingestion, bootstrap, main
from services.ingestion.settings import EnvelopeRules, IngestionSettings

__all__ = [
    "EnvelopeRules",
    "Ingestion",
    "IngestionSettings",
    "bootstrap",
    "main",
]
