"""Who holds the stack's ports, and what ``up`` should do about it.

The probes are tiny socket calls; the decisions are pure functions of their results
so the rules ("never fight a foreign program for a port, reuse a foreign PostgreSQL")
are unit-tested without servers.
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Sequence

from services.stack.errors import PortBusyError

__all__ = [
    "KafkaPlan",
    "PostgresPlan",
    "decide_kafka",
    "decide_postgres",
    "port_accepts",
    "speaks_postgres",
]

# PostgreSQL's SSLRequest: length 8, then the magic code 80877103. Every server since
# 7.x answers it with one byte, 'S' or 'N', before any authentication.
_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


class KafkaPlan(enum.Enum):
    ALREADY_RUNNING = "already running"
    START = "start"


class PostgresPlan(enum.Enum):
    ALREADY_RUNNING = "already running"
    START_OWN = "start our own cluster"
    REUSE_EXTERNAL = "reuse the PostgreSQL already listening"


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        # Refused, unreachable or timed out: nobody usable is listening.
        return False


def speaks_postgres(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when the program on ``host:port`` answers like a PostgreSQL server."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_SSL_REQUEST)
            reply = conn.recv(1)
    except OSError:
        return False
    return reply in (b"S", b"N")


def decide_kafka(*, ours_running: bool, busy_ports: Sequence[int]) -> KafkaPlan:
    """Start the broker, or not; raise :class:`PortBusyError` if a stranger holds a port.

    ``busy_ports`` are the broker's ports (client, controller) that accept connections.
    """
    if ours_running:
        return KafkaPlan.ALREADY_RUNNING
    if busy_ports:
        listed = ", ".join(str(port) for port in busy_ports)
        raise PortBusyError(
            f"port {listed} is already in use by a program hocba did not start; stop it "
            f"(see `ss -ltnp`) or set HOCBA_KAFKA_BOOTSTRAP to a free host:port"
        )
    return KafkaPlan.START


def decide_postgres(
    *, ours_running: bool, port_open: bool, answers_as_postgres: bool, port: int
) -> PostgresPlan:
    """Start our cluster, keep it, or reuse a foreign PostgreSQL on the same port."""
    if ours_running:
        return PostgresPlan.ALREADY_RUNNING
    if not port_open:
        return PostgresPlan.START_OWN
    if answers_as_postgres:
        return PostgresPlan.REUSE_EXTERNAL
    raise PortBusyError(
        f"port {port} is in use by a program that is not PostgreSQL; stop it (see `ss -ltnp`) "
        f"or point HOCBA_PG_DSN at a free port"
    )
