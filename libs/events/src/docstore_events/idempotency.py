"""Idempotent consumer: an effect and its processed-event record commit together.

The record's id is `<consumer>:<event id>`, unique by construction, so a redelivered
event finds its record and its effect is skipped. Use cases reach this through
`unit_of_work.MongoUnitOfWork.run_once`; these functions serve code that still passes a
session by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from docstore_events.unit_of_work import PROCESSED_COLLECTION

T = TypeVar("T")

Effect = Callable[[AsyncClientSession], Awaitable[None]]

__all__ = ["PROCESSED_COLLECTION", "Effect", "apply_once", "in_transaction"]


async def apply_once(
    client: AsyncMongoClient[Any],
    db: AsyncDatabase[Any],
    *,
    consumer: str,
    event_id: str,
    effect: Effect,
) -> bool:
    """Run `effect` in a transaction with the processed-event record.

    Returns False, doing nothing, when this consumer already processed `event_id`.
    """
    processed = db[PROCESSED_COLLECTION]
    record_id = f"{consumer}:{event_id}"
    applied = False

    async def process(session: AsyncClientSession) -> None:
        nonlocal applied
        applied = False
        if await processed.find_one({"_id": record_id}, session=session) is not None:
            return
        await processed.insert_one(
            {"_id": record_id, "consumer": consumer, "event_id": event_id, "at": datetime.now(UTC)},
            session=session,
        )
        await effect(session)
        applied = True

    async with client.start_session() as session:
        try:
            await session.with_transaction(process)
        except DuplicateKeyError:
            # A concurrent delivery of the same event won the race; its effect stands.
            return False
    return applied


async def in_transaction(client: AsyncMongoClient[Any], work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction, retried on transient errors (state change + outbox row)."""
    async with client.start_session() as session:
        return await session.with_transaction(work)
