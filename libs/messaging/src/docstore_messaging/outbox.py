"""Transactional outbox: the state change and its event are written in one transaction.

`Outbox.add` inserts the encoded event into the service's `outbox` collection inside
the caller's MongoDB session; a relay (`OutboxRelay`) publishes pending rows in the
order they were written and marks them published. A process that dies between the
write and the publish leaves a pending row that is published after restart; one that
dies between the publish and the mark publishes it again, which the idempotent
consumers absorb.

Rows this process committed through a unit of work are handed to its relay in memory
(`Outbox.committed`), so the relay publishes them without querying for them first: one
command fewer per commit (issue 35). The relay still queries for pending rows when told
to (`wake_relay`), after a failure, when it has nothing handed to it (the poll), and at
least every `scan_interval` while it is busy, which is how rows of another (dead)
process or rows set pending again (`requeue`, `republish`) are found.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_events.base import Event
from docstore_events.envelope import KafkaRecord, encode
from docstore_messaging import metrics
from docstore_messaging.faults import crashpoint
from docstore_messaging.in_slices import slices
from docstore_messaging.origin import origin_headers
from docstore_messaging.outages import is_outage
from docstore_messaging.tracing import continue_trace, current_traceparent, ensure_traceparent

log = structlog.get_logger(__name__)

OUTBOX_COLLECTION = "outbox"
PENDING, PUBLISHED = "pending", "published"

Publish = Callable[[KafkaRecord], Awaitable[Awaitable[object] | None]]
"""Send one record. It either returns once the broker acknowledged it (None), or returns the
acknowledgement still to come (an awaitable), so the relay can send a batch's records together
and wait for their acknowledgements after (`EventRuntime.send`)."""

MAX_HANDED = 10_000
"""At most this many rows wait in memory for the relay (`Outbox.committed`); past it they are
left to the relay's queries."""

RECENT_IDS = 10_000
"""How many ids a relay's queries found it remembers (see `OutboxRelay._recent`)."""

RETRY_MAX_WAIT = 2.0
"""The longest wait between two tries of a relay whose broker or database failed: a server
that comes back is used within two seconds."""


