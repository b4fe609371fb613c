"""The event metrics: lag per topic and partition from the consumer's own offsets, handler time
per event type, dead letters, the outbox backlog and its age; none in a process without a runtime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from docstore_messaging import metrics


class FakeConsumer:
    """The part of aiokafka's consumer the lag sampler reads."""

    def __init__(self, offsets: dict[TopicPartition, tuple[int | None, int]]) -> None:
        self.offsets = offsets  # partition -> (highwater, position)

    def assignment(self) -> set[TopicPartition]:
        return set(self.offsets)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.offsets[tp][0]

    async def position(self, tp: TopicPartition) -> int:
        return self.offsets[tp][1]


def lag(group: str, topic: str, partition: int) -> float | None:
    return metrics.EVENTS_REGISTRY.get_sample_value(
        "docstore_consumer_lag_messages", {"group": group, "topic": topic, "partition": str(partition)}
    )


async def wait_for_lag(group: str, topic: str, partition: int, value: float, *, tries: int) -> None:
    """Until the sampler in the background has set that lag, looking every 10 ms at most `tries` times."""
    for _ in range(tries):
        if lag(group, topic, partition) == value:
            return
        await asyncio.sleep(0.01)


async def test_lag_is_highwater_minus_position_per_partition_and_lost_partitions_disappear() -> None:
    a0, a1, b0 = TopicPartition("t.a", 0), TopicPartition("t.a", 1), TopicPartition("t.b", 0)
    consumer = FakeConsumer({a0: (10, 7), a1: (None, 0), b0: (5, 5)})
    sampler = metrics.RuntimeMetrics("lag-test", [consumer])
    await sampler.sample()
    assert lag("lag-test", "t.a", 0) == 3
    assert lag("lag-test", "t.a", 1) is None  # no fetch response yet: unknown, not 0
    assert lag("lag-test", "t.b", 0) == 0

    consumer.offsets = {b0: (9, 5)}  # a rebalance took t.a away
    await sampler.sample()
    assert lag("lag-test", "t.a", 0) is None
    assert lag("lag-test", "t.b", 0) == 4

    await sampler.stop()
    assert lag("lag-test", "t.b", 0) is None


async def test_the_sampler_runs_in_the_background_until_stopped() -> None:
    tp = TopicPartition("t.bg", 0)
    sampler = metrics.RuntimeMetrics("bg-test", [FakeConsumer({tp: (42, 40)})], interval=0.01)
    sampler.start()
    try:
        await wait_for_lag("bg-test", "t.bg", 0, 2, tries=500)
        assert lag("bg-test", "t.bg", 0) == 2
    finally:
        await sampler.stop()


async def test_the_first_lag_is_sampled_soon_after_the_first_fetch_not_an_interval_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "SOON_SECONDS", 0.01)
    tp = TopicPartition("t.soon", 0)
    consumer = FakeConsumer({tp: (None, 0)})  # no fetch response yet
    sampler = metrics.RuntimeMetrics("soon-test", [consumer], interval=60)
    sampler.start()
    try:
        await asyncio.sleep(0.05)
        consumer.offsets[tp] = (7, 4)  # the first fetch
        await wait_for_lag("soon-test", "t.soon", 0, 3, tries=100)
        assert lag("soon-test", "t.soon", 0) == 3  # before: at the next sample, 60 s on
    finally:
        await sampler.stop()


def test_event_metrics_join_the_default_registry_only_when_exposed() -> None:
    metrics.handled("expose-test", "t.x")
    metrics.expose()
    metrics.expose()  # idempotent
    assert REGISTRY.get_sample_value(
        "docstore_events_consumed_total", {"consumer": "expose-test", "topic": "t.x", "outcome": "handled"}
    ) == pytest.approx(1)


def test_handler_time_is_observed_also_when_the_handler_raises() -> None:
    def count(event_type: str) -> float:
        value = metrics.EVENTS_REGISTRY.get_sample_value(
            "docstore_event_handler_duration_seconds_count", {"consumer": "time-test", "event_type": event_type}
        )
        return value or 0.0

    with metrics.timing_handler("time-test", "upload.completed"):
        pass
    with pytest.raises(RuntimeError), metrics.timing_handler("time-test", "upload.completed"):
        raise RuntimeError("boom")
    assert count("upload.completed") == 2
    assert metrics.batch_event_type(["file.modified", "file.modified"]) == "file.modified"
    assert metrics.batch_event_type(["file.modified", "file.deleted"]) == metrics.BATCH_OF_SEVERAL_TYPES


def test_dead_letters_are_counted_per_consumer_and_topic() -> None:
    metrics.dead_lettered("dlq-test", "docstore.file.modified")
    labels = {"consumer": "dlq-test", "topic": "docstore.file.modified"}
    assert metrics.EVENTS_REGISTRY.get_sample_value("docstore_dead_letters_total", labels) == 1
    assert metrics.EVENTS_REGISTRY.get_sample_value(
        "docstore_events_consumed_total", labels | {"outcome": "dead_lettered"}
    ) == pytest.approx(1)


def test_outbox_age_is_computed_when_scraped_and_zero_once_drained() -> None:
    def age() -> float:
        value = metrics.EVENTS_REGISTRY.get_sample_value("docstore_outbox_oldest_pending_age_seconds")
        assert value is not None
        return value

    metrics.outbox_backlog(3, datetime.now(UTC) - timedelta(seconds=90))
    assert metrics.EVENTS_REGISTRY.get_sample_value("docstore_outbox_pending_rows") == 3
    assert 90 <= age() < 3600
    metrics.outbox_backlog(3, datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=30))  # naive UTC
    assert 30 <= age() < 90
    metrics.outbox_backlog(0, None)
    assert metrics.EVENTS_REGISTRY.get_sample_value("docstore_outbox_pending_rows") == 0
    assert age() == 0
