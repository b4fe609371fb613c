"""Helpers the test suites share (importable from any test folder, no test packages needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from docstore_messaging.tasks import stop_tasks

#: Partitions of each topic the test systems create, one as on the platform `scripts/up` starts: one
#: replica of each service reads every topic, and Tansu re-reads every partition each waiting fetch
#: asks for, so its work grows with them (docs/ARCHITECTURE.md, "Long polls and idle cost"). Only the
#: event backbone's own tests are about how records spread over partitions (`partitions(n)` marker).
TEST_TOPIC_PARTITIONS = 1
#: Consumer-group membership of the systems the tests start and of the tests' in-process apps.
#: Tansu holds each JoinGroup for half the session timeout (in 1 s steps): at 2 s a join takes 1 s
#: and a dead member's partitions move after 2 s, which the tests that restart services and the
#: broker wait on. The platform's own is `servers.PLATFORM_MEMBERSHIP_ENV` (6 s, heartbeats every
#: 2 s: idle heartbeats cost the durable broker log less; docs/ARCHITECTURE.md, "Joining a group").
TEST_GROUP_MEMBERSHIP_ENV = {"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "600"}


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, interval: float = 0.2, what: str = ""
) -> Any:
    """Poll an async check until it returns something truthy, and return that.

    Events take a moment to flow; this waits for their effect instead of sleeping a guess. The
    limit is generous because only a failing test reaches it, and CI's two cores may be loaded.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what or 'condition'} not met within {timeout} s (last: {last!r})")


#: The coroutines of a running aiokafka consumer: its fetcher, group coordination and heartbeats.
KAFKA_CONSUMER_LOOPS = ("_fetch_requests_routine", "_coordination_routine", "_heartbeat_routine")


def running_kafka_consumer_loops() -> set[asyncio.Task[Any]]:
    """The running tasks of aiokafka consumers in this event loop.

    A consumer left running after its test keeps fetching, and once its topics are deleted it
    asks the broker for metadata in a tight loop: the `isolated` fixture fails a test that leaves one.
    """
    return {
        task
        for task in asyncio.all_tasks()
        if not task.done() and task.get_coro().__qualname__.rsplit(".", 1)[-1] in KAFKA_CONSUMER_LOOPS
    }


async def kafka_consumers_left_running(before: set[asyncio.Task[Any]], grace: float = 5.0) -> set[asyncio.Task[Any]]:
    """The consumer tasks started since `before` that still run after up to `grace` seconds (a
    consumer stopped a moment ago may take a few loop turns to finish its cancelled tasks).

    A task whose consumer was told to stop is cancelled here and not reported: aiokafka can
    leave a heartbeat behind a finished stop on a loaded machine (seen in CI), which is the
    library's race, not a test that forgot its consumer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while (left := running_kafka_consumer_loops() - before) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    stopped = {task for task in left if _owner_was_stopped(task)}
    await stop_tasks(stopped, grace=1.0)
    return left - stopped


def _owner_was_stopped(task: asyncio.Task[Any]) -> bool:
    """Whether the coordinator or fetcher running `task` was closed (aiokafka's private state)."""
    frame = getattr(task.get_coro(), "cr_frame", None)
    owner = frame.f_locals.get("self") if frame is not None else None
    closing = getattr(owner, "_closing", None)  # a group coordinator's
    return bool(getattr(owner, "_closed", False)) or (isinstance(closing, asyncio.Future) and closing.done())


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit `group`'s offsets at the current end of `topic`, for a group about to be created.

    A new group reads a topic from its earliest record (so a service loses nothing on its first
    start). On a topic every test writes to, such as the S3 notifications, that is the whole run's
    history: a service under test would work through thousands of other tests' records before its
    own, and missed its waits late in CI. Committing the end first makes it start where its test does.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # loads the cluster's metadata, so the topic's partitions are known
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise AssertionError(f"topic {topic} has no partitions (does it exist?)")
        consumer.assign(partitions)
        await consumer.commit(dict(await consumer.end_offsets(partitions)))
    finally:
        await consumer.stop()


class EventPublisher:
    """Publishes events into a service's topics the way its producers would, minus the outbox.

    Tests use it to feed a service under test: `send` encodes and publishes, `resend` delivers
    the very same record (same CloudEvents id) again, as Kafka may.
    """

    def __init__(self, producer: Any, topic_prefix: str, *, source: str = "/docstore/test") -> None:
        self.producer = producer  # a started aiokafka AIOKafkaProducer
        self.topic_prefix = topic_prefix
        self.source = source

    async def send(
        self,
        event: Any,
        *,
        event_id: str | None = None,
        time: Any = None,
        topic: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Publish `event`; returns its `KafkaRecord` (`record.id` is the CloudEvents id)."""
        from docstore_events import encode

        record = encode(event, source=self.source, topic_prefix=self.topic_prefix, event_id=event_id, time=time)
        await self.resend(record, topic=topic, headers=headers)
        return record

    async def resend(self, record: Any, *, topic: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Deliver `record` (to `topic` and with extra `headers`, when given)."""
        all_headers = {**record.headers, **(headers or {})}
        await self.producer.send_and_wait(
            topic or record.topic,
            record.value,
            key=record.key,
            headers=[(name, value.encode()) for name, value in all_headers.items()],
        )


def filer_notification(*, new: str | None = None, old: str | None = None) -> bytes:
    """The Kafka value SeaweedFS's filer publishes for a change (protobuf `filer_pb.EventNotification`:
    field 1 the old entry, 2 the new one; an entry's name is its field 1). `new` only: a file was
    written; `old` only: deleted; both: overwritten."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    entries = [(1, old), (2, new)]
    return b"".join(field(number, field(1, name.encode())) for number, name in entries if name is not None)