class Outbox:
    """Writes events into the outbox collection, inside the caller's transaction."""

    def __init__(self, db: AsyncDatabase[Any], *, source: str, topic_prefix: str = "") -> None:
        self.collection = db[OUTBOX_COLLECTION]
        self.source = source
        self.topic_prefix = topic_prefix
        self.written = asyncio.Event()
        # time_ns alone can repeat within a tick; the counter keeps rows of one process ordered.
        self._sequence = itertools.count()
        self.handed: dict[str, dict[str, Any]] = {}
        """Rows committed by this process and not yet taken by its relay, in commit order."""
        self.scan_requested = True
        """The relay must query for pending rows on its next round (set at start and by `wake_relay`)."""

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("seq", 1)])

    async def add(self, event: Event, *, session: AsyncClientSession, subject: str | None = None) -> str:
        """Store `event` for publishing; it is published only if the transaction commits."""
        return (await self.add_all([(event, subject)], session=session))[0]

    async def add_all(
        self,
        events: Sequence[tuple[Event, str | None] | tuple[Event, str | None, str | None]],
        *,
        session: AsyncClientSession,
        event_ids: Mapping[int, str] | None = None,
    ) -> list[str]:
        """Store (event, CloudEvents subject[, traceparent]) for publishing, in this order, in one
        write; they are published only if the transaction commits. Returns their event ids:
        `event_ids[i]` for the i-th where given, else a random one.

        An event's `traceparent` is the one given (captured when it was emitted), else the
        current span's, else that of a new trace: every event leaves with one."""
        rows = await self.add_rows(events, session=session, event_ids=event_ids)
        return [row["_id"] for row in rows]

    async def add_rows(
        self,
        events: Sequence[tuple[Event, str | None] | tuple[Event, str | None, str | None]],
        *,
        session: AsyncClientSession,
        event_ids: Mapping[int, str] | None = None,
    ) -> list[dict[str, Any]]:
        """`add_all`, returning the rows written: hand them to the relay once the transaction has
        committed (`committed`)."""
        ids = event_ids or {}
        rows = [self._row(*item, event_id=ids.get(index)) for index, item in enumerate(events)]
        if rows:
            # insert_many sets nothing on the dicts it is given (they already carry their _id).
            await self.collection.insert_many(rows, session=session)
        return rows

    async def republish(
        self, event: Event, *, event_id: str, subject: str | None = None, session: AsyncClientSession | None = None
    ) -> None:
        """Publish `event` again under its original `event_id`: its outbox row (pruned or not,
        published or not) becomes pending again with this content, so the relay sends it and the
        consumers' processed-event records make it count once. For a consistency checker that
        rebuilt an event the consumers never applied (`docstore_kit.consistency`)."""
        row = self._row(event, subject, event_id=event_id)
        row["republished_at"] = created_at = row.pop("created_at")
        row.pop("_id")
        await self.collection.update_one(
            {"_id": event_id},
            # A row still there keeps when it was first written (a check finds rows by that time).
            {"$set": row, "$unset": {"published_at": ""}, "$setOnInsert": {"created_at": created_at}},
            upsert=True,
            session=session,
        )

    async def requeue(self, event_id: str, *, session: AsyncClientSession | None = None) -> bool:
        """Publish a stored row again as it is (same id, same content), after the rows waiting;
        False when no row has this id (pruned)."""
        at = datetime.now(UTC)
        result = await self.collection.update_one(
            {"_id": event_id},
            {"$set": {"status": PENDING, "seq": (time.time_ns(), next(self._sequence)), "republished_at": at}},
            session=session,
        )
        return result.matched_count == 1

    def _row(
        self, event: Event, subject: str | None, traceparent: str | None = None, *, event_id: str | None = None
    ) -> dict[str, Any]:
        record = encode(
            event,
            source=self.source,
            topic_prefix=self.topic_prefix,
            subject=subject,
            event_id=event_id,
            traceparent=traceparent or ensure_traceparent(event.cloudevent_type()),
        )
        return {
            "_id": record.headers["ce_id"],
            "seq": (time.time_ns(), next(self._sequence)),
            "status": PENDING,
            "topic": record.topic,
            "key": record.key,
            "value": record.value,
            # The request's client address and user agent, when a request caused this (origin.py).
            "headers": {**record.headers, **origin_headers()},
            "created_at": datetime.now(UTC),
        }

    def wake_relay(self) -> None:
        """Tell an in-process relay there is something to publish (call after commit): it
        queries for pending rows."""
        self.scan_requested = True
        self.written.set()

    def committed(self, rows: Sequence[dict[str, Any]]) -> None:
        """Hand rows whose transaction has committed to the in-process relay, which publishes
        them without querying for them (they are pending in the collection all the same, so a
        crash before they are published loses nothing)."""
        if len(self.handed) + len(rows) > MAX_HANDED:
            # The relay has not kept up (the broker is away): forget them here, the queries find them.
            self.handed.clear()
            self.scan_requested = True
        else:
            for row in rows:
                self.handed[row["_id"]] = row
        self.written.set()


