"""One service's event plumbing: its Kafka broker, outbox and relay, in one object.

Built in `create_app`, started and stopped by the app's lifespan; nothing connects
before `start()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_events.base import Event
from docstore_events.envelope import KafkaRecord
from docstore_messaging.batches import BatchConsumer, BatchHandler, RawBatchHandler
from docstore_messaging.consumer import GroupMembership, Handler, RawHandler, RetryPolicy, subscribe
from docstore_messaging.fetch_wait import AdaptiveFetchWait, FetchWaitPolicy
from docstore_messaging.kafka_security import PLAINTEXT, KafkaSecurity
from docstore_messaging.metrics import RuntimeMetrics
from docstore_messaging.outbox import Outbox, OutboxRelay
from docstore_messaging.tasks import stop_consumer, stop_tasks
from docstore_messaging.unit_of_work import MongoUnitOfWork

R = TypeVar("R")

BROKER_LOG = logging.getLogger("docstore_events.kafka")
"""FastStream's broker logs through this standard logger, so through the process's log setup
(one JSON object a line), not through FastStream's own colourized handler on stdout."""

T = TypeVar("T")
E = TypeVar("E", bound=Event)


class EventRuntime:
    """The broker, outbox and outbox relay of the service `service` (also its consumer group)."""

    def __init__(
        self,
        *,
        service: str,
        region: str,
        bootstrap_servers: str,
        db: AsyncDatabase[Any],
        topic_prefix: str = "",
        retry: RetryPolicy = RetryPolicy(),
        relay_poll_interval: float = 0.5,
        fetch_max_wait_ms: int = 500,
        batch_max_records: int = 250,
        fetch_wait: FetchWaitPolicy | None = None,
        kafka_security: KafkaSecurity = PLAINTEXT,
        membership: GroupMembership = GroupMembership(),
    ) -> None:
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        # Every Kafka client of this service (broker, batch consumer, dead-letter reader)
        # connects with these settings.
        self.kafka_security = kafka_security
        self.membership = membership
        self.db = db
        self.topic_prefix = topic_prefix
        self.retry = retry
        self.fetch_max_wait_ms = fetch_max_wait_ms
        # Short waits while events flow, long ones while idle (see docstore_messaging.fetch_wait).
        self.fetch_wait = fetch_wait or FetchWaitPolicy(busy_ms=fetch_max_wait_ms, idle_ms=fetch_max_wait_ms)
        # Per-message "Received/Processed" lines go to DEBUG; failures are logged by `consumer`.
        self.broker = KafkaBroker(
            bootstrap_servers,
            acks="all",
            client_id=f"docstore-{service}",
            log_level=logging.DEBUG,
            logger=BROKER_LOG,
            security=kafka_security.faststream_security(),
        )
        self.outbox = Outbox(db, source=f"/docstore/{region}/{service}", topic_prefix=topic_prefix)
        self.relay = OutboxRelay(self.outbox, self.send, poll_interval=relay_poll_interval)
        self._relay_task: asyncio.Task[None] | None = None
        self._handlers: dict[type[Event], Handler[Any]] = {}
        self._raw_handlers: dict[str, RawHandler] = {}
        self._batch_handlers: dict[type[Event], BatchHandler] = {}
        self._raw_batch_handlers: dict[str, RawBatchHandler] = {}
        self.batch_max_records = batch_max_records
        self._batch_consumer: BatchConsumer | None = None
        self._started = False
        self._metrics: RuntimeMetrics | None = None

    @classmethod
    def for_service(cls, settings: Any, db: AsyncDatabase[Any], **options: Any) -> EventRuntime:
        """The runtime of the service that `settings` (a docstore_kit ServiceSettings) describe."""
        return cls(
            service=settings.service,
            region=settings.region,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            db=db,
            topic_prefix=settings.kafka_topic_prefix,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            fetch_wait=FetchWaitPolicy(
                busy_ms=settings.kafka_fetch_max_wait_ms,
                idle_ms=settings.kafka_idle_fetch_max_wait_ms,
                idle_after_s=settings.kafka_idle_after_seconds,
            ),
            kafka_security=KafkaSecurity.from_settings(settings),
            membership=GroupMembership(
                session_timeout_ms=settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            ),
            **options,
        )

    def subscribe(self, event_class: type[E], handler: Handler[E]) -> None:
        """Deliver `event_class` events to `handler` in this service's consumer group (before `start`)."""
        if event_class in self._handlers or event_class in self._batch_handlers:
            raise ValueError(f"{event_class.__name__} already has a handler")
        self._handlers[event_class] = handler

    def subscribe_batch(self, handler: BatchHandler, *event_classes: type[Event]) -> None:
        """Deliver the events of `event_classes` to `handler` in batches (before `start`; see
        `docstore_messaging.batches`): lists of up to `batch_max_records` events, each list applied
        in one transaction with `uow.run_once_each`.

        A service consumes either in batches or one event at a time, not both: each way is a
        Kafka consumer of its own, and two members of one group with different topics is a
        rebalance protocol corner we do not need.
        """
        if self._started:
            raise RuntimeError("subscribe_batch after start()")
        for event_class in event_classes:
            if event_class in self._batch_handlers or event_class in self._handlers:
                raise ValueError(f"{event_class.__name__} already has a handler")
            self._batch_handlers[event_class] = handler

    def subscribe_raw(self, topic: str, handler: RawHandler) -> None:
        """Deliver each message of `topic`, which another system writes (not CloudEvents), to
        `handler` as a `consumer.RawMessage` (before `start`).

        `topic` is the whole name, without this service's topic prefix: the other system names
        it, and regions sharing that system share the topic. The messages go through the same
        consumer group, ack policy, retries and `<topic>.dlq` as the `subscribe`d events.
        """
        if self._started:
            # The one Kafka subscriber is built in `start`; a later handler would never be called.
            raise RuntimeError(f"subscribe_raw({topic!r}) after start()")
        if topic in self._raw_handlers or topic in self._raw_batch_handlers:
            raise ValueError(f"raw topic {topic} already has a handler")
        self._raw_handlers[topic] = handler

    def subscribe_raw_batch(self, topic: str, handler: RawBatchHandler) -> None:
        """Deliver the messages of `topic`, which another system writes, to `handler` in batches
        of `consumer.RawMessage` (before `start`): the batch consumer of `subscribe_batch`, so one
        offset commit per poll instead of one per message, and the same retries and dead letters.
        `topic` is the whole name, as in `subscribe_raw`.
        """
        if self._started:
            raise RuntimeError(f"subscribe_raw_batch({topic!r}) after start()")
        if topic in self._raw_handlers or topic in self._raw_batch_handlers:
            raise ValueError(f"raw topic {topic} already has a handler")
        self._raw_batch_handlers[topic] = handler

    def unit_of_work(self, repositories: Callable[[AsyncClientSession | None], R]) -> MongoUnitOfWork[R]:
        """A unit of work on this service's database and outbox that hands out `repositories(session)`."""
        return MongoUnitOfWork(self.db.client, self.db, self.outbox, repositories)

    async def publish(self, record: KafkaRecord) -> None:
        """Send one record and wait for the broker's acknowledgement (acks=all)."""
        await self.broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers)

    async def send(self, record: KafkaRecord) -> Awaitable[object]:
        """Hand one record to the producer and return its acknowledgement (acks=all) to await
        later, so the outbox relay sends a batch of records in one request per partition."""
        delivery: Awaitable[object] = await self.broker.publish(
            record.value, topic=record.topic, key=record.key, headers=record.headers, no_confirm=True
        )
        return delivery

    async def start(self) -> None:
        batched = self._batch_handlers or self._raw_batch_handlers
        if batched and (self._handlers or self._raw_handlers):
            raise ValueError(f"{self.service} subscribes both in batches and one event at a time")
        await self.outbox.ensure_indexes()
        self._started = True
        if self._handlers or self._raw_handlers:
            subscribe(
                self.broker,
                self._handlers,
                raw_handlers=self._raw_handlers,
                consumer=self.service,
                topic_prefix=self.topic_prefix,
                retry=self.retry,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                membership=self.membership,
                # The service name; on a broker shared by regions (a topic prefix), the prefix
                # too, so one region's restarts never rebalance the other region's consumers.
                group_id=f"{self.topic_prefix}{self.service}",
            )
        await self.broker.start()
        for subscriber in self.broker.subscribers:
            if subscriber.consumer is not None:  # type: ignore[attr-defined]
                AdaptiveFetchWait(self.fetch_wait).attach(subscriber.consumer)  # type: ignore[attr-defined]
        if batched:
            self._batch_consumer = BatchConsumer(
                bootstrap_servers=self.bootstrap_servers,
                security=self.kafka_security,
                handlers=self._batch_handlers,
                raw_handlers=self._raw_batch_handlers,
                consumer=self.service,
                group_id=f"{self.topic_prefix}{self.service}",
                publish=self._publish_raw,
                topic_prefix=self.topic_prefix,
                retry=self.retry,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                max_records=self.batch_max_records,
                membership=self.membership,
                fetch_wait=self.fetch_wait,
            )
            await self._batch_consumer.start()
        self._metrics = RuntimeMetrics(f"{self.topic_prefix}{self.service}", self._consumers)  # lag per partition
        self._metrics.start()
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-outbox-relay")

    def _consumers(self) -> list[Any]:
        """Every Kafka consumer of this runtime now (the batch consumer may have replaced its own)."""
        consumers = [s.consumer for s in self.broker.subscribers if s.consumer is not None]  # type: ignore[attr-defined]
        return consumers + ([self._batch_consumer.kafka] if self._batch_consumer else [])

    async def _publish_raw(self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        await self.broker.publish(value, topic=topic, key=key, headers=headers)

    async def stop(self) -> None:
        if self._metrics:
            await self._metrics.stop()
        if self._batch_consumer:
            await self._batch_consumer.stop()
        await stop_tasks([self._relay_task])
        # Each subscriber first, bounded (its in-flight message finishes, then its consumer stops);
        # the broker's own stop then finds them stopped and closes the producer.
        await asyncio.gather(
            *(
                stop_consumer(subscriber.consumer, subscriber.stop)  # type: ignore[attr-defined]
                for subscriber in self.broker.subscribers
                if subscriber.consumer is not None  # type: ignore[attr-defined]
            )
        )
        await self.broker.stop()

    async def ready(self) -> bool:
        """True when the broker answers and the batch consumer (if any) still polls."""
        if self._batch_consumer is not None and not self._batch_consumer.running:
            return False
        return bool(await self.broker.ping(timeout=2.0))
