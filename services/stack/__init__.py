"""The local stack: Apache Kafka (KRaft, from Maven Central jars) and PostgreSQL on loopback.

Run it with ``hocba stack up|down|status|logs``; configuration is read by
:meth:`StackSettings.from_env` (see :mod:`services.stack.settings`).
"""

from __future__ import annotations

from services.stack.errors import StackError
from services.stack.lifecycle import ComponentStatus, down, status, up
from services.stack.migrations import apply_migrations
from services.stack.settings import StackSettings

__all__ = [
    "ComponentStatus",
    "StackError",
    "StackSettings",
    "apply_migrations",
    "down",
    "status",
    "up",
]
