"""A consumer whose own stop hangs is still stopped, within its limit, on a real broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from docstore_events import QuotaExceeded
from docstore_messaging.tasks import consumer_tasks, stop_consumer

from .helpers import eventually

pytestmark = pytest.mark.integration


async def test_a_consumer_whose_stop_hangs_is_stopped_within_its_limit(isolated: dict[str, str]) -> None:
    consumer = AIOKafkaConsumer(
        QuotaExceeded.topic(isolated["kafka_topic_prefix"]),
        bootstrap_servers=isolated["kafka_bootstrap_servers"],
        group_id=f"{isolated['kafka_topic_prefix']}stopper",
        session_timeout_ms=6_000,
        heartbeat_interval_ms=1_000,
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=100)
    await eventually(lambda: _heartbeating(consumer))  # joined: coordination, heartbeats, fetches

    async def hangs() -> None:  # the coordinator's close as seen in CI: waiting on a routine
        await asyncio.Event().wait()

    consumer._coordinator.close = hangs  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stop_consumer(consumer, timeout=0.5)
    assert loop.time() - started < 5
    assert consumer_tasks(consumer) == []  # the `isolated` fixture also fails on any left running


async def _heartbeating(consumer: AIOKafkaConsumer) -> bool:
    return len(consumer_tasks(consumer)) >= 3
