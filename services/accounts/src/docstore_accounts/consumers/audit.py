"""The audit consumer: every event type DocStore has, in batches, into the audit trail.

It is a Kafka group of its own (`<prefix>accounts-audit`), not a member of the service's group: it
reads topics the services' own groups read too (upload.completed, ...), each topic has one handler
per group, and the audit must be able to move to a service of its own with its offsets. The batch
consumer (`docstore_messaging.batches`) commits offsets only after the batch's records and
processed-event rows committed (manual acknowledgement: at least once, recorded exactly once by
`uow.run_once_each`); a batch that fails is split down to the one event that fails, which gets
the retry policy and then `<topic>.dlq` with `x-dlq-consumer: accounts-audit`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from docstore_accounts.service_layer.audit import CONSUMER, AuditTrail, Delivered
from docstore_events import Envelope
from docstore_events.base import Event
from docstore_events.event_types import CATALOGUE
from docstore_messaging.batches import BatchConsumer
from docstore_messaging.fetch_wait import FetchWaitPolicy
from docstore_messaging.metrics import RuntimeMetrics
from docstore_messaging.origin import origin_of
from docstore_messaging.runtime import EventRuntime

START_LIMIT_SECONDS = 5.0
"""How long a stopping service lets the audit consumer finish joining its group before stopping it
(within docstore_messaging.tasks.stop_tasks' grace)."""


def delivered(envelope: Envelope[Any]) -> Delivered:
    origin = origin_of(envelope.extra_headers)
    return Delivered(
        event_id=envelope.id,
        event_type=envelope.data.type,
        data=envelope.data.model_dump(mode="json"),
        time=envelope.time,
        source=envelope.source,
        client_address=origin.client_address,
        user_agent=origin.user_agent,
    )


class AuditConsumer:
    """Runs the audit's batch consumer as one of the accounts service's background loops."""

    def __init__(self, events: EventRuntime, trail: AuditTrail, *, busy_fetch_wait_ms: int = 0) -> None:
        """`busy_fetch_wait_ms`: its fetch wait while events flow, when longer than the runtime's
        (`Settings.audit_fetch_max_wait_ms` says why)."""
        self.events = events
        self.trail = trail
        self.busy_fetch_wait_ms = busy_fetch_wait_ms

    @property
    def fetch_wait(self) -> FetchWaitPolicy:
        """The runtime's fetch wait policy, with the longer wait while events flow."""
        runtime = self.events.fetch_wait
        busy_ms = max(self.busy_fetch_wait_ms, runtime.busy_ms)
        return replace(runtime, busy_ms=busy_ms, idle_ms=max(busy_ms, runtime.idle_ms))

    async def handle(self, envelopes: list[Envelope[Any]]) -> None:
        # In partition order: one account's events share a key, so a partition, so this order.
        await self.trail.record_once([delivered(envelope) for envelope in envelopes])

    @staticmethod
    def subscribed() -> tuple[type[Event], ...]:
        """Every event type of the explicit catalogue (`docstore_events.event_types`), not what
        happens to be imported when the consumer starts: the trail covers every event by construction."""
        return CATALOGUE

    def consumer(self) -> BatchConsumer:
        events = self.events

        async def publish(value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
            await events.broker.publish(value, topic=topic, key=key, headers=headers)

        return BatchConsumer(
            bootstrap_servers=events.bootstrap_servers,
            security=events.kafka_security,
            handlers=dict.fromkeys(self.subscribed(), self.handle),
            consumer=CONSUMER,
            group_id=f"{events.topic_prefix}{CONSUMER}",
            publish=publish,
            topic_prefix=events.topic_prefix,
            retry=events.retry,
            fetch_max_wait_ms=self.fetch_wait.busy_ms,
            max_records=events.batch_max_records,
            membership=events.membership,
            fetch_wait=self.fetch_wait,
        )

    async def run(self) -> None:
        """Consume until cancelled (started after the runtime's broker, which sends dead letters)."""
        consumer = self.consumer()
        lag: RuntimeMetrics | None = None
        # A service stopped while this consumer still joins its group must stop it too, or the
        # half-started consumer keeps fetching (and, once its topics are gone, asks the broker
        # for metadata in a tight loop). The start is shielded and finished first: aiokafka's
        # stop after a cancelled start could hang (seen in CI under load).
        starting = asyncio.ensure_future(consumer.start())
        try:
            await asyncio.shield(starting)
            # Its lag per topic and partition, as `docstore_consumer_lag_messages{group="<prefix>accounts-audit"}`.
            lag = RuntimeMetrics(f"{self.events.topic_prefix}{CONSUMER}", lambda: [consumer.kafka])
            lag.start()
            await asyncio.Event().wait()
        finally:
            # Shielded: the service's shutdown cancels this loop again after its grace (10 s), and
            # on a loaded machine the wait for the start plus the consumer's stop (Tansu holds a
            # JoinGroup for half the session timeout) took longer, so that second cancellation
            # ended the stop midway and left the consumer fetching (seen in CI, 2026-11-27). The
            # stop now finishes even then, bounded by its own limits.
            await asyncio.shield(self._stop(starting, consumer, lag))

    @staticmethod
    async def _stop(starting: asyncio.Future[None], consumer: BatchConsumer, lag: RuntimeMetrics | None) -> None:
        if not starting.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(starting, START_LIMIT_SECONDS)
        if lag is not None:
            await lag.stop()
        await consumer.stop()


def register_audit(events: EventRuntime, trail: AuditTrail, *, busy_fetch_wait_ms: int = 0) -> AuditConsumer:
    """The audit consumer of `trail`; run its `run` as a background loop of the runtime."""
    return AuditConsumer(events, trail, busy_fetch_wait_ms=busy_fetch_wait_ms)
