"""The relay publishes the rows its own process committed without querying for them (they are
handed over in memory after the commit, issue 35), and still queries when told to, after a
failure, and while older pending rows may be left, so nothing is lost and this process's rows
leave in the order they were written. An in-memory collection counts the queries."""

from __future__ import annotations

from typing import Any

import pytest

from docstore_events.envelope import KafkaRecord
from docstore_messaging.outbox import PENDING, PUBLISHED, Outbox, OutboxRelay


class Cursor:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def sort(self, *_: Any) -> Cursor:
        return self

    def limit(self, count: int) -> Cursor:
        return Cursor(self.rows[:count])

    def __aiter__(self) -> Any:
        async def rows() -> Any:
            for row in self.rows:
                yield row

        return rows()


class Collection:
    """The outbox collection, as the relay uses it: pending rows by seq, marks, counts."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.queries = 0

    def insert(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.rows[row["_id"]] = dict(row)

    def find(self, query: dict[str, Any]) -> Cursor:
        self.queries += 1
        pending = [row for row in self.rows.values() if row["status"] == query["status"]]
        return Cursor(sorted(pending, key=lambda row: row["seq"]))

    async def update_many(self, query: dict[str, Any], update: dict[str, Any]) -> None:
        for row_id in query["_id"]["$in"]:
            self.rows[row_id].update(update["$set"])

    async def count_documents(self, query: dict[str, Any]) -> int:
        return sum(row["status"] == query["status"] for row in self.rows.values())

    async def find_one(self, *_: Any, **__: Any) -> None:
        return None


def row(n: int) -> dict[str, Any]:
    return {"_id": f"e{n}", "seq": (n, 0), "status": PENDING, "topic": "t", "key": b"k", "value": b"v", "headers": {}}


def system(batch_size: int = 200) -> tuple[Outbox, Collection, OutboxRelay, list[str]]:
    collection = Collection()
    outbox = Outbox({"outbox": collection}, source="/test")  # type: ignore[arg-type]
    sent: list[str] = []

    async def publish(record: KafkaRecord) -> None:
        if getattr(publish, "fail", False):
            publish.fail = False  # type: ignore[attr-defined]
            raise ConnectionError("broker away")
        sent.append(record.headers["id"])

    relay = OutboxRelay(outbox, publish, batch_size=batch_size, scan_interval=3600)
    return outbox, collection, relay, sent


def commit(outbox: Outbox, collection: Collection, *numbers: int) -> None:
    """What a unit of work does: the rows are written (pending), then handed over once committed."""
    rows = [row(n) | {"headers": {"id": f"e{n}"}} for n in numbers]
    collection.insert(rows)
    outbox.committed(rows)


async def test_rows_this_process_committed_are_published_without_a_query() -> None:
    outbox, collection, relay, sent = system()
    assert await relay.publish_pending() == 0 and collection.queries == 1  # the first round queries
    for n in range(5):
        commit(outbox, collection, n)
        assert await relay.publish_pending() == 1
    assert sent == [f"e{n}" for n in range(5)] and collection.queries == 1
    assert all(row["status"] == PUBLISHED for row in collection.rows.values())


async def test_a_wake_up_queries_and_a_row_found_so_is_not_sent_again_when_handed_over() -> None:
    outbox, collection, relay, sent = system()
    await relay.publish_pending()
    rows = [row(1) | {"headers": {"id": "e1"}}]
    collection.insert(rows)  # committed by this process, its hand-over not yet done
    collection.insert([row(0) | {"headers": {"id": "e0"}, "seq": (0, 0)}])  # requeued by a checker
    outbox.wake_relay()
    assert await relay.publish_pending() == 2 and collection.queries == 2
    outbox.committed(rows)  # the late hand-over of a row the query already published
    assert await relay.publish_pending() == 0
    assert sent == ["e0", "e1"]


async def test_after_a_failure_the_rows_left_are_found_by_a_query_in_order() -> None:
    outbox, collection, relay, sent = system()
    await relay.publish_pending()
    commit(outbox, collection, 1, 2)
    relay.publish.fail = True  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    commit(outbox, collection, 3)
    assert await relay.publish_pending() == 3  # queried: 1 and 2 first, then 3
    assert sent == ["e1", "e2", "e3"] and collection.queries == 2


async def test_handed_rows_wait_while_a_full_query_may_have_left_older_rows() -> None:
    outbox, collection, relay, sent = system(batch_size=2)
    collection.insert([row(n) | {"headers": {"id": f"e{n}"}} for n in range(3)])  # left by a crash
    commit(outbox, collection, 3)
    assert await relay.publish_pending() == 2  # the first round queries: e0, e1 (a full batch)
    assert await relay.publish_pending() == 2  # so it queries again before e3 goes from memory
    assert sent == ["e0", "e1", "e2", "e3"]
