"""Subscribing to events: explicit ack policy, bounded retries, dead letters, tracing.

`subscribe` registers one FastStream subscriber for a service's topics; each handler
receives a decoded `Envelope` (or, on a raw topic that another system writes, a `RawMessage`).
The offset is committed only after the handler succeeded or the message
went to `<topic>.dlq` (AckPolicy.NACK_ON_ERROR: anything else rewinds the partition,
so the message is delivered again). Handlers must therefore be idempotent.
"""

from __future__ import annotations

import asyncio
import functools
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace

from docstore_events.base import Event
from docstore_events.envelope import Envelope, UndecodableEvent, decode, headers_to_dict
from docstore_events.topics import dead_letter_topic
from docstore_messaging import metrics
from docstore_messaging.faults import crashpoint
from docstore_messaging.outages import is_outage
from docstore_messaging.tracing import context_from_headers, tracer

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Envelope[E]], Awaitable[Any]]


@dataclass(frozen=True)
class RawMessage:
    """A message on a topic that another system writes (no CloudEvents envelope): as it came."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


RawHandler = Callable[[RawMessage], Awaitable[Any]]

FETCH_ROUTINE_WAKE_MS = 1_000
"""aiokafka's `consumer_timeout_ms` for every consumer of the services: how often its fetch
routine wakes when nothing else woke it. Each wake walks every assigned partition to plan the
next fetches. A fetch's answer, a consumed batch, a new or lost assignment, a paused partition's
resumption and a metadata refresh wake it at once whatever this is, so it delays no event; at
aiokafka's 200 ms an idle consumer woke 5 times a second for nothing. With uvicorn's quieter
tick (docstore_kit.server_tick) it took the idle services' CPU from 0.113-0.133 cores to
0.084-0.088 (20 processes, `bench/idle.py --broker-storage memory --test-settings`, 2026-11-30)."""

# Headers a dead letter carries besides the original ones.
DLQ_ERROR = "x-dlq-error"
DLQ_ORIGINAL_TOPIC = "x-dlq-original-topic"
DLQ_CONSUMER = "x-dlq-consumer"
DLQ_FAILED_AT = "x-dlq-failed-at"
DLQ_ATTEMPTS = "x-dlq-attempts"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing handler is retried in place before its message is dead-lettered.

    An outage (`outages.is_outage`: MongoDB, S3, Kafka or a service not answering) is never
    dead-lettered: the event is tried again, every `max_backoff` seconds at most, until the
    server is back. The consumer pauses on that event (its partition's offset does not move)
    and resumes by itself; a dead letter would lose the event's effect for a reason that has
    nothing to do with the event."""

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_backoff, self.initial_backoff * 2.0 ** min(attempt - 1, 32))

    def gives_up(self, attempt: int, error: BaseException) -> bool:
        """True when the event that failed `attempt` times (the last time with `error`) goes to
        its dead-letter topic: after `max_attempts`, unless the failure is an outage."""
        return attempt >= self.max_attempts and not is_outage(error)


@dataclass(frozen=True)
class GroupMembership:
    """How a consumer keeps its place in its group: the coordinator gives a member's partitions
    to the others after `session_timeout_ms` without a heartbeat (see the settings of the same
    names in docstore_kit)."""

    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000

    def consumer_kwargs(self) -> dict[str, int]:
        """The AIOKafkaConsumer arguments."""
        return {"session_timeout_ms": self.session_timeout_ms, "heartbeat_interval_ms": self.heartbeat_interval_ms}


def dead_letter_record(
    record: Any, headers: dict[str, str], error: BaseException, attempts: int, *, consumer: str
) -> tuple[bytes, str, bytes | None, dict[str, str]]:
    """What `<topic>.dlq` gets for `record` (a Kafka ConsumerRecord) that `consumer` gave up on:
    (value, topic, key, headers), the original headers plus why, where and when. Logs and counts it."""
    reason = "".join(traceback.format_exception_only(error)).strip()
    log.error("event_dead_lettered", topic=record.topic, consumer=consumer, error=reason, attempts=attempts)
    metrics.dead_lettered(consumer, record.topic)
    dlq_headers = {
        **headers,
        DLQ_ERROR: reason[:2000],
        DLQ_ORIGINAL_TOPIC: record.topic,
        DLQ_CONSUMER: consumer,
        DLQ_FAILED_AT: datetime.now(UTC).isoformat(),
        DLQ_ATTEMPTS: str(attempts),
    }
    return record.value or b"", dead_letter_topic(record.topic), record.key, dlq_headers


