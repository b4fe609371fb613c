"""Unit of work: one use case, one MongoDB transaction, its events in the outbox.

A use case never sees a driver session. It asks a `UnitOfWork` to run it:

    async def rename(uow: UnitOfWork[Repos], account_id: str, document_id: str, name: str) -> Document:
        async def work(tx: Transaction[Repos]) -> Document:
            document = await tx.repos.documents.get(account_id, document_id)
            document = document.renamed(name)                       # a pure domain rule
            await tx.repos.documents.save(document)
            tx.emit(FileDetailsChanged(...))                        # collected, not yet sent
            return document
        return await uow.run(work)

`run` hands `work` a `Transaction`: the service's repositories bound to one transaction and
an `emit` that collects events. When `work` returns, the collected events are written to the
outbox inside the same transaction, the transaction commits, the relay is woken and the
`after_commit` callbacks run. If `work` raises, nothing is written and no event leaves.

Why `await uow.run(work)` and not cosmicpython's `async with uow: ...; await uow.commit()`:
MongoDB aborts a transaction that meets a write conflict or a primary step-down with a
`TransientTransactionError` label, and the driver's answer (`with_transaction`) is to run the
whole body again. A `with` block cannot be re-run; a function can. So `work` may run more
than once, and must have no effect outside the transaction: side effects (S3 deletes, waking
a sweeper) go to `tx.after_commit`.

`run_once` is the idempotent-consumer form: `work` runs with a processed-event record
(`<consumer>:<event id>`) in the same transaction, and not at all if the record exists.
`run_once_each` is its batch form (see `docstore_messaging.batches`): one transaction for many
events, `work` told which of them were not processed before.

`FakeUnitOfWork` runs use cases against in-memory repositories and records what was emitted
and committed, so use-case tests need no servers.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError

from docstore_events.base import Event
from docstore_messaging.in_slices import find_in
from docstore_messaging.outbox import Outbox
from docstore_messaging.tracing import current_traceparent

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")

PROCESSED_COLLECTION = "processed_events"

AfterCommit = Callable[[], Awaitable[None] | None]


@dataclass
class Transaction(Generic[R]):
    """What one run of a use case sees: `repos` bound to the transaction, `emit` for events.

    `session` is the driver's session, for adapters only (a repository built by the unit of
    work already holds it); it is None in a `FakeUnitOfWork`."""

    repos: R
    session: Any = None
    events: list[tuple[Event, str | None, str | None]] = field(default_factory=list)
    """(event, subject, traceparent) in the order emitted."""
    callbacks: list[AfterCommit] = field(default_factory=list)
    event_ids: dict[int, str] = field(default_factory=dict)
    """Ids chosen by the emitter, by position in `events` (the others get a random one)."""
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)
    """The outbox rows `events` became (a `MongoUnitOfWork`'s), handed to the relay after the commit."""

    def emit(
        self,
        event: Event,
        *,
        subject: str | None = None,
        traceparent: str | None = None,
        event_id: str | None = None,
    ) -> None:
        """Publish `event` if, and only if, this transaction commits (CloudEvents `subject` optional).

        The event carries `traceparent`, by default the current span's as of this call: a batch
        handler that emits inside `tracing.handling(event_id)` puts it in that event's trace.
        `event_id`: the CloudEvents id, when the emitter derives it from the fact (so a
        consistency checker can publish the same event again, under the same id, from the
        state alone); by default a random one."""
        if event_id is not None:
            self.event_ids[len(self.events)] = event_id
        self.events.append((event, subject, traceparent or current_traceparent()))

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` once the transaction has committed (never if it aborts)."""
        self.callbacks.append(callback)


Work = Callable[[Transaction[R]], Awaitable[T]]
BatchWork = Callable[[Transaction[R], frozenset[str]], Awaitable[None]]
"""A consumer's work on a batch: it gets the ids of the events not processed before, and
applies exactly those."""


class UnitOfWork(ABC, Generic[R]):
    """Runs use cases in transactions that hand out the repositories `R` (see the module)."""

    @abstractmethod
    async def run(self, work: Work[R, T]) -> T:
        """Run `work` in one transaction; its emitted events commit with it."""

    @abstractmethod
    async def run_once(self, *, consumer: str, event_id: str, work: Work[R, None]) -> bool:
        """Run a consumer's `work` once per `event_id`; False, doing nothing, if already done."""

    @abstractmethod
    async def run_once_each(self, *, consumer: str, event_ids: Sequence[str], work: BatchWork[R]) -> frozenset[str]:
        """Run a consumer's `work` for a batch of events in one transaction, with the
        processed-event records of the ones not processed before (the ids `work` gets, and
        the ones returned). Nothing runs if every event was processed before."""


async def _after_commit(transaction: Transaction[Any]) -> None:
    for callback in transaction.callbacks:
        outcome = callback()
        if inspect.isawaitable(outcome):
            await outcome


class MongoUnitOfWork(UnitOfWork[R]):
    """The unit of work on PyMongo's async client.

    `repositories(session)` builds the service's repositories bound to `session`; `outbox` is
    the service's outbox (the relay is woken after every commit that wrote to it). Reads that
    need no transaction use `repositories(None)`, built once by the composition root."""

    def __init__(
        self,
        client: AsyncMongoClient[Any],
        db: AsyncDatabase[Any],
        outbox: Outbox,
        repositories: Callable[[AsyncClientSession | None], R],
    ) -> None:
        self.client = client
        self.db = db
        self.outbox = outbox
        self.repositories = repositories

    async def run(self, work: Work[R, T]) -> T:
        outcome = await self._transaction(work, None)
        assert outcome is not None  # without a processed-event record, `work` always runs
        result, transaction = outcome
        await self._committed(transaction)
        return result

    async def run_once(self, *, consumer: str, event_id: str, work: Work[R, None]) -> bool:
        try:
            outcome = await self._transaction(work, f"{consumer}:{event_id}")
        except DuplicateKeyError:
            # A concurrent delivery of the same event won the race; its effect stands.
            return False
        if outcome is None:  # processed before: `work` did not run
            return False
        await self._committed(outcome[1])
        return True

    async def run_once_each(self, *, consumer: str, event_ids: Sequence[str], work: BatchWork[R]) -> frozenset[str]:
        keys = {f"{consumer}:{event_id}": event_id for event_id in event_ids}
        fresh: list[frozenset[str]] = []

        async def batch_work(transaction: Transaction[R]) -> None:
            # Only the attempt that commits counts (see `_transaction`).
            fresh.clear()
            processed = self.db[PROCESSED_COLLECTION]
            found = find_in(processed, "_id", keys, projection={"_id": 1}, session=transaction.session)
            done = {row["_id"] async for row in found}
            new = {key: event_id for key, event_id in keys.items() if key not in done}
            if not new:
                return
            now = datetime.now(UTC)
            await processed.insert_many(
                [{"_id": key, "consumer": consumer, "event_id": event_id, "at": now} for key, event_id in new.items()],
                session=transaction.session,
            )
            fresh.append(frozenset(new.values()))
            await work(transaction, fresh[0])

        for _ in range(3):
            try:
                outcome = await self._transaction(batch_work, None)
            except (DuplicateKeyError, BulkWriteError):
                # A concurrent delivery (a rebalance) recorded some of these first: run again,
                # and this time they count as processed.
                continue
            assert outcome is not None
            await self._committed(outcome[1])
            return fresh[0] if fresh else frozenset()
        raise RuntimeError(f"{consumer}: a batch kept meeting concurrent deliveries of its events")

    async def _transaction(self, work: Work[R, T], processed_id: str | None) -> tuple[T, Transaction[R]] | None:
        """`work`'s result and transaction from the attempt that committed; None if the event was processed."""
        attempt: list[tuple[T, Transaction[R]]] = []

        async def body(session: AsyncClientSession) -> None:
            # Only the attempt that commits counts: a retried body forgets what a failed one did.
            attempt.clear()
            if processed_id is not None:
                processed = self.db[PROCESSED_COLLECTION]
                if await processed.find_one({"_id": processed_id}, session=session) is not None:
                    return
                consumer, _, event_id = processed_id.partition(":")
                await processed.insert_one(
                    {"_id": processed_id, "consumer": consumer, "event_id": event_id, "at": datetime.now(UTC)},
                    session=session,
                )
            # A retried body starts from scratch: nothing the failed attempt emitted survives.
            transaction = Transaction(self.repositories(session), session)
            result = await work(transaction)
            transaction.outbox_rows = await self.outbox.add_rows(
                transaction.events, session=session, event_ids=transaction.event_ids
            )
            attempt.append((result, transaction))

        async with self.client.start_session() as session:
            await session.with_transaction(body)
        return attempt[0] if attempt else None

    async def _committed(self, transaction: Transaction[R]) -> None:
        if transaction.outbox_rows:
            self.outbox.committed(transaction.outbox_rows)
        await _after_commit(transaction)


class FakeUnitOfWork(UnitOfWork[R]):
    """A unit of work over in-memory repositories, for use-case tests without servers.

    `emitted` holds the events of committed runs in order, `commits` counts them; a run whose
    work raises commits nothing (the repositories themselves are not rolled back: a use case
    that raises after writing is a test failure to read, not a state to rely on)."""

    def __init__(self, repos: R) -> None:
        self.repos = repos
        self.emitted: list[Event] = []
        self.traceparents: list[str | None] = []
        """The `traceparent` each of `emitted` was stamped with (None: no span was current)."""
        self.commits = 0
        self.processed: set[str] = set()

    async def run(self, work: Work[R, T]) -> T:
        transaction = Transaction(self.repos)
        result = await work(transaction)
        self.emitted += [event for event, _, _ in transaction.events]
        self.traceparents += [traceparent for _, _, traceparent in transaction.events]
        self.commits += 1
        await _after_commit(transaction)
        return result

    async def run_once(self, *, consumer: str, event_id: str, work: Work[R, None]) -> bool:
        key = f"{consumer}:{event_id}"
        if key in self.processed:
            return False
        await self.run(work)
        self.processed.add(key)
        return True

    async def run_once_each(self, *, consumer: str, event_ids: Sequence[str], work: BatchWork[R]) -> frozenset[str]:
        new = frozenset(event_id for event_id in event_ids if f"{consumer}:{event_id}" not in self.processed)
        if not new:
            return new

        async def batch_work(transaction: Transaction[R]) -> None:
            await work(transaction, new)

        await self.run(batch_work)
        self.processed.update(f"{consumer}:{event_id}" for event_id in new)
        return new
