"""Prometheus metrics of the event plumbing: what an on-call engineer asks of a consumer and an
outbox.

- `docstore_events_consumed_total{consumer,topic,outcome}`: events handled or dead-lettered.
- `docstore_event_handler_duration_seconds{consumer,event_type}`: time in a handler (a batch
  handler's call is one observation, labelled with its event type, or `batch` when it mixes types).
- `docstore_dead_letters_total{consumer,topic}`: messages sent to `<topic>.dlq`.
- `docstore_consumer_lag_messages{group,topic,partition}`: records the broker has that the
  consumer has not taken yet (highwater minus position), sampled every few seconds.
- `docstore_outbox_published_total{topic}`, `docstore_outbox_pending_rows` and
  `docstore_outbox_oldest_pending_age_seconds`: the outbox backlog and how long its oldest row
  has waited (computed at scrape time, so it keeps growing while the relay fails), updated by
  the relay's own loop: no query of its own while the service is idle.

They live in a registry of their own, added to the process's default registry only when an
`EventRuntime` starts (`RuntimeMetrics.start`): a process without one (the gateway) shows none of
them, rather than empty families.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from docstore_messaging.tasks import stop_tasks

log = structlog.get_logger(__name__)

EVENTS_REGISTRY = CollectorRegistry(auto_describe=True)

consumed_total = Counter(
    "docstore_events_consumed_total",
    "Events handled, by outcome (handled, dead_lettered)",
    ["consumer", "topic", "outcome"],
    registry=EVENTS_REGISTRY,
)
handler_seconds = Histogram(
    "docstore_event_handler_duration_seconds",
    "Time in an event handler (one call: an event, or a batch), by event type",
    ["consumer", "event_type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=EVENTS_REGISTRY,
)
dead_letters_total = Counter(
    "docstore_dead_letters_total",
    "Messages sent to a dead-letter topic, by consumer and original topic",
    ["consumer", "topic"],
    registry=EVENTS_REGISTRY,
)
consumer_lag = Gauge(
    "docstore_consumer_lag_messages",
    "Records on the broker the consumer group has not taken yet (highwater - position), sampled",
    ["group", "topic", "partition"],
    registry=EVENTS_REGISTRY,
)
outbox_published_total = Counter(
    "docstore_outbox_published_total",
    "Events published by the outbox relay, by topic",
    ["topic"],
    registry=EVENTS_REGISTRY,
)
outbox_pending = Gauge(
    "docstore_outbox_pending_rows",
    "Outbox rows not yet published, as the relay last saw them",
    registry=EVENTS_REGISTRY,
)


class _OldestPending:
    """When the oldest unpublished outbox row was written; its age is computed at scrape time."""

    def __init__(self) -> None:
        self.since: float | None = None

    def age(self) -> float:
        return max(0.0, time.time() - self.since) if self.since is not None else 0.0


oldest_pending = _OldestPending()
outbox_oldest_age = Gauge(
    "docstore_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet published (0: none)",
    registry=EVENTS_REGISTRY,
)
outbox_oldest_age.set_function(oldest_pending.age)

BATCH_OF_SEVERAL_TYPES = "batch"


_exposed = False


def expose() -> None:
    """Add the event metrics to the process's default registry (idempotent)."""
    global _exposed
    if not _exposed:
        REGISTRY.register(EVENTS_REGISTRY)
        _exposed = True


