"""A raw topic (another system's messages) read by the batch consumer, beside CloudEvents: one
commit per poll, a poisoned message dead-lettered alone; a poll that fails does not end the
consumer; and the runtime's bookkeeping. The broker side of batches is in
tests/integration/test_batches.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from unittest.mock import MagicMock

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from docstore_events import Envelope, QuotaExceeded
from docstore_events.envelope import encode
from docstore_messaging.batches import BatchConsumer
from docstore_messaging.consumer import DLQ_ORIGINAL_TOPIC, RawMessage, RetryPolicy
from docstore_messaging.runtime import EventRuntime

RAW = "store.events"


def record(topic: str, offset: int, value: bytes, key: bytes | None = None, headers: Any = ()) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=list(headers),
    )


def event_record(offset: int, account_id: str) -> ConsumerRecord:
    encoded = encode(QuotaExceeded(account_id=account_id, used_bytes=2, cap_bytes=1, plan="free"), source="/test")
    return record(
        encoded.topic, offset, encoded.value, encoded.key, [(k, v.encode()) for k, v in encoded.headers.items()]
    )


class FakeKafka:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


class Handlers:
    def __init__(self, poison: bytes | None = None) -> None:
        self.poison = poison
        self.raw_batches: list[list[bytes | None]] = []
        self.event_batches: list[list[str]] = []

    async def raw(self, messages: list[RawMessage]) -> None:
        if any(message.value == self.poison for message in messages):
            raise ValueError("cannot apply this one")
        self.raw_batches.append([message.value for message in messages])

    async def events(self, envelopes: list[Envelope[Any]]) -> None:
        self.event_batches.append([envelope.data.account_id for envelope in envelopes])


def consumer(handlers: Handlers, published: list[tuple[bytes, str, bytes | None, dict[str, str]]]) -> BatchConsumer:
    async def publish(value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        published.append((value, topic, key, headers))

    built = BatchConsumer(
        bootstrap_servers="localhost:1",
        handlers={QuotaExceeded: handlers.events},
        raw_handlers={RAW: handlers.raw},
        consumer="test",
        group_id="test",
        publish=publish,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0.0),
    )
    built.kafka = FakeKafka()  # type: ignore[assignment]
    return built


async def test_raw_messages_and_events_of_one_poll_go_to_their_handlers_with_one_commit() -> None:
    handlers, published = Handlers(), []
    batch = consumer(handlers, published)
    events_partition = TopicPartition(QuotaExceeded.topic(""), 0)
    polled = {
        TopicPartition(RAW, 0): [record(RAW, 5, b"a", b"/k/a"), record(RAW, 6, b"b", b"/k/b")],
        events_partition: [event_record(9, "acct-1"), event_record(10, "acct-2")],
    }
    await batch.process(polled)
    assert handlers.raw_batches == [[b"a", b"b"]]  # as they came, undecoded, in one list
    assert handlers.event_batches == [["acct-1", "acct-2"]]
    assert batch.kafka.commits == [{TopicPartition(RAW, 0): 7, events_partition: 11}]  # type: ignore[attr-defined]
    assert published == []


async def test_a_poisoned_raw_message_goes_to_the_dead_letters_alone_and_the_rest_is_applied() -> None:
    handlers, published = Handlers(poison=b"bad"), []
    batch = consumer(handlers, published)
    raw = [record(RAW, offset, value) for offset, value in enumerate([b"a", b"bad", b"c", b"d"])]
    await batch.process({TopicPartition(RAW, 0): raw})
    assert sorted(value for applied in handlers.raw_batches for value in applied) == [b"a", b"c", b"d"]
    [(value, topic, _, headers)] = published
    assert (value, topic, headers[DLQ_ORIGINAL_TOPIC]) == (b"bad", f"{RAW}.dlq", RAW)
    assert batch.kafka.commits == [{TopicPartition(RAW, 0): 4}]  # type: ignore[attr-defined]


class FailingOncePoll(FakeKafka):
    """A consumer whose group coordinator hands the next poll an error, as aiokafka's does when
    a restarting broker gives its heartbeat an answer it does not expect; then one record."""

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[Any] = [
            KafkaError("Unexpected exception in heartbeat task"),
            {TopicPartition(RAW, 0): [record(RAW, 3, b"a")]},
        ]

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Any:
        outcome = self.polls.pop(0) if self.polls else {}
        if isinstance(outcome, Exception):
            raise outcome
        await asyncio.sleep(0 if outcome else 0.01)
        return outcome

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(RAW, 0)}


async def until(done: Callable[[], bool], loop: asyncio.Task[None], *, tries: int) -> None:
    """Until `done()` or the consumer's `loop` has ended, looking every 10 ms at most `tries` times."""
    for _ in range(tries):
        if done() or loop.done():
            return
        await asyncio.sleep(0.01)


