"""``hocba status`` against the real stack: services down, then one stage running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.supervisor import SERVICES, ServiceProcesses
from tests.ports import free_port

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "status"


def _status(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "status", "--json", "--interval", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def test_status_reports_each_stage_and_says_unhealthy_until_all_are_ready() -> None:
    processes = ServiceProcesses(ARTIFACTS)
    for service in SERVICES.values():  # nothing of a developer's running platform answers
        processes.env[service.port_variable] = str(free_port())
    processes.env["HOCBA_NATIONAL_URL"] = processes.url("national-sim", "")
    code, report = _status(processes.env)
    assert code == 1 and report["healthy"] is False
    stages = {s["stage"]: s for s in report["stages"]}  # type: ignore[attr-defined]
    assert set(stages) == {"ingestion", "validation", "signing", "storage", "national-sync"}
    assert not any(s["answering"] for s in stages.values())
    assert "dead_letters" in report and "last_stored_at" in report
    try:
        processes.start("national-sim")
        processes.start("national-sync")
        code, report = _status(processes.env)
        stages = {s["stage"]: s for s in report["stages"]}  # type: ignore[attr-defined]
        assert stages["national-sync"]["ready"] is True
        assert stages["national-sync"]["in_per_s"] is not None
        assert report["breaker"] == "closed"
        assert code == 1  # the other stages are still down
    finally:
        processes.stop_all()


async def test_the_oldest_unprocessed_message_is_found_until_its_group_commits() -> None:
    import time
    import uuid

    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from services.cli.status import _oldest_unprocessed
    from services.messaging.kafka import (
        KafkaSettings,
        make_consumer,
        make_producer,
        uncommitted_ranges,
    )

    kafka = KafkaSettings.from_env()
    topic, group = f"test.status.{uuid.uuid4().hex[:8]}", f"test-status-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        producer = make_producer(kafka)
        await producer.start()
        sent_at = time.time() - 30  # a message stamped half a minute ago
        try:
            await producer.send_and_wait(topic, b"x", partition=1, timestamp_ms=int(sent_at * 1000))
        finally:
            await producer.stop()
        assert await uncommitted_ranges(kafka, group, [topic]) == {TopicPartition(topic, 1): (0, 1)}
        age = await _oldest_unprocessed(kafka, group, [topic])
        assert age is not None and 29 <= age <= 90
        consumer = make_consumer(kafka, group_id=group)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 1)])
            await consumer.commit({TopicPartition(topic, 1): 1})
        finally:
            await consumer.stop()
        assert await uncommitted_ranges(kafka, group, [topic]) == {}
        assert await _oldest_unprocessed(kafka, group, [topic]) is None
    finally:
        await admin.delete_topics([topic])
        await admin.close()
