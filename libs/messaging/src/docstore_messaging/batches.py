"""Consuming events in batches: one transaction per batch, still exactly once.

`EventRuntime.subscribe_batch(handler, EventA, EventB, ...)` hands `handler` every event of
those classes as a list, in the order of each partition, as many at a time as the broker has
ready (up to `max_records`). The handler applies them in one unit of work with
`uow.run_once_each`, so a batch's effects and its processed-event records commit together.

Delivery is the same contract as `consumer.subscribe`: at least once, offsets committed only
after the batch's effects committed (a process killed in between sees the batch again and
`run_once_each` skips what was already applied). When a batch fails, it is split in halves
and each half tried again, down to single events; a single event that still fails after the
retry policy goes to `<topic>.dlq` and the rest of the batch goes on. Records that are not a
decodable event of their topic go to the dead letters at once. A poll that fails (aiokafka
hands its group coordinator's errors to the next poll) is polled again, and a Kafka consumer
whose polls keep failing is replaced by a new one; a poll loop that ends anyway is logged
(`event_consumer_died`) and makes `EventRuntime.ready` answer not ready.

Batches form on their own: while one is being applied the consumer keeps fetching, so under
load the next poll returns many records, and a lone event is handed over as soon as it
arrives (a batch of one). Nothing waits to fill a batch.

`EventRuntime.subscribe_raw_batch(topic, handler)` does the same for a topic that another
system writes (no CloudEvents): `handler` gets lists of `consumer.RawMessage`, in partition
order, with the same commits, splitting, retries and dead letters. A raw message is named by
`topic:partition:offset` in logs where an event has its id, and by its partition and offset on
its span.

Why not FastStream's batch subscriber (0.7.8): after a poll that finds nothing it sleeps for
`batch_timeout_ms` before it polls again, so the first event after a quiet spell waits up to
that long; and a failed batch is rewound whole, with no way to find the one bad event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.context import Context

from docstore_events.base import Event
from docstore_events.envelope import Envelope, UndecodableEvent, decode, headers_to_dict
from docstore_messaging import metrics
from docstore_messaging.consumer import (
    FETCH_ROUTINE_WAKE_MS,
    GroupMembership,
    RawMessage,
    RetryPolicy,
    dead_letter_record,
)
from docstore_messaging.faults import crashpoint
from docstore_messaging.fetch_wait import AdaptiveFetchWait, FetchWaitPolicy
from docstore_messaging.kafka_security import PLAINTEXT, KafkaSecurity
from docstore_messaging.outages import is_outage
from docstore_messaging.tasks import stop_consumer, stop_tasks
from docstore_messaging.tracing import context_from_headers, event_contexts, tracer

log = structlog.get_logger(__name__)

BatchHandler = Callable[[list[Envelope[Any]]], Awaitable[Any]]
"""Applies a list of events (any of the classes it subscribed to), all or nothing."""

RawBatchHandler = Callable[[list[RawMessage]], Awaitable[Any]]
"""Applies a list of one raw topic's messages, all or nothing (or idempotently, message by message)."""

AnyBatchHandler = BatchHandler | RawBatchHandler

Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
"""Sends (value, topic, key, headers), waiting for the broker's acknowledgement."""

POLL_RETRY_SECONDS = 1.0
"""The pause before polling again after a poll failed."""

REBUILD_AFTER_SECONDS = 30.0
"""How long every poll may fail before the Kafka consumer is replaced by a new one. A broker that
is down does not make polls fail (they come back empty); only an error aiokafka hands over does,
and one that persists (its coordination routine ended for good) leaves nothing else to do."""


