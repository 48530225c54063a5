"""``hocba status``: reading the services' metrics and deciding what is healthy."""

from __future__ import annotations

import pytest

from services.cli.status import PlatformStatus, StageStatus, parse_metrics

pytestmark = pytest.mark.unit

EXPOSITION = """\
# HELP hocba_messages_in_total Messages consumed, by topic.
# TYPE hocba_messages_in_total counter
hocba_messages_in_total{service="validation",topic="hocba.events.accepted"} 120.0
hocba_messages_in_total{service="validation",topic="other"} 3.0
hocba_consumer_lag_messages{partition="0",service="validation",topic="t"} 5.0
hocba_consumer_lag_messages{partition="1",service="validation",topic="t"} 7.0
hocba_sync_breaker_state{service="national-sync"} 2.0
garbage line
"""


def test_metric_families_are_summed_over_their_labels() -> None:
    totals = parse_metrics(EXPOSITION)
    assert totals["hocba_messages_in_total"] == 123.0
    assert totals["hocba_consumer_lag_messages"] == 12.0
    assert totals["hocba_sync_breaker_state"] == 2.0
    assert "garbage" not in totals


def test_healthy_means_every_stage_ready_and_the_breaker_closed() -> None:
    ready = [StageStatus("ingestion", answering=True, ready=True)]
    assert PlatformStatus("now", ready, breaker="closed").healthy
    assert PlatformStatus("now", ready, breaker=None).healthy
    assert not PlatformStatus("now", ready, breaker="OPEN").healthy
    down = [*ready, StageStatus("storage")]
    assert not PlatformStatus("now", down, breaker="closed").healthy
