"""Pure parts of the broker setup: server.properties, Java and Maven output, cluster ids."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from services.stack.errors import DiskFullError, MavenError, MavenRepositoryError
from services.stack.kafka import (
    classify_maven_failure,
    java_major,
    last_error_line,
    new_cluster_id,
    render_server_properties,
)
from services.stack.settings import StackSettings

pytestmark = pytest.mark.unit


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_server_properties_single_kraft_node(tmp_path: Path) -> None:
    settings = StackSettings.from_env({"HOCBA_STATE_DIR": str(tmp_path)}, repo_root=tmp_path)
    props = _properties(render_server_properties(settings))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert int(props["message.max.bytes"]) >= 1024 * 1024


def test_server_properties_follow_bootstrap(tmp_path: Path) -> None:
    settings = StackSettings.from_env(
        {"HOCBA_KAFKA_BOOTSTRAP": "127.0.0.1:29092"}, repo_root=tmp_path
    )
    props = _properties(render_server_properties(settings))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("command not understood", None),
    ],
)
def test_java_major(output: str, major: int | None) -> None:
    assert java_major(output) == major


@pytest.mark.parametrize(
    "output",
    [
        "[ERROR] Failed to execute goal ... Could not transfer artifact org.apache.kafka:"
        "kafka_2.13:pom:4.4.0 from/to central: Unknown host repo.maven.apache.org",
        "[ERROR] Plugin org.apache.maven.plugins:maven-dependency-plugin:3.8.1 or one of its "
        "dependencies could not be resolved: Connection refused",
        "Network is unreachable (connect failed)",
    ],
)
def test_maven_repository_failures(output: str, tmp_path: Path) -> None:
    error = classify_maven_failure(output, 1, tmp_path / "maven.log")
    assert isinstance(error, MavenRepositoryError)
    assert "Maven Central" in str(error)
    assert str(tmp_path / "maven.log") in str(error)


def test_maven_disk_full_and_other(tmp_path: Path) -> None:
    log = tmp_path / "maven.log"
    assert isinstance(classify_maven_failure("No space left on device", 1, log), DiskFullError)
    other = classify_maven_failure("[ERROR] Malformed POM", 1, log)
    assert type(other) is MavenError
    assert "exit 1" in str(other)


def test_cluster_id_is_kafka_uuid_form() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_last_error_line_reads_the_latest_run_only() -> None:
    log = "\n".join(
        [
            "===== hocba stack up: starting the Kafka broker 2026-01-01 00:00:00",
            "[t] ERROR old failure (kafka.Kafka)",
            "===== hocba stack up: starting the Kafka broker 2026-01-02 00:00:00",
            "[t] INFO starting (kafka.Kafka)",
            "[t] ERROR Exiting Kafka due to fatal exception (kafka.Kafka)",
            "[t] INFO shut down",
        ]
    )
    assert last_error_line(log) == "[t] ERROR Exiting Kafka due to fatal exception (kafka.Kafka)"
    jvm = "===== hocba stack up: starting\nError occurred during initialization of VM\nToo small"
    assert last_error_line(jvm) == "Error occurred during initialization of VM: Too small"
    fresh = "[t] ERROR old\n===== hocba stack up: starting the Kafka broker now\n[t] INFO ok"
    assert last_error_line(fresh) is None