@dataclass(frozen=True)
class _Delivery:
    record: ConsumerRecord[bytes, bytes]
    headers: dict[str, str]
    item: Envelope[Any] | RawMessage

    @property
    def id(self) -> str:
        """The event's id; a raw message's place in its topic."""
        if isinstance(self.item, Envelope):
            return self.item.id
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}"

    @property
    def type(self) -> str:
        """The event's type; a raw message's topic (it has no type of ours)."""
        return str(self.item.data.type) if isinstance(self.item, Envelope) else self.record.topic

    def span_attributes(self) -> dict[str, Any]:
        """What names it on its span: the CloudEvents id, or a raw message's partition and offset
        (as `consumer.subscribe` names them)."""
        if isinstance(self.item, Envelope):
            return {"cloudevents.event_id": self.item.id}
        return {
            "messaging.kafka.destination.partition": self.record.partition,
            "messaging.kafka.message.offset": self.record.offset,
        }


class BatchConsumer:
    """One Kafka group member that reads `handlers`' and `raw_handlers`' topics and applies them in batches."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        handlers: Mapping[type[Event], BatchHandler],
        consumer: str,
        group_id: str,
        publish: Publish,
        topic_prefix: str = "",
        retry: RetryPolicy = RetryPolicy(),
        fetch_max_wait_ms: int = 500,
        max_records: int = 250,
        security: KafkaSecurity = PLAINTEXT,
        membership: GroupMembership = GroupMembership(),
        raw_handlers: Mapping[str, RawBatchHandler] | None = None,
        fetch_wait: FetchWaitPolicy | None = None,
    ) -> None:
        if not handlers and not raw_handlers:
            raise ValueError("nothing to subscribe to")
        self.consumer_name = consumer
        self.topic_prefix = topic_prefix
        self.by_topic = {event_class.topic(topic_prefix): handler for event_class, handler in handlers.items()}
        # Whole topic names, no prefix: the other system names them.
        self.raw_by_topic = dict(raw_handlers or {})
        if set(self.by_topic) & set(self.raw_by_topic):
            raise ValueError(f"topics both raw and CloudEvents: {sorted(set(self.by_topic) & set(self.raw_by_topic))}")
        self.publish = publish
        self.retry = retry
        self.max_records = max_records
        self.fetch_wait = fetch_wait
        """Drives the fetch wait of each Kafka consumer this one starts (`fetch_wait`), if given."""
        self._kafka_settings: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "client_id": f"docstore-{consumer}-batch",
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": fetch_max_wait_ms,
            "consumer_timeout_ms": FETCH_ROUTINE_WAKE_MS,
            **membership.consumer_kwargs(),
        }
        self.security = security
        self.kafka = self._new_kafka()
        """The Kafka consumer of the moment: `run` replaces it if its polls keep failing."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect, and join the group in the background: the first poll waits for the partitions.

        Subscribing after `start` keeps aiokafka's `start` from waiting for the group's
        assignment (on Tansu, a JoinGroup is held for half the session timeout): a service
        answers its routes while its consumer joins, and nothing is read before the partitions
        are assigned, at their committed offsets.
        """
        await self._start_kafka()
        self._task = asyncio.create_task(self.run(), name=f"{self.consumer_name}-batch-consumer")
        self._task.add_done_callback(self._ended)

    @property
    def running(self) -> bool:
        """False once the poll loop has ended (stopped, or died of a bug): nothing is consumed then."""
        return self._task is not None and not self._task.done()

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Says so where an operator looks; `EventRuntime.ready` then answers not ready.
            log.error("event_consumer_died", consumer=self.consumer_name, exc_info=task.exception())

    def _new_kafka(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(**self._kafka_settings, **self.security.client_kwargs())

    async def _start_kafka(self) -> None:
        await self.kafka.start()
        self.kafka.subscribe([*self.by_topic, *self.raw_by_topic])
        if self.fetch_wait is not None:
            AdaptiveFetchWait(self.fetch_wait).attach(self.kafka)

    async def _rebuild(self) -> None:
        """Replace the Kafka consumer by a new one, started and subscribed (until the broker lets
        it start). The group gives the new member the partitions at their committed offsets."""
        while True:
            await stop_consumer(self.kafka)
            self.kafka = self._new_kafka()
            try:
                await self._start_kafka()
                return
            except KafkaError as error:
                log.warning("event_consumer_start_failed", consumer=self.consumer_name, error=repr(error)[:300])
                await asyncio.sleep(POLL_RETRY_SECONDS)

    async def stop(self) -> None:
        await stop_tasks([self._task])
        await stop_consumer(self.kafka)

    async def run(self) -> None:
        """Poll, apply, commit, until cancelled."""
        failing_since: float | None = None
        while True:
            try:
                # Returns as soon as anything is fetched; the timeout only bounds an idle wait.
                polled = await self.kafka.getmany(timeout_ms=1000, max_records=self.max_records)
            except KafkaError as error:
                # aiokafka hands its group coordinator's errors to the next poll and goes on
                # coordinating (an answer it does not expect from a restarting broker ends its
                # heartbeats with "Unexpected exception in heartbeat task"): poll again, as
                # FastStream's own loop does. Uncaught, it ended this loop and the service never
                # consumed again while it still answered its routes. If the coordination itself
                # has ended, every poll raises: after `REBUILD_AFTER_SECONDS`, a new consumer.
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                if now - failing_since < REBUILD_AFTER_SECONDS:
                    log.warning("event_poll_failed", consumer=self.consumer_name, error=repr(error)[:300])
                    await asyncio.sleep(POLL_RETRY_SECONDS)
                else:
                    log.error("event_consumer_replaced", consumer=self.consumer_name, error=repr(error)[:300])
                    await self._rebuild()
                    failing_since = None
                continue
            failing_since = None
            if not polled:
                continue
            try:
                await self.process(polled)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Only the dead-letter publish or the commit can get here (the broker is
                # gone): rewind, so nothing uncommitted is skipped, and try again shortly.
                log.exception("event_batch_not_committed", consumer=self.consumer_name)
                # A partition taken away meanwhile (a rebalance) resumes at its committed
                # offset on whichever member gets it; seeking it here would raise.
                assigned = self.kafka.assignment()
                for partition, records in polled.items():
                    if partition in assigned:
                        self.kafka.seek(partition, records[0].offset)
                await asyncio.sleep(1.0)

    async def process(self, polled: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]) -> None:
        """Apply one poll's records (grouped by handler, in partition order), then commit them."""
        groups: dict[AnyBatchHandler, list[_Delivery]] = {}
        seen: set[str] = set()
        for records in polled.values():
            for record in records:
                delivery = await self._decode(record)
                # An event twice in one poll (a relay that died between publish and mark sends
                # it again) reaches the handler once: `run_once_each` only dedupes across batches.
                if delivery is not None and delivery.id not in seen:
                    seen.add(delivery.id)
                    handler = self.raw_by_topic.get(record.topic) or self.by_topic[record.topic]
                    groups.setdefault(handler, []).append(delivery)
        for handler, deliveries in groups.items():
            await self._apply(handler, deliveries)
        crashpoint("consumer.after_effect")
        await self.kafka.commit({partition: records[-1].offset + 1 for partition, records in polled.items()})

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> _Delivery | None:
        headers = headers_to_dict(record.headers)
        if record.topic in self.raw_by_topic:
            return _Delivery(record, headers, RawMessage(record.topic, record.key, record.value, headers))
        try:
            envelope = decode(headers, record.value)
            if envelope.data.topic(self.topic_prefix) != record.topic:
                raise UndecodableEvent(f"{envelope.type} does not belong on topic {record.topic}")
        except UndecodableEvent as error:
            await self.publish(*dead_letter_record(record, headers, error, 0, consumer=self.consumer_name))
            return None
        return _Delivery(record, headers, envelope)

    async def _apply(self, handler: AnyBatchHandler, batch: list[_Delivery]) -> None:
        """Apply `batch` in one go; on failure, each half on its own, down to single events.
        An outage (`outages.is_outage`) is no fault of the events: the whole batch is tried
        again, with backoff, until the server is back (the consumer pauses there)."""
        event_type = metrics.batch_event_type([delivery.type for delivery in batch])
        outages = 0
        while True:
            try:
                with metrics.timing_handler(self.consumer_name, event_type):
                    await self._call(handler, batch)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_outage(error):
                    await self._apply_in_parts(handler, batch, error)
                    return
                outages += 1
                log.warning(
                    "event_batch_waits_for_outage", consumer=self.consumer_name, size=len(batch), error=repr(error)
                )
                await asyncio.sleep(self.retry.backoff(outages))
                continue
            for delivery in batch:
                metrics.handled(self.consumer_name, delivery.record.topic)
            return

    async def _apply_in_parts(self, handler: AnyBatchHandler, batch: list[_Delivery], error: Exception) -> None:
        """A batch that failed for one of its events: each half on its own, down to single events."""
        if len(batch) == 1:
            await self._retry_single(handler, batch[0], error)
            return
        log.warning("event_batch_failed", consumer=self.consumer_name, size=len(batch), error=repr(error))
        middle = len(batch) // 2
        await self._apply(handler, batch[:middle])
        await self._apply(handler, batch[middle:])

    async def _retry_single(self, handler: AnyBatchHandler, delivery: _Delivery, error: Exception) -> None:
        """The retry policy for one event that failed once already; then the dead letters."""
        bound = log.bind(topic=delivery.record.topic, consumer=self.consumer_name, event_id=delivery.id)
        attempt = 1
        while not self.retry.gives_up(attempt, error):  # an outage never gives up
            bound.warning("event_handler_failed", attempt=attempt, outage=is_outage(error), error=repr(error))
            await asyncio.sleep(self.retry.backoff(attempt))
            attempt += 1
            try:
                await self._call(handler, [delivery])
            except asyncio.CancelledError:
                raise
            except Exception as again:
                error = again
                continue
            metrics.handled(self.consumer_name, delivery.record.topic)
            return
        record = delivery.record
        await self.publish(*dead_letter_record(record, delivery.headers, error, attempt, consumer=self.consumer_name))

    async def _call(self, handler: AnyBatchHandler, batch: list[_Delivery]) -> None:
        # One span for the batch: a lone event's span continues its trace; a batch's span
        # links to the trace of every event in it, and holds one span per event that continues
        # that event's trace (`tracing.handling` makes it current where the handler emits).
        contexts = [context_from_headers(delivery.headers) for delivery in batch]
        links = [
            trace.Link(span_context)
            for context in contexts
            if (span_context := trace.get_current_span(context).get_span_context()).is_valid
        ]
        topics = sorted({delivery.record.topic for delivery in batch})
        # Envelopes or raw messages: one topic's handler gets one kind (`process` groups by topic).
        items: list[Any] = [delivery.item for delivery in batch]
        with tracer.start_as_current_span(
            f"{','.join(topics)} process",
            context=contexts[0] if len(batch) == 1 else None,
            kind=trace.SpanKind.CONSUMER,
            links=links if len(batch) > 1 else None,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topics[0] if len(topics) == 1 else "",
                "messaging.consumer.group.name": self.consumer_name,
                "messaging.batch.message_count": len(batch),
            },
        ) as batch_span:
            if len(batch) == 1:
                await handler(items)
                return
            with contextlib.ExitStack() as spans:
                per_event: dict[str, Context] = {}
                for delivery, context in zip(batch, contexts, strict=True):
                    span = tracer.start_span(
                        f"{delivery.record.topic} process",
                        context=context,
                        kind=trace.SpanKind.CONSUMER,
                        links=[trace.Link(batch_span.get_span_context())],
                        attributes={
                            "messaging.system": "kafka",
                            "messaging.destination.name": delivery.record.topic,
                            "messaging.consumer.group.name": self.consumer_name,
                            **delivery.span_attributes(),
                        },
                    )
                    spans.callback(span.end)
                    per_event[delivery.id] = trace.set_span_in_context(span, context)
                with event_contexts(per_event):
                    await handler(items)