class OutboxRelay:
    """Publishes pending outbox rows in write order, then marks them published."""

    def __init__(
        self,
        outbox: Outbox,
        publish: Publish,
        *,
        poll_interval: float = 0.5,
        max_poll_interval: float = 10.0,
        batch_size: int = 200,
        scan_interval: float | None = None,
    ) -> None:
        self.outbox = outbox
        self.publish = publish
        self.poll_interval = poll_interval
        """The first poll after activity; each empty poll doubles the wait, up to `max_poll_interval`."""
        self.max_poll_interval = max(poll_interval, max_poll_interval)
        self.batch_size = batch_size
        self.scan_interval = poll_interval if scan_interval is None else scan_interval
        """While rows are handed to it, the relay still queries for pending rows this often."""
        self._last_scan = float("-inf")
        self._recent: dict[str, None] = {}
        """Ids a query found and this relay published lately: if the same row is handed over
        after (its commit's hand-over raced the query), it is not sent twice."""
        # One batch at a time per process, so a row is never sent twice concurrently.
        self._lock = asyncio.Lock()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        async with self._lock:
            try:
                count = await self._publish_batch()
            except Exception:
                await metrics.measure_outbox_backlog(self.outbox.collection, {"status": PENDING})
                raise
            if count < self.batch_size:
                metrics.outbox_backlog(0, None)  # the batch took every pending row there was
            else:
                await metrics.measure_outbox_backlog(self.outbox.collection, {"status": PENDING})
            return count

    def _rows(self) -> AsyncIterator[dict[str, Any]]:
        """This round's rows: the rows handed over, or (when told to, with nothing handed, or
        every `scan_interval`) the pending rows in write order, queried."""
        outbox = self.outbox
        now = time.monotonic()
        if outbox.scan_requested or not outbox.handed or now - self._last_scan >= self.scan_interval:
            outbox.scan_requested = False
            self._last_scan = now
            return self._found()
        taken = [outbox.handed.pop(row_id) for row_id in list(itertools.islice(outbox.handed, self.batch_size))]
        return _iterate([row for row in taken if row["_id"] not in self._recent])

    async def _found(self) -> AsyncIterator[dict[str, Any]]:
        rows = self.outbox.collection.find({"status": PENDING}).sort("seq", 1).limit(self.batch_size)
        found = 0
        async for row in rows:
            found += 1
            self.outbox.handed.pop(row["_id"], None)  # found: not to be sent again from memory
            self._recent[row["_id"]] = None
            while len(self._recent) > RECENT_IDS:
                del self._recent[next(iter(self._recent))]
            yield row
        if found >= self.batch_size:
            # Older pending rows may be left: query again before any handed row goes out, so this
            # process's rows still leave in the order they were written.
            self.outbox.scan_requested = True

    async def _publish_batch(self) -> int:
        try:
            return await self._publish_rows(self._rows())
        except BaseException:
            self.outbox.scan_requested = True  # what was not acknowledged is found again by a query
            raise

    async def _publish_rows(self, rows: AsyncIterator[dict[str, Any]]) -> int:
        published: list[str] = []
        # Every row of the batch is sent before any acknowledgement is awaited: the producer then
        # packs them into a request per partition, instead of one round trip to the broker per row
        # (a broker whose log is durable acknowledges each after a write to its store). The
        # producer keeps one request per partition in flight, so one key's records stay in order.
        sent: list[tuple[str, str, Awaitable[object] | None]] = []
        try:
            async for row in rows:
                headers = row["headers"]
                # The send is a span in the event's trace; the header then names it, so the
                # consumer's span hangs below the publish (and the time spent in the outbox shows).
                with continue_trace(
                    headers.get("traceparent"),
                    f"{row['topic']} publish",
                    kind=SpanKind.PRODUCER,
                    attributes={"messaging.system": "kafka", "messaging.destination.name": row["topic"]},
                ):
                    headers = {**headers, "traceparent": current_traceparent() or headers.get("traceparent", "")}
                    record = KafkaRecord(topic=row["topic"], key=row["key"], value=row["value"], headers=headers)
                    crashpoint("outbox.before_publish")
                    sent.append((row["_id"], record.topic, await self.publish(record)))
        finally:
            # Rows count as published only up to the first that was not acknowledged: the rest are
            # sent again with it on the next try (consumers drop what they already applied).
            try:
                for row_id, topic, acknowledgement in sent:
                    if acknowledgement is not None:
                        await acknowledgement
                    crashpoint("outbox.after_publish")
                    published.append(row_id)
                    metrics.published(topic)
            except BaseException:
                for _, _, later in sent[len(published) + 1 :]:
                    if isinstance(later, asyncio.Future):  # read, so a failed one is not reported as unread
                        later.add_done_callback(lambda done: done.cancelled() or done.exception())
                raise
            finally:
                # A few writes mark what went out, also when the broker failed halfway through (the
                # ids in slices: see `in_slices`).
                at = datetime.now(UTC)
                for part in slices(published):
                    await self.outbox.collection.update_many(
                        {"_id": {"$in": part}}, {"$set": {"status": PUBLISHED, "published_at": at}}
                    )
        return len(published)

    async def run(self) -> None:
        """Publish until cancelled, woken by local writes or by the poll interval.

        Local writes wake the relay at once (`Outbox.wake_relay`), so the poll only finds rows
        that another process wrote and did not publish (it died after its commit). While polls
        find nothing the interval doubles, from `poll_interval` up to `max_poll_interval`: an
        idle service then queries its database every few seconds instead of twice a second.
        A wake-up or a published row brings the interval back to `poll_interval`.
        """
        interval = self.poll_interval
        failures = 0
        while True:
            self.outbox.written.clear()
            try:
                published = await self.publish_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the broker or database is down: keep the rows, try again
                failures += 1
                # Backoff while it stays down (up to `RETRY_MAX_WAIT`), one line per try; a
                # traceback only for what is not an outage (a bug).
                wait = min(RETRY_MAX_WAIT, self.max_poll_interval, self.poll_interval * 2 ** min(failures - 1, 16))
                if is_outage(error):
                    log.warning("outbox_publish_waits_for_outage", error=repr(error)[:300], retry_in=wait)
                else:
                    log.exception("outbox_publish_failed", retry_in=wait)
                published = 0
                await asyncio.sleep(wait)
            if published >= self.batch_size:
                continue
            interval = self.poll_interval if published else interval
            try:
                await asyncio.wait_for(self.outbox.written.wait(), timeout=interval)
                interval = self.poll_interval
            except TimeoutError:
                interval = min(interval * 2, self.max_poll_interval)


async def _iterate(rows: Iterable[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for row in rows:
        yield row
