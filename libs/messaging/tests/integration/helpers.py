"""Small tools the integration tests share: raw produce and read-back of a topic."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from docstore_devplatform.testing import eventually  # noqa: F401  (shared by the tests here)
from docstore_events.envelope import KafkaRecord, headers_to_dict
from docstore_events.quota import QuotaExceeded


def exceeded(account_id: str = "acct") -> QuotaExceeded:
    """A small event to send around."""
    return QuotaExceeded(account_id=account_id, used_bytes=2, cap_bytes=1, plan="free")


async def produce(bootstrap: str, topic: str, value: bytes, headers: dict[str, str], key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await producer.stop()


async def produce_record(bootstrap: str, record: KafkaRecord) -> None:
    await produce(bootstrap, record.topic, record.value, record.headers, key=record.key)


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0
) -> list[tuple[dict[str, str], bytes]]:
    """Every message on `topic` from the start, waiting until at least `expect` arrived (or timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,  # a plain reader: joining a group would wait for the coordinator
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    messages: list[tuple[dict[str, str], bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                messages.extend((headers_to_dict(r.headers), r.value) for r in records)
            if len(messages) >= expect:
                # Keep reading briefly: a duplicate would arrive right behind.
                extra = await consumer.getmany(timeout_ms=1500)
                for records in extra.values():
                    messages.extend((headers_to_dict(r.headers), r.value) for r in records)
                break
    finally:
        await consumer.stop()
    return messages


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """How many records of `topic` the consumer group `group` has committed, over all partitions
    (the sum of its committed offsets: every record before them was handled). Read by a consumer
    that never joins the group, so the group's own members are not disturbed."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        await reader.topics()  # fetches the cluster's metadata, which a reader that never subscribes lacks
        partitions = reader.partitions_for_topic(topic) or set()
        offsets = [await reader.committed(TopicPartition(topic, p)) for p in partitions]
    finally:
        await reader.stop()
    return sum(offset or 0 for offset in offsets)
