"""Browsing and replaying dead letters: the messages `consumer.subscribe` gave up on.

A message whose handler kept failing (or that could not be decoded) is published to
`<topic>.dlq` with its original key, value and headers plus `x-dlq-*` headers saying why
(see `consumer.DLQ_*`). `DeadLetters` lists those topics' messages for an operator and
publishes one back to the topic it failed on once the cause is fixed.

    letters = DeadLetters(bootstrap_servers, topic_prefix, publish=runtime.publish)
    page, cursor = await letters.page(limit=50)           # oldest first per partition
    record = await letters.replay(topic, partition, offset)

Reading uses an aiokafka consumer outside any group (partitions assigned by hand, a seek, a
bounded read), so looking never moves a consumer group's offsets. A replay sends the dead
letter's value, key and headers minus the `x-dlq-*` ones; the consumers are idempotent
(`UnitOfWork.run_once`), so replaying twice is harmless.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from docstore_events.envelope import KafkaRecord, headers_to_dict
from docstore_events.topics import DEAD_LETTER_SUFFIX
from docstore_messaging.consumer import DLQ_CONSUMER, DLQ_ERROR, DLQ_FAILED_AT, DLQ_ORIGINAL_TOPIC
from docstore_messaging.kafka_security import PLAINTEXT, KafkaSecurity

#: Headers with this prefix were added when the message was dead-lettered; a replay drops them.
DLQ_HEADER_PREFIX = "x-dlq-"

#: Sends one record and waits for the broker's acknowledgement (`EventRuntime.publish`).
Publish = Callable[[KafkaRecord], Awaitable[None]]


class InvalidCursor(ValueError):
    """A paging cursor that `DeadLetters.page` did not hand out."""


class NotFound(LookupError):
    """No dead letter at that topic, partition and offset."""


@dataclass(frozen=True)
class DeadLetter:
    """One message on a `<topic>.dlq` topic, with the reasons its `x-dlq-*` headers give."""

    topic: str
    partition: int
    offset: int
    original_topic: str
    consumer: str
    error: str
    failed_at: str
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def id(self) -> str:
        """`topic:partition:offset`, which names the dead letter for `DeadLetters.get`."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def summary(self) -> dict[str, Any]:
        """What an operator's listing shows (no key or value), JSON-ready but for `time`."""
        return {
            "id": self.id,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "original_topic": self.original_topic,
            "consumer": self.consumer,
            "error": self.error,
            "failed_at": self.failed_at,
            "time": self.timestamp.isoformat(),
            "event_type": self.headers.get("ce_type"),
            "event_id": self.headers.get("ce_id"),
        }

    def replay_record(self) -> KafkaRecord:
        """The message as it was before it failed, addressed to its original topic."""
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith(DLQ_HEADER_PREFIX)}
        return KafkaRecord(topic=self.original_topic, key=self.key or b"", value=self.value or b"", headers=headers)


