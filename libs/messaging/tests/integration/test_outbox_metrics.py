"""The outbox backlog gauges, as the relay reports them on a real MongoDB-protocol server: rows
left by a failed publish are counted with the age of the oldest; a batch that drains the outbox
sets both to 0."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from docstore_events import QuotaExceeded
from docstore_events.envelope import KafkaRecord
from docstore_messaging import metrics
from docstore_messaging.outbox import Outbox, OutboxRelay

from .helpers import exceeded

pytestmark = pytest.mark.integration


def gauge(name: str) -> float:
    value = metrics.EVENTS_REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


async def write(outbox: Outbox, db: AsyncDatabase[Any], events: list[QuotaExceeded]) -> None:
    async with db.client.start_session() as session, await session.start_transaction():
        await outbox.add_all([(event, None) for event in events], session=session)


async def test_a_failed_publish_reports_the_backlog_and_a_drained_outbox_reports_none(db) -> None:
    outbox = Outbox(db, source="/docstore/test/metrics")
    await outbox.ensure_indexes()
    await write(outbox, db, [exceeded(), exceeded(), exceeded()])
    sent: list[KafkaRecord] = []

    async def broker_down(record: KafkaRecord) -> None:
        raise ConnectionError("broker down")

    relay = OutboxRelay(outbox, broker_down)
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    assert gauge("docstore_outbox_pending_rows") == 3
    assert gauge("docstore_outbox_oldest_pending_age_seconds") > 0

    async def broker_up(record: KafkaRecord) -> None:
        sent.append(record)

    relay = OutboxRelay(outbox, broker_up, batch_size=2)
    assert await relay.publish_pending() == 2  # a full batch: the relay counts what is left
    assert gauge("docstore_outbox_pending_rows") == 1
    assert await relay.publish_pending() == 1  # took every pending row: 0 without a query
    assert gauge("docstore_outbox_pending_rows") == 0
    assert gauge("docstore_outbox_oldest_pending_age_seconds") == 0
    assert len(sent) == 3
