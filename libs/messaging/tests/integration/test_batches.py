"""Batch subscriptions against a real Kafka-protocol broker and MongoDB-protocol server:
one transaction per batch, exactly once, and a poison event split out to the dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

import pymongo.errors
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from docstore_events import Envelope, QuotaExceeded, QuotaRestored, encode
from docstore_events.topics import dead_letter_topic
from docstore_messaging.batches import BatchConsumer
from docstore_messaging.consumer import DLQ_ATTEMPTS, DLQ_ERROR, RetryPolicy
from docstore_messaging.runtime import EventRuntime
from docstore_messaging.unit_of_work import Transaction

from .helpers import committed_total, eventually, exceeded, read_topic

# Three partitions per topic, as in production: these tests are about keys and batches across them.
pytestmark = [pytest.mark.integration, pytest.mark.partitions(3)]

FAST_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.05, max_backoff=0.1)
Bound = tuple[Any, Any]


async def produce_all(bootstrap: str, records: list[Any]) -> None:
    """Send every record before any is awaited, so the consumer finds them together."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(r.topic, r.value, key=r.key, headers=[(k, v.encode()) for k, v in r.headers.items()])
            for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def counting_runtime(
    db: Any, isolated: dict[str, str], batches: list[int], *, poison: str | None = None, outages: int = 0
) -> EventRuntime:
    """A runtime whose batch handler adds 1 per event to a counter per account, exactly once."""
    events = EventRuntime(
        service="batcher",
        region="test",
        bootstrap_servers=isolated["kafka_bootstrap_servers"],
        db=db,
        topic_prefix=isolated["kafka_topic_prefix"],
        retry=FAST_RETRY,
        relay_poll_interval=0.1,
    )
    uow = events.unit_of_work(lambda session: (db.counters, session))

    down = [outages]

    async def apply(envelopes: list[Envelope[Any]]) -> None:
        batches.append(len(envelopes))
        if down[0] > 0:  # MongoDB away: the driver's error, as a handler would meet it
            down[0] -= 1
            raise pymongo.errors.ServerSelectionTimeoutError("localhost:27017: [Errno 111] Connection refused")

        async def work(tx: Transaction[Bound], fresh: frozenset[str]) -> None:
            counters, session = tx.repos
            for envelope in envelopes:
                if envelope.id not in fresh:
                    continue
                if envelope.data.account_id == poison:
                    raise ValueError("this account cannot be counted")
                await counters.update_one(
                    {"_id": envelope.data.account_id}, {"$inc": {"n": 1}}, upsert=True, session=session
                )

        await uow.run_once_each(consumer="batcher", event_ids=[e.id for e in envelopes], work=work)

    events.subscribe_batch(apply, QuotaExceeded, QuotaRestored)
    return events


async def counts(db: Any) -> dict[str, int]:
    return {row["_id"]: row["n"] async for row in db.counters.find({})}


async def test_a_burst_is_applied_in_batches_each_event_once(db, isolated) -> None:
    prefix, bootstrap = isolated["kafka_topic_prefix"], isolated["kafka_bootstrap_servers"]
    records = [encode(exceeded(f"acct-{i % 10}"), source="test", topic_prefix=prefix) for i in range(300)]
    batches: list[int] = []
    events = counting_runtime(db, isolated, batches)
    await events.start()
    try:
        await produce_all(bootstrap, records)
        await produce_all(bootstrap, records[:50])  # redelivered, as a relay that died before marking would
        # Handled means committed: the handler may see fewer than 350 envelopes, since a copy that
        # arrives in the same poll as its original is handed over once.
        topic = records[0].topic
        group = f"{prefix}batcher"
        await eventually(lambda: committed_reached(bootstrap, group, topic, 350), timeout=90)
    finally:
        await events.stop()
    assert await counts(db) == {f"acct-{i}": 30 for i in range(10)}
    assert max(batches) > 1  # the burst did not go one event per transaction
    assert await db.processed_events.count_documents({"consumer": "batcher"}) == 300


async def test_a_poison_event_is_split_out_to_the_dead_letters_and_the_rest_applied(db, isolated) -> None:
    prefix, bootstrap = isolated["kafka_topic_prefix"], isolated["kafka_bootstrap_servers"]
    records = [encode(exceeded(f"acct-{i % 5}"), source="test", topic_prefix=prefix) for i in range(100)]
    poison = encode(exceeded("poison"), source="test", topic_prefix=prefix)
    records.insert(37, poison)
    batches: list[int] = []
    events = counting_runtime(db, isolated, batches, poison="poison")
    await events.start()
    try:
        await produce_all(bootstrap, records)
        await eventually(lambda: counts_reached(db, {f"acct-{i}": 20 for i in range(5)}), timeout=60)
        dead = await read_topic(bootstrap, dead_letter_topic(QuotaExceeded.topic(prefix)), expect=1)
    finally:
        await events.stop()
    assert await counts(db) == {f"acct-{i}": 20 for i in range(5)}  # nothing of the poison, nothing twice
    assert [headers["ce_id"] for headers, _ in dead] == [poison.headers["ce_id"]]
    assert "this account cannot be counted" in dead[0][0][DLQ_ERROR]
    assert dead[0][0][DLQ_ATTEMPTS] == str(FAST_RETRY.max_attempts)


