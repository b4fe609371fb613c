"""Publishing an event again under its original id (issue 32's consistency checks), on a real
MongoDB-protocol server: an emitter's chosen id is the outbox row's; republishing makes that row
pending again (pruned or not), so the relay sends it once more under the same id."""

from __future__ import annotations

from typing import Any

import pytest

from docstore_events.envelope import KafkaRecord
from docstore_messaging.outbox import PENDING, PUBLISHED, Outbox, OutboxRelay
from docstore_messaging.unit_of_work import MongoUnitOfWork, Transaction

from .helpers import exceeded

pytestmark = pytest.mark.integration


async def test_an_event_republished_goes_out_again_under_its_id(db: Any) -> None:
    outbox = Outbox(db, source="/docstore/test/republish")
    await outbox.ensure_indexes()
    uow = MongoUnitOfWork(db.client, db, outbox, lambda session: None)
    event = exceeded()

    async def work(tx: Transaction[Any]) -> None:
        tx.emit(event, event_id="fact-derived-id")
        tx.emit(exceeded())  # no id given: a random one

    await uow.run(work)
    sent: list[KafkaRecord] = []

    async def publish(record: KafkaRecord) -> None:
        sent.append(record)

    relay = OutboxRelay(outbox, publish)
    assert await relay.publish_pending() == 2
    assert sent[0].id == "fact-derived-id" and sent[1].id != "fact-derived-id"
    assert (await db.outbox.find_one({"_id": "fact-derived-id"}))["status"] == PUBLISHED

    await outbox.republish(event, event_id="fact-derived-id")  # its row: pending again
    await outbox.republish(exceeded(), event_id="pruned-row-id")  # no row any more: a new one
    assert {row["_id"] async for row in db.outbox.find({"status": PENDING})} == {"fact-derived-id", "pruned-row-id"}
    assert await relay.publish_pending() == 2
    assert [record.id for record in sent[2:]] == ["fact-derived-id", "pruned-row-id"]
    assert sent[2].value == sent[0].value
    assert await db.outbox.count_documents({}) == 3
    first, again = (
        await db.outbox.find_one({"_id": "fact-derived-id"}),
        await db.outbox.find_one({"_id": "pruned-row-id"}),
    )
    assert first["created_at"] < first["republished_at"]  # the row keeps when it was first written
    assert again["created_at"] == again["republished_at"]