def subscribe(
    broker: KafkaBroker,
    handlers: Mapping[type[Event], Handler[Any]],
    *,
    consumer: str,
    topic_prefix: str = "",
    retry: RetryPolicy = RetryPolicy(),
    fetch_max_wait_ms: int = 500,
    group_id: str | None = None,
    raw_handlers: Mapping[str, RawHandler] | None = None,
    membership: GroupMembership = GroupMembership(),
) -> None:
    """Deliver each event to the handler for its class, at least once, in the group `group_id`
    (default: `consumer`).

    One Kafka consumer reads every topic of `handlers`, so a service is one group member
    (one rebalance when it joins, not one per event type).

    `raw_handlers` maps whole topic names (no prefix: another system names them) to handlers
    of messages that are not CloudEvents; they get each `RawMessage` undecoded, with the same
    ack policy, retries and dead letters.

    Services do not call this directly: `EventRuntime.subscribe` and `subscribe_raw` collect
    their handlers and `EventRuntime.start` makes this one call.
    """
    by_topic = {event_class.topic(topic_prefix): handler for event_class, handler in handlers.items()}
    raw_by_topic = dict(raw_handlers or {})
    if set(by_topic) & set(raw_by_topic):
        raise ValueError(f"topics both raw and CloudEvents: {sorted(set(by_topic) & set(raw_by_topic))}")
    if not by_topic and not raw_by_topic:
        raise ValueError("nothing to subscribe to")

    async def dead_letter(message: Any, headers: dict[str, str], error: BaseException, attempts: int) -> None:
        value, topic, key, dlq_headers = dead_letter_record(message, headers, error, attempts, consumer=consumer)
        await broker.publish(value, topic=topic, key=key, headers=dlq_headers)

    async def consume(msg: KafkaMessage) -> None:
        raw = msg.raw_message
        assert not isinstance(raw, tuple), "subscribers are not batched: one ConsumerRecord per message"
        topic = event_type = raw.topic  # a raw topic's messages have no event type of ours
        headers = headers_to_dict(raw.headers)
        work: Callable[[], Awaitable[Any]]
        if topic in raw_by_topic:
            message = RawMessage(topic=topic, key=raw.key, value=raw.value, headers=headers)
            work = functools.partial(raw_by_topic[topic], message)
            identity: dict[str, Any] = {"partition": raw.partition, "offset": raw.offset}
            attributes: dict[str, Any] = {
                "messaging.kafka.destination.partition": raw.partition,
                "messaging.kafka.message.offset": raw.offset,
            }
        else:
            try:
                envelope = decode(headers, raw.value)
                if envelope.data.topic(topic_prefix) != topic:
                    raise UndecodableEvent(f"{envelope.type} does not belong on topic {topic}")
            except UndecodableEvent as error:
                await dead_letter(raw, headers, error, attempts=0)
                return
            work = functools.partial(by_topic[topic], envelope)
            event_type = envelope.data.type
            identity = {"event_id": envelope.id}
            attributes = {"cloudevents.event_id": envelope.id}
        with tracer.start_as_current_span(
            f"{topic} process",
            context=context_from_headers(headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": consumer,
                **attributes,
            },
        ):
            bound = log.bind(topic=topic, consumer=consumer, **identity)
            attempt = 0
            while True:
                attempt += 1
                try:
                    with metrics.timing_handler(consumer, event_type):
                        await work()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    if retry.gives_up(attempt, error):
                        await dead_letter(raw, headers, error, attempts=attempt)
                        return
                    bound.warning("event_handler_failed", attempt=attempt, outage=is_outage(error), error=repr(error))
                    await asyncio.sleep(retry.backoff(attempt))
        metrics.handled(consumer, topic)
        crashpoint("consumer.after_effect")

    consume.__name__ = f"consume_{consumer}"
    broker.subscriber(
        *by_topic,
        *raw_by_topic,
        group_id=group_id or consumer,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=fetch_max_wait_ms,
        consumer_timeout_ms=FETCH_ROUTINE_WAKE_MS,
        session_timeout_ms=membership.session_timeout_ms,
        heartbeat_interval_ms=membership.heartbeat_interval_ms,
    )(consume)