def encode_cursor(position: tuple[str, int, int]) -> str:
    """An opaque paging cursor for the (topic, partition, offset) of the last letter shown."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int, int]:
    """The (topic, partition, offset) in `cursor`; `InvalidCursor` if it is not one of ours."""
    try:
        topic, partition, offset = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return str(topic), int(partition), int(offset)
    except (binascii.Error, ValueError, TypeError) as error:
        raise InvalidCursor("invalid cursor") from error


def _dead_letter(message: Any) -> DeadLetter:
    headers = headers_to_dict(message.headers)
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        # Letters written without the header (by hand, by an older consumer) still name their topic.
        original_topic=headers.get(DLQ_ORIGINAL_TOPIC) or message.topic.removesuffix(DEAD_LETTER_SUFFIX),
        consumer=headers.get(DLQ_CONSUMER, ""),
        error=headers.get(DLQ_ERROR, ""),
        failed_at=headers.get(DLQ_FAILED_AT, ""),
        timestamp=datetime.fromtimestamp(message.timestamp / 1000, UTC),
        key=message.key,
        value=message.value,
        headers=headers,
    )


async def _stop(consumer: AIOKafkaConsumer) -> None:
    # aiokafka (0.14) starts a task for a group-less consumer at the end of `start()`; stopping
    # before that task first ran (an empty listing, an unknown partition) cancels it unstarted
    # and `stop()` raises CancelledError. One turn of the event loop lets it start.
    await asyncio.sleep(0)
    await consumer.stop()


class DeadLetters:
    """The dead letters of every `<topic_prefix>docstore.*.dlq` topic on one broker.

    `publish` is needed by `replay` only; `timeout` bounds each read, so a listing answers
    even when the broker is slow (possibly with fewer letters).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic_prefix: str,
        *,
        publish: Publish | None = None,
        timeout: float = 5.0,
        client_id: str = "docstore-dlq",
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = security
        self.topic_prefix = topic_prefix
        self.publish = publish
        self.timeout = timeout
        self.client_id = client_id

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,  # no group: reading never commits or rebalances anything
            enable_auto_commit=False,
            client_id=f"{self.client_id}-{uuid.uuid4().hex[:6]}",
            fetch_max_wait_ms=100,
            **self.security.client_kwargs(),
        )

    async def topics(self) -> list[str]:
        """The dead-letter topics of this prefix that exist on the broker, sorted."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self.security.client_kwargs())
        await admin.start()
        try:
            names = await admin.list_topics()
        finally:
            await admin.close()
        return sorted(
            t for t in names if t.endswith(DEAD_LETTER_SUFFIX) and t.startswith(f"{self.topic_prefix}docstore.")
        )

    async def page(
        self, *, limit: int, cursor: str | None = None, topic: str | None = None
    ) -> tuple[list[DeadLetter], str | None]:
        """Dead letters in (topic, partition, offset) order, `limit` at a time, and the cursor
        of the next page (None on the last). `topic` keeps one dead-letter topic only."""
        after = decode_cursor(cursor) if cursor else None
        topics = [t for t in await self.topics() if topic is None or t == topic]
        consumer = self._consumer()
        await consumer.start()
        found: list[DeadLetter] = []
        try:
            partitions = []
            for name in topics:
                for number in sorted(consumer.partitions_for_topic(name) or await self._partitions(consumer, name)):
                    partitions.append(TopicPartition(name, number))
            if not partitions:
                return [], None
            begin = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
            for tp in partitions:
                if after and (tp.topic, tp.partition) < after[:2]:
                    continue
                start = begin[tp]
                if after and (tp.topic, tp.partition) == after[:2]:
                    start = max(start, after[2] + 1)
                if start >= end[tp]:
                    continue
                # One more than asked for: its presence says whether there is a next page.
                found += await self._read(consumer, tp, start, end[tp], limit + 1 - len(found))
                if len(found) > limit:
                    break
        finally:
            await _stop(consumer)
        more = len(found) > limit
        found = found[:limit]
        next_cursor = encode_cursor((found[-1].topic, found[-1].partition, found[-1].offset)) if more else None
        return found, next_cursor

    async def get(self, topic: str, partition: int, offset: int) -> DeadLetter:
        """The dead letter at that position; `NotFound` unless `topic` is one of `topics()`
        and the offset is still on the broker."""
        if topic not in await self.topics():
            raise NotFound(topic)
        consumer = self._consumer()
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            if partition not in (consumer.partitions_for_topic(topic) or await self._partitions(consumer, topic)):
                raise NotFound(f"{topic}:{partition}")
            begin, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
            if not begin <= offset < end:
                raise NotFound(f"{topic}:{partition}:{offset}")
            letters = await self._read(consumer, tp, offset, offset + 1, 1)
        finally:
            await _stop(consumer)
        if not letters or letters[0].offset != offset:
            raise NotFound(f"{topic}:{partition}:{offset}")
        return letters[0]

    async def replay(self, topic: str, partition: int, offset: int) -> KafkaRecord:
        """Publish the dead letter at that position to its original topic and return what was
        sent. The letter stays where it is (a dead-letter topic is a log, not a queue);
        `NotFound` as for `get`."""
        if self.publish is None:
            raise RuntimeError("DeadLetters was built without `publish`: it can list, not replay")
        record = (await self.get(topic, partition, offset)).replay_record()
        await self.publish(record)
        return record

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - no public call for one topic
        return consumer.partitions_for_topic(topic) or set()

    async def _read(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int, want: int
    ) -> list[DeadLetter]:
        consumer.assign([tp])
        consumer.seek(tp, start)
        letters: list[DeadLetter] = []
        deadline = asyncio.get_running_loop().time() + self.timeout
        while len(letters) < want and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=200, max_records=want - len(letters))
            for message in batch.get(tp, []):
                if message.offset >= end:
                    return letters
                letters.append(_dead_letter(message))
                if message.offset + 1 >= end:
                    return letters
        return letters
