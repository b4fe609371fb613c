"""Lists longer than one `$in` slice, on the real MongoDB-protocol server: `find_in` finds every
match across the slices and keeps to its `where`, and a consumer batch longer than a slice is
still applied once per event."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from docstore_messaging.in_slices import IN_SLICE, find_in
from docstore_messaging.outbox import Outbox
from docstore_messaging.unit_of_work import MongoUnitOfWork, Transaction

pytestmark = pytest.mark.integration


async def test_find_in_finds_every_match_of_a_long_list_and_only_within_where(db: AsyncDatabase[Any]) -> None:
    count = 2 * IN_SLICE + 20
    await db.rows.insert_many([{"_id": f"r{i}", "owner": "a" if i % 3 else "b"} for i in range(count)])
    wanted = [f"r{i}" for i in range(count)] + ["missing"]
    found = [row["_id"] async for row in find_in(db.rows, "_id", wanted, where={"owner": "a"})]
    assert sorted(found) == sorted(f"r{i}" for i in range(count) if i % 3)
    projected = [row async for row in find_in(db.rows, "_id", wanted[-5:], projection={"_id": 1})]
    assert sorted(projected, key=lambda row: row["_id"]) == [{"_id": f"r{i}"} for i in range(count - 4, count)]


async def test_a_batch_longer_than_a_slice_applies_each_event_once(db: AsyncDatabase[Any]) -> None:
    uow: MongoUnitOfWork[AsyncDatabase[Any]] = MongoUnitOfWork(
        db.client, db, Outbox(db, source="/docstore/test/slices"), lambda session: db
    )
    applied: list[str] = []

    async def work(tx: Transaction[AsyncDatabase[Any]], fresh: frozenset[str]) -> None:
        applied.extend(sorted(fresh))

    first = [f"e{i:03d}" for i in range(0, 3 * IN_SLICE, 2)]  # every other id, beyond the first slice
    everything = [f"e{i:03d}" for i in range(3 * IN_SLICE)]
    assert await uow.run_once_each(consumer="slicer", event_ids=first, work=work) == frozenset(first)
    applied.clear()
    fresh = await uow.run_once_each(consumer="slicer", event_ids=everything, work=work)
    assert fresh == frozenset(everything) - frozenset(first)
    assert sorted(applied) == sorted(fresh)
    assert await db.processed_events.count_documents({"consumer": "slicer"}) == len(everything)