@contextlib.contextmanager
def timing_handler(consumer: str, event_type: str) -> Iterator[None]:
    """Observe the time of the block (a handler call) in `docstore_event_handler_duration_seconds`,
    whether it succeeds or raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        handler_seconds.labels(consumer, event_type).observe(time.perf_counter() - started)


def batch_event_type(types: Sequence[str]) -> str:
    """The `event_type` label of a batch: its one type, or `batch` when it mixes several."""
    distinct = set(types)
    return distinct.pop() if len(distinct) == 1 else BATCH_OF_SEVERAL_TYPES


def handled(consumer: str, topic: str, count: int = 1) -> None:
    """Count `count` events of `topic` handled by `consumer`."""
    consumed_total.labels(consumer, topic, "handled").inc(count)


def dead_lettered(consumer: str, topic: str) -> None:
    """Count one message of `topic` that `consumer` sent to the dead letters."""
    consumed_total.labels(consumer, topic, "dead_lettered").inc()
    dead_letters_total.labels(consumer, topic).inc()


def published(topic: str) -> None:
    """Count one event the outbox relay published to `topic`."""
    outbox_published_total.labels(topic).inc()


def outbox_backlog(pending: int, oldest_written_at: datetime | None) -> None:
    """Record the outbox backlog: `pending` unpublished rows, the oldest written at `oldest_written_at`."""
    outbox_pending.set(pending)
    if oldest_written_at is not None and oldest_written_at.tzinfo is None:  # a client without tz_aware
        oldest_written_at = oldest_written_at.replace(tzinfo=UTC)
    oldest_pending.since = oldest_written_at.timestamp() if oldest_written_at and pending else None


async def measure_outbox_backlog(collection: Any, pending: Mapping[str, Any]) -> None:
    """Count the outbox rows matching `pending` and find the oldest (by `seq`, as the relay
    publishes; the outbox's (status, seq) index answers both). Called by the relay only when its
    last batch was full or failed: after a batch that took every pending row, the backlog is 0
    without a query (`outbox_backlog(0, None)`). A database that does not answer leaves the
    gauges as they were."""
    try:
        count = await collection.count_documents(dict(pending))
        oldest = await collection.find_one(dict(pending), sort=[("seq", 1)], projection={"created_at": 1})
    except Exception as error:
        log.debug("outbox_backlog_unmeasured", error=repr(error))
        return
    outbox_backlog(count, oldest.get("created_at") if oldest else None)


SOON_SECONDS = 1.0
"""How often the lag is sampled after start while no partition has a sample yet."""

SOON_FOR_SECONDS = 30.0
"""How long after start the sampler looks that often: a consumer's first fetch comes within it, and
an idle process with no partitions does not wake each second for ever."""


class RuntimeMetrics:
    """The metrics of one running `EventRuntime`: exposes the event metrics and samples the lag of
    its Kafka consumers every `interval` seconds (aiokafka's highwater, from the last fetch
    response, minus the consumer's position: no request to the broker)."""

    def __init__(
        self, group: str, consumers: Sequence[Any] | Callable[[], Sequence[Any]], *, interval: float = 10.0
    ) -> None:
        """`consumers`: the consumers, or a function that returns them as they are at each sample
        (a batch consumer replaces a Kafka consumer whose polls keep failing)."""
        self.group = group
        self.consumers: Callable[[], Sequence[Any]] = (
            consumers if callable(consumers) else functools.partial(tuple, list(consumers))
        )
        self.interval = interval
        self._series: set[tuple[str, str]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Expose the event metrics; start sampling lag if there are consumers."""
        expose()
        if self.consumers():
            self._task = asyncio.create_task(self._run(), name=f"{self.group}-lag-sampler")

    async def stop(self) -> None:
        """Stop sampling and drop this group's lag series (its partitions are no longer ours)."""
        await stop_tasks([self._task])
        for topic, partition in self._series:
            with contextlib.suppress(KeyError):
                consumer_lag.remove(self.group, topic, partition)
        self._series.clear()

    async def _run(self) -> None:
        started = time.monotonic()
        while True:
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a rebalance mid-sample: the next one will do
                log.debug("consumer_lag_sample_failed", group=self.group, error=repr(error))
            # Until the first fetch gives a partition its highwater, look again soon: the lag is
            # then on /metrics about a second after the first fetch, not `interval` later.
            soon = not self._series and time.monotonic() - started < SOON_FOR_SECONDS
            await asyncio.sleep(min(SOON_SECONDS, self.interval) if soon else self.interval)

    async def sample(self) -> None:
        """Set the lag of every partition assigned to the consumers; drop partitions they lost."""
        seen: set[tuple[str, str]] = set()
        for consumer in self.consumers():
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is None:  # no fetch response for it yet
                    continue
                position = await asyncio.wait_for(consumer.position(tp), timeout=5.0)
                series = (tp.topic, str(tp.partition))
                consumer_lag.labels(self.group, *series).set(max(0, highwater - position))
                seen.add(series)
        for topic, partition in self._series - seen:
            with contextlib.suppress(KeyError):
                consumer_lag.remove(self.group, topic, partition)
        self._series = seen
