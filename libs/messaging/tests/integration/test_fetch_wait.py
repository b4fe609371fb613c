"""AdaptiveFetchWait on a real consumer and broker: long waits while idle, short once records come."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from docstore_events.topics import all_topics
from docstore_messaging.fetch_wait import AdaptiveFetchWait, FetchWaitPolicy

from .helpers import eventually


async def test_an_idle_consumer_fetches_with_the_long_wait_and_a_record_brings_the_short_one_back(isolated) -> None:
    bootstrap = isolated["kafka_bootstrap_servers"]
    topic = all_topics(isolated["kafka_topic_prefix"])[0]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    wait = AdaptiveFetchWait(FetchWaitPolicy(busy_ms=20, idle_ms=600, idle_after_s=0.3))
    wait.attach(consumer)
    fetcher = consumer._fetcher  # noqa: SLF001 - what the next fetch request is built with

    async def idle() -> bool:
        # Asks for records as a subscriber's loop does: aiokafka fetches a partition again only
        # once what it buffered from there has been taken (with one partition, nothing else would).
        assert not await consumer.getmany(timeout_ms=0)
        return fetcher._fetch_max_wait_ms == 600

    try:
        assert fetcher._fetch_max_wait_ms == 20
        await eventually(idle, timeout=30)  # no record for 0.3 s

        sent = time.monotonic()
        await producer.send_and_wait(topic, b"x", key=b"k")
        record = await consumer.getone()
        assert record.value == b"x"
        assert time.monotonic() - sent < 30  # within the long wait (Tansu: W/2 at most), load allowing
        # The response that brought the record set the short wait for the very next fetch.
        assert wait.current_ms == fetcher._fetch_max_wait_ms == 20
        await eventually(idle, timeout=30)  # and idle again afterwards
    finally:
        await producer.stop()
        await consumer.stop()