async def test_a_poll_that_fails_is_polled_again_and_the_consumer_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("docstore_messaging.batches.POLL_RETRY_SECONDS", 0.0)
    handlers, published = Handlers(), []
    batch = consumer(handlers, published)
    batch.kafka = FailingOncePoll()  # type: ignore[assignment]
    loop = asyncio.create_task(batch.run())
    try:
        await until(lambda: bool(batch.kafka.commits), loop, tries=200)  # type: ignore[attr-defined]
        assert not loop.done(), loop.exception()  # before: the error ended the loop for good
        assert handlers.raw_batches == [[b"a"]]
        assert batch.kafka.commits == [{TopicPartition(RAW, 0): 4}]  # type: ignore[attr-defined]
    finally:
        loop.cancel()


class DeadCoordination(FakeKafka):
    """A consumer whose coordination routine has ended: every poll raises, for good."""

    stopped = False

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Any:
        raise KafkaError("Unexpected error during coordination")

    async def stop(self) -> None:
        self.stopped = True


class NewConsumer(FailingOncePoll):
    """What the batch consumer builds in its place: started, subscribed, then one record."""

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.settings = settings
        self.polls = self.polls[1:]
        self.topics: list[str] = []

    async def start(self) -> None:
        return None

    def subscribe(self, topics: list[str]) -> None:
        self.topics = topics

    async def stop(self) -> None:
        return None


async def test_a_kafka_consumer_whose_polls_keep_failing_is_replaced_by_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("docstore_messaging.batches.POLL_RETRY_SECONDS", 0.0)
    monkeypatch.setattr("docstore_messaging.batches.REBUILD_AFTER_SECONDS", 0.05)
    monkeypatch.setattr("docstore_messaging.batches.AIOKafkaConsumer", NewConsumer)
    handlers, published = Handlers(), []
    batch = consumer(handlers, published)
    dead = batch.kafka = DeadCoordination()  # type: ignore[assignment]
    loop = asyncio.create_task(batch.run())
    try:
        await until(lambda: bool(handlers.raw_batches), loop, tries=300)
        assert not loop.done(), loop.exception()
        assert dead.stopped and isinstance(batch.kafka, NewConsumer)
        assert batch.kafka.settings["group_id"] == "test" and batch.kafka.topics == [QuotaExceeded.topic(""), RAW]
        assert handlers.raw_batches == [[b"a"]]
        assert batch.kafka.commits == [{TopicPartition(RAW, 0): 4}]
    finally:
        loop.cancel()


async def noop(messages: list[RawMessage]) -> None:
    return None


def runtime() -> EventRuntime:
    return EventRuntime(service="svc", region="r", bootstrap_servers="localhost:1", db=MagicMock())


def test_a_raw_topic_takes_one_handler_either_way() -> None:
    events = runtime()
    events.subscribe_raw_batch(RAW, noop)
    with pytest.raises(ValueError, match="already has a handler"):
        events.subscribe_raw(RAW, noop)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already has a handler"):
        events.subscribe_raw_batch(RAW, noop)


async def test_raw_batches_do_not_mix_with_one_at_a_time_subscriptions() -> None:
    events = runtime()
    events.subscribe_raw_batch(RAW, noop)

    async def one(envelope: Envelope[QuotaExceeded]) -> None:
        return None

    events.subscribe(QuotaExceeded, one)
    with pytest.raises(ValueError, match="both in batches and one event at a time"):
        await events.start()


async def test_the_runtime_answers_not_ready_once_its_batch_consumer_has_died(monkeypatch: pytest.MonkeyPatch) -> None:
    events = runtime()

    async def answers(timeout: float) -> bool:
        return True

    monkeypatch.setattr(events.broker, "ping", answers)
    batch = consumer(Handlers(), [])
    events._batch_consumer = batch
    batch._task = asyncio.create_task(asyncio.sleep(60))
    assert await events.ready()
    batch._task.cancel()  # as a loop that ended on an error nobody caught
    with pytest.raises(asyncio.CancelledError):
        await batch._task
    assert not await events.ready()
