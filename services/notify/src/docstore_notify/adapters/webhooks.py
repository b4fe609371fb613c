"""Webhook endpoints and their delivery queue in MongoDB.

`webhooks`: one row per endpoint (`_id` "wh_...", `account_id`, `url`, `events`, `enabled`,
`secret` as Fernet ciphertext, `consecutive_failures`). Every read and write names the account,
so another account's id finds nothing.

`webhook_deliveries`: the durable queue, one row per (event, endpoint), `_id` = the `webhook-id`
(so a redelivered event inserts nothing new). A sender *claims* a due row with one atomic update
that counts the attempt and pushes `next_attempt_at` a lease ahead; the outcome is written only
while that claim still holds (`attempts` unchanged), so a sender killed at any point leaves a row
that another sender, on any replica, takes again once the lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_notify.adapters.notification_log import decode_cursor, encode_cursor

WEBHOOKS = "webhooks"
DELIVERIES = "webhook_deliveries"
PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"
RETENTION_SECONDS = 30 * 24 * 3600
"""Deliveries older than this leave the log (MongoDB's TTL monitor)."""
HISTORY = 10
"""Attempts kept per delivery (the latest)."""

Row = dict[str, Any]


class WebhookRepository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[WEBHOOKS]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("account_id", ASCENDING), ("created_at", ASCENDING)])
        await self.collection.create_index([("account_id", ASCENDING), ("enabled", ASCENDING), ("events", ASCENDING)])

    async def insert(self, row: Row) -> None:
        await self.collection.insert_one(row, session=self.session)

    async def count(self, account_id: str) -> int:
        return await self.collection.count_documents({"account_id": account_id}, session=self.session)

    async def of_account(self, account_id: str) -> list[Row]:
        found = self.collection.find({"account_id": account_id}, session=self.session)
        return [row async for row in found.sort([("created_at", ASCENDING), ("_id", ASCENDING)])]

    async def page(self, account_id: str, *, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
        query: dict[str, Any] = {"account_id": account_id}
        if cursor:
            created_at, webhook_id = decode_cursor(cursor)
            query["$or"] = [
                {"created_at": {"$gt": created_at}},
                {"created_at": created_at, "_id": {"$gt": webhook_id}},
            ]
        found = (
            self.collection.find(query, session=self.session)
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
        )
        rows = [row async for row in found]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1]["created_at"], rows[-1]["_id"]) if more else None

    async def get(self, account_id: str, webhook_id: str) -> Row | None:
        return await self.collection.find_one({"_id": webhook_id, "account_id": account_id}, session=self.session)

    async def by_id(self, webhook_id: str) -> Row | None:
        return await self.collection.find_one({"_id": webhook_id}, session=self.session)

    async def subscribed(self, account_ids: Sequence[str], event_types: Sequence[str]) -> list[Row]:
        """The enabled endpoints of any of `account_ids` that asked for any of `event_types`, in one
        query (the fan-out of a batch of events; which event goes where is `fan_out_pairs`'s).
        Only `_id`, `account_id`, `events` and `enabled`: never the secret."""
        if not account_ids or not event_types:
            return []
        found = self.collection.find(
            {"account_id": {"$in": list(account_ids)}, "enabled": True, "events": {"$in": list(event_types)}},
            {"account_id": 1, "events": 1, "enabled": 1},
            session=self.session,
        )
        return [row async for row in found]

    async def update(self, account_id: str, webhook_id: str, changes: dict[str, Any]) -> Row | None:
        return await self.collection.find_one_and_update(
            {"_id": webhook_id, "account_id": account_id},
            {"$set": changes | {"updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def delete(self, account_id: str, webhook_id: str) -> bool:
        result = await self.collection.delete_one({"_id": webhook_id, "account_id": account_id}, session=self.session)
        return result.deleted_count == 1

    async def succeeded(self, webhook_id: str) -> None:
        await self.collection.update_one(
            {"_id": webhook_id, "consecutive_failures": {"$ne": 0}},
            {"$set": {"consecutive_failures": 0}},
            session=self.session,
        )

    async def failed(self, webhook_id: str, disable_after: int, reason: str) -> Row | None:
        """Count one more failed attempt in a row; returns the row when this failure disabled it
        (the one caller that gets it mails the owner)."""
        now = datetime.now(UTC)
        row = await self.collection.find_one_and_update(
            {"_id": webhook_id},
            {"$inc": {"consecutive_failures": 1}, "$set": {"last_failure_at": now}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        if row is None or not row.get("enabled") or row["consecutive_failures"] < disable_after:
            return None
        return await self.collection.find_one_and_update(
            {"_id": webhook_id, "enabled": True},
            {"$set": {"enabled": False, "disabled_reason": reason, "disabled_at": now}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[Row]
    next_cursor: str | None


class DeliveryQueue:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[DELIVERIES]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.collection.create_index([("webhook_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])
        # The dead letters of one endpoint (`page(status=...)`), newest first.
        await self.collection.create_index(
            [("webhook_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        # The log of deliveries is recent history: a month (the last retry is due about 27 h after the event).
        await self.collection.create_index("created_at", expireAfterSeconds=RETENTION_SECONDS)

    async def enqueue(
        self, *, delivery_id: str, webhook_id: str, account_id: str, event_type: str, event_id: str, body: str
    ) -> bool:
        """Queue one delivery, due now; False when it is already queued (same event and endpoint)."""
        now = datetime.now(UTC)
        # An upsert, not an insert: a duplicate key error would abort the caller's transaction.
        result = await self.collection.update_one(
            {"_id": delivery_id},
            {
                "$setOnInsert": {
                    "webhook_id": webhook_id,
                    "account_id": account_id,
                    "event_type": event_type,
                    "event_id": event_id,
                    "body": body,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "history": [],
                }
            },
            upsert=True,
            session=self.session,
        )
        return result.upserted_id is not None

    async def claim_due(self, lease: timedelta) -> Row | None:
        """Take the lease of the most overdue pending delivery, counting the attempt."""
        now = datetime.now(UTC)
        return await self.collection.find_one_and_update(
            {"status": PENDING, "next_attempt_at": {"$lte": now}},
            {"$set": {"next_attempt_at": now + lease, "last_attempt_at": now}, "$inc": {"attempts": 1}},
            sort=[("next_attempt_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (a claimed one: when its lease ends); None
        when nothing is pending. What the delivery loop sleeps until while nothing is due."""
        row = await self.collection.find_one(
            {"status": PENDING, "next_attempt_at": {"$ne": None}},
            {"next_attempt_at": 1},
            sort=[("next_attempt_at", ASCENDING)],
            session=self.session,
        )
        return row["next_attempt_at"] if row else None

    async def record(
        self,
        row: Row,
        *,
        status: str,
        attempt: dict[str, Any],
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Write the outcome of the attempt `row` was claimed for, only while that claim holds;
        False when another sender took the row meanwhile (its outcome wins)."""
        changes: dict[str, Any] = {
            "status": status,
            "response_code": attempt.get("status_code"),
            "latency_ms": attempt.get("latency_ms"),
            "last_error": attempt.get("error"),
        }
        if next_attempt_at is not None:
            changes["next_attempt_at"] = next_attempt_at
        if status == DELIVERED:
            changes["delivered_at"] = attempt["at"]
        result = await self.collection.update_one(
            {"_id": row["_id"], "status": PENDING, "attempts": row["attempts"]},
            {"$set": changes, "$push": {"history": {"$each": [attempt], "$slice": -HISTORY}}},
            session=self.session,
        )
        return result.modified_count == 1

    async def get(self, delivery_id: str) -> Row | None:
        return await self.collection.find_one({"_id": delivery_id}, session=self.session)

    async def cancel_pending(self, webhook_id: str, reason: str) -> int:
        result = await self.collection.update_many(
            {"webhook_id": webhook_id, "status": PENDING},
            {"$set": {"status": CANCELLED, "last_error": reason}},
            session=self.session,
        )
        return result.modified_count

    async def delete_of(self, webhook_id: str) -> None:
        await self.collection.delete_many({"webhook_id": webhook_id}, session=self.session)

    async def replay(self, delivery_id: str, webhook_id: str, statuses: tuple[str, ...]) -> Row | None:
        """A delivery in one of `statuses` due again now, as a fresh round of attempts under the
        same `_id` (the `webhook-id`); its history stays. None when it was in no such status."""
        now = datetime.now(UTC)
        return await self.collection.find_one_and_update(
            {"_id": delivery_id, "webhook_id": webhook_id, "status": {"$in": list(statuses)}},
            {
                "$set": {"status": PENDING, "attempts": 0, "next_attempt_at": now, "replayed_at": now},
                "$inc": {"replays": 1},
            },
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def page(
        self, webhook_id: str, *, limit: int, cursor: str | None = None, status: str | None = None
    ) -> DeliveryPage:
        """The endpoint's deliveries (those in `status`), newest first; raises `InvalidCursor`."""
        query: dict[str, Any] = {"webhook_id": webhook_id}
        if status is not None:
            query["status"] = status
        if cursor:
            created_at, delivery_id = decode_cursor(cursor)
            query["$or"] = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": delivery_id}},
            ]
        found = (
            self.collection.find(query, {"body": 0}, session=self.session)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        rows = [row async for row in found]
        more = len(rows) > limit
        rows = rows[:limit]
        return DeliveryPage(rows, encode_cursor(rows[-1]["created_at"], rows[-1]["_id"]) if more else None)
