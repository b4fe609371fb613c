"""`MongoUnitOfWork` on a real MongoDB-protocol server: repositories bound to one transaction,
events in the outbox only when it commits, a retried body leaves one write, `run_once` applies
an event once, and the relay is woken by the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from docstore_messaging.outbox import Outbox
from docstore_messaging.unit_of_work import MongoUnitOfWork, Transaction

from .helpers import exceeded

pytestmark = pytest.mark.integration


@dataclass
class Counters:
    """A repository: it never sees a client or a transaction, only the session it was bound to."""

    db: AsyncDatabase[Any]
    session: AsyncClientSession | None

    async def bump(self, name: str) -> None:
        await self.db.counters.update_one({"_id": name}, {"$inc": {"n": 1}}, upsert=True, session=self.session)


def unit_of_work(db: AsyncDatabase[Any]) -> tuple[MongoUnitOfWork[Counters], Outbox]:
    outbox = Outbox(db, source="/docstore/test/uow")
    return MongoUnitOfWork(db.client, db, outbox, lambda session: Counters(db, session)), outbox


async def count(db: AsyncDatabase[Any], name: str) -> int:
    row = await db.counters.find_one({"_id": name})
    return 0 if row is None else int(row["n"])


async def test_a_commit_writes_the_change_and_its_event_and_wakes_the_relay(db: AsyncDatabase[Any]) -> None:
    uow, outbox = unit_of_work(db)

    async def work(tx: Transaction[Counters]) -> str:
        await tx.repos.bump("a")
        tx.emit(exceeded(), subject="doc-1")
        return "ok"

    assert await uow.run(work) == "ok"
    assert await count(db, "a") == 1
    rows = await db.outbox.find({}).to_list(None)
    assert len(rows) == 1 and rows[0]["headers"]["ce_subject"] == "doc-1"
    assert outbox.written.is_set()


async def test_a_failure_rolls_back_the_change_and_its_event(db: AsyncDatabase[Any]) -> None:
    uow, outbox = unit_of_work(db)
    after: list[str] = []

    async def work(tx: Transaction[Counters]) -> None:
        await tx.repos.bump("a")
        tx.emit(exceeded())
        tx.after_commit(lambda: after.append("x"))
        raise LookupError("gone")

    with pytest.raises(LookupError):
        await uow.run(work)
    assert await count(db, "a") == 0
    assert await db.outbox.count_documents({}) == 0
    assert after == [] and not outbox.written.is_set()


async def test_a_transient_error_reruns_the_body_and_keeps_one_attempt(db: AsyncDatabase[Any]) -> None:
    uow, _ = unit_of_work(db)
    attempts: list[int] = []

    async def work(tx: Transaction[Counters]) -> None:
        await tx.repos.bump("a")
        tx.emit(exceeded(f"attempt-{len(attempts)}"))
        attempts.append(1)
        if len(attempts) == 1:  # what a write conflict looks like to the driver
            raise OperationFailure("conflict", code=112, details={"errorLabels": ["TransientTransactionError"]})

    await uow.run(work)
    assert len(attempts) == 2
    assert await count(db, "a") == 1
    rows = await db.outbox.find({}).to_list(None)
    assert [row["key"] for row in rows] == [b"attempt-1"]


async def test_only_the_attempt_that_commits_runs_its_after_commit_callbacks(db: AsyncDatabase[Any]) -> None:
    uow, _ = unit_of_work(db)
    attempts: list[int] = []
    called: list[int] = []

    async def work(tx: Transaction[Counters]) -> int:
        attempts.append(1)
        attempt = len(attempts)

        async def after() -> None:
            called.append(attempt)

        tx.after_commit(after)
        await tx.repos.bump("a")
        if attempt == 1:
            raise OperationFailure("conflict", code=112, details={"errorLabels": ["TransientTransactionError"]})
        return attempt

    assert await uow.run(work) == 2
    assert called == [2]


async def test_run_once_applies_an_event_once(db: AsyncDatabase[Any]) -> None:
    uow, _ = unit_of_work(db)

    async def work(tx: Transaction[Counters]) -> None:
        await tx.repos.bump("a")

    results = [await uow.run_once(consumer="quota", event_id="e1", work=work) for _ in range(3)]
    assert results == [True, False, False]
    assert await count(db, "a") == 1
    assert await db.processed_events.count_documents({"_id": "quota:e1"}) == 1