async def test_an_outage_pauses_the_consumer_and_nothing_goes_to_the_dead_letters(db, isolated) -> None:
    # The database "down" for 6 tries, three times what the retry policy allows a failing event:
    # an outage is no fault of the events, so they wait, then are applied, none dead-lettered.
    prefix, bootstrap = isolated["kafka_topic_prefix"], isolated["kafka_bootstrap_servers"]
    records = [encode(exceeded(f"acct-{i % 3}"), source="test", topic_prefix=prefix) for i in range(30)]
    batches: list[int] = []
    events = counting_runtime(db, isolated, batches, outages=3 * FAST_RETRY.max_attempts)
    await events.start()
    try:
        await produce_all(bootstrap, records)
        await eventually(lambda: counts_reached(db, {f"acct-{i}": 10 for i in range(3)}), timeout=60)
    finally:
        await events.stop()
    assert len(batches) > 3 * FAST_RETRY.max_attempts  # it waited, then applied
    dead = await read_topic(bootstrap, dead_letter_topic(QuotaExceeded.topic(prefix)), expect=0, timeout=1.0)
    assert dead == []


async def committed_reached(bootstrap: str, group: str, topic: str, total: int) -> bool:
    return await committed_total(bootstrap, group, topic) >= total


async def counts_reached(db: Any, expected: dict[str, int]) -> bool:
    return await counts(db) == expected


def recording_consumer(isolated: dict[str, str], name: str) -> tuple[BatchConsumer, list[Any], list[str]]:
    """A batch consumer named `name` (not started), 20 events for it, and the list of the event ids
    its handler is handed; a dead letter fails the test."""
    prefix = isolated["kafka_topic_prefix"]
    records = [encode(exceeded(f"acct-{i}"), source="test", topic_prefix=prefix) for i in range(20)]
    seen: list[str] = []

    async def handler(envelopes: list[Envelope[Any]]) -> None:
        seen.extend(envelope.id for envelope in envelopes)

    async def no_dead_letters(*record: Any) -> None:
        raise AssertionError(f"nothing here is a dead letter: {record}")

    consumer = BatchConsumer(
        bootstrap_servers=isolated["kafka_bootstrap_servers"],
        handlers={QuotaExceeded: handler},
        consumer=name,
        group_id=f"{prefix}{name}",
        publish=no_dead_letters,
        topic_prefix=prefix,
    )
    return consumer, records, seen


async def test_start_does_not_wait_for_the_group_and_what_is_sent_meanwhile_is_applied(isolated) -> None:
    """A service answers while its batch consumer joins the group (Tansu holds a JoinGroup for
    half the session timeout); events sent before the partitions are assigned are still read."""
    bootstrap = isolated["kafka_bootstrap_servers"]
    consumer, records, seen = recording_consumer(isolated, "joiner")
    await consumer.start()
    try:
        assert consumer.kafka.assignment() == set()  # started, not yet a member with partitions
        await produce_all(bootstrap, records)
        await eventually(
            lambda: seen_at_least(seen, len(records)), timeout=60, what="every event handed to the handler"
        )
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted(record.id for record in records)


async def test_an_error_aiokafka_hands_to_a_poll_does_not_end_the_consumer(isolated) -> None:
    """aiokafka's group coordinator hands an answer it does not expect (a restarting broker's) to
    the next `getmany` as an exception, and coordinates on once it is consumed (`check_errors`).
    Pushed here the way aiokafka pushes it: the poll raises it, and the events after it are read."""
    bootstrap = isolated["kafka_bootstrap_servers"]
    consumer, records, seen = recording_consumer(isolated, "pushed")
    await consumer.start()
    coordinator: Any = consumer.kafka._coordinator  # noqa: SLF001 - aiokafka's own hand-over, as it does it
    handed_over: asyncio.Future[Any] | None = None
    try:
        await produce_all(bootstrap, records[:10])
        await eventually(lambda: seen_at_least(seen, 10), timeout=60, what="the first events")
        error = KafkaError("Unexpected exception in heartbeat task: UnknownServerError")
        handed_over = asyncio.ensure_future(coordinator._push_error_to_user(error))  # noqa: SLF001
        await eventually(lambda: consumed(coordinator), timeout=30, what="a poll taking the error")
        await produce_all(bootstrap, records[10:])
        await eventually(lambda: seen_at_least(seen, 20), timeout=60, what="the events after the error")
        assert consumer.running
    finally:
        if handed_over is not None:
            handed_over.cancel()
        await consumer.stop()
    assert sorted(seen) == sorted(record.id for record in records)


async def seen_at_least(seen: list[str], count: int) -> bool:
    return len(seen) >= count


async def consumed(coordinator: Any) -> bool:
    return coordinator._pending_exception is None  # noqa: SLF001
