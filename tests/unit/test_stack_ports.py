"""Who holds a port, and what `stack up` decides about it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from services.stack.errors import PortBusyError
from services.stack.ports import (
    KafkaPlan,
    PostgresPlan,
    decide_kafka,
    decide_postgres,
    port_accepts,
    speaks_postgres,
)

pytestmark = pytest.mark.unit


def test_kafka_ours_running_wins() -> None:
    assert decide_kafka(ours_running=True, busy_ports=[]) is KafkaPlan.ALREADY_RUNNING


def test_kafka_free_ports_start() -> None:
    assert decide_kafka(ours_running=False, busy_ports=[]) is KafkaPlan.START


def test_kafka_foreign_port_refused() -> None:
    with pytest.raises(PortBusyError, match=r"port 9092, 9093 .*HOCBA_KAFKA_BOOTSTRAP"):
        decide_kafka(ours_running=False, busy_ports=[9092, 9093])


@pytest.mark.parametrize(
    ("ours", "port_open", "is_pg", "plan"),
    [
        (True, True, True, PostgresPlan.ALREADY_RUNNING),
        (False, False, False, PostgresPlan.START_OWN),
        (False, True, True, PostgresPlan.REUSE_EXTERNAL),
    ],
)
def test_postgres_plans(ours: bool, port_open: bool, is_pg: bool, plan: PostgresPlan) -> None:
    decided = decide_postgres(
        ours_running=ours, port_open=port_open, answers_as_postgres=is_pg, port=5432
    )
    assert decided is plan


def test_postgres_port_held_by_stranger() -> None:
    with pytest.raises(PortBusyError, match=r"port 5432 .*not PostgreSQL"):
        decide_postgres(ours_running=False, port_open=True, answers_as_postgres=False, port=5432)


def _serve_once(reply: bytes) -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(8)
            conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield port
    server.close()
    thread.join(timeout=2)


@pytest.fixture
def fake_postgres() -> Iterator[int]:
    yield from _serve_once(b"N")


@pytest.fixture
def fake_http() -> Iterator[int]:
    yield from _serve_once(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_speaks_postgres(fake_postgres: int) -> None:
    assert speaks_postgres("127.0.0.1", fake_postgres)


def test_other_protocol_is_not_postgres(fake_http: int) -> None:
    assert not speaks_postgres("127.0.0.1", fake_http)


def test_port_accepts() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert port_accepts("127.0.0.1", port)
    assert not port_accepts("127.0.0.1", port)
