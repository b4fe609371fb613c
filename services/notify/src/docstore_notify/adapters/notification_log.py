"""The notification log in MongoDB: one row per event that causes a mail, keyed by event id.

A row is inserted inside the consumer's transaction, `pending` (or `waiting` while the
account's address is not known yet, until `account.created` releases it) and moves to
`sent` (with SES's message id) or `failed`. Sending is guarded by a lease: a sender first *claims* a
row (one atomic update that pushes `next_attempt_at` a lease ahead and counts the
attempt), so the consumer and the sweeper never send the same row at the same time.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_notify.domain.errors import InvalidCursor

COLLECTION = "notifications"
WAITING, PENDING, SENT, FAILED = "waiting", "pending", "sent", "failed"
DIGEST_QUEUED, DIGESTED = "digest", "digested"
"""A row for a kind the user wants in the digest waits as `digest` until the digest job
puts it into one digest row (then `digested`, with `digest_id`)."""


def encode_cursor(created_at: datetime, notification_id: str) -> str:
    """An opaque cursor pointing just after the row (`created_at`, `notification_id`)."""
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), notification_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, notification_id = json.loads(raw)
        when = datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError) as error:
        raise InvalidCursor("invalid cursor") from error
    if when.tzinfo is None or not isinstance(notification_id, str):
        raise InvalidCursor("invalid cursor")
    return when, notification_id


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


class NotificationLog:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("account_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])
        await self.collection.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.collection.create_index([("account_id", ASCENDING), ("status", ASCENDING)])
        await self.collection.create_index([("coalesce_key", ASCENDING), ("status", ASCENDING)], sparse=True)

    async def insert_pending(
        self,
        *,
        notification_id: str,
        account_id: str,
        kind: str,
        params: dict[str, Any],
        subject: str,
        resend_after: timedelta,
        waiting: bool,
        digest: bool = False,
        hold: timedelta | None = None,
        coalesce_key: str | None = None,
    ) -> None:
        """Insert a `pending` row (or a `waiting` one, which no sender touches until released;
        or a `digest` one, for the digest job). A `hold` delays the first send so that later
        events with the same `coalesce_key` merge into this row (see `merge`)."""
        now = datetime.now(UTC)
        row: dict[str, Any] = {
            "_id": notification_id,
            "account_id": account_id,
            "kind": kind,
            "params": params,
            "subject": subject,
            "status": DIGEST_QUEUED if digest else WAITING if waiting else PENDING,
            "attempts": 0,
            "created_at": now,
            # If no sender claims it first, the sweeper sends it after this.
            "next_attempt_at": None if waiting or digest else now + (hold or resend_after),
        }
        if coalesce_key:
            row["coalesce_key"] = coalesce_key
            row["hold_until"] = now + (hold or timedelta(0))
        await self.collection.insert_one(row, session=self.session)

    async def merge(self, coalesce_key: str, set_params: dict[str, Any]) -> bool:
        """Fold one more event into a not-yet-sent row with the same key still in its hold
        window: counts it (`params.changes`) and takes its facts. False when there is none."""
        merged = await self.collection.find_one_and_update(
            {
                "coalesce_key": coalesce_key,
                "status": {"$in": [PENDING, WAITING, DIGEST_QUEUED]},
                "attempts": 0,
                "hold_until": {"$gt": datetime.now(UTC)},
            },
            {"$set": {f"params.{k}": v for k, v in set_params.items()}, "$inc": {"params.changes": 1}},
            session=self.session,
        )
        return merged is not None

    async def accounts_with_digest_items(self, limit: int = 1000) -> list[str]:
        return list(await self.collection.distinct("account_id", {"status": DIGEST_QUEUED}, session=self.session))[
            :limit
        ]

    async def digest_items(self, account_id: str, limit: int = 200) -> list[dict[str, Any]]:
        found = self.collection.find({"account_id": account_id, "status": DIGEST_QUEUED}, session=self.session)
        return [row async for row in found.sort([("created_at", ASCENDING), ("_id", ASCENDING)]).limit(limit)]

    async def mark_digested(self, ids: list[str], digest_id: str) -> None:
        await self.collection.update_many(
            {"_id": {"$in": ids}, "status": DIGEST_QUEUED},
            {"$set": {"status": DIGESTED, "digest_id": digest_id}},
            session=self.session,
        )

    async def release_waiting(self, account_id: str, resend_after: timedelta) -> int:
        """Make `account_id`'s waiting rows pending (its address just arrived); returns how many."""
        result = await self.collection.update_many(
            {"account_id": account_id, "status": WAITING},
            {"$set": {"status": PENDING, "next_attempt_at": datetime.now(UTC) + resend_after}},
            session=self.session,
        )
        return result.modified_count

    async def claim_new(self, notification_id: str, lease: timedelta) -> dict[str, Any] | None:
        """Claim a row nobody tried to send yet; None if someone else already has."""
        return await self._claim({"_id": notification_id, "status": PENDING, "attempts": 0}, lease)

    async def claim_new_of_account(self, account_id: str, lease: timedelta) -> dict[str, Any] | None:
        """Claim one of `account_id`'s rows nobody tried to send yet, if any."""
        not_held = [{"hold_until": {"$exists": False}}, {"hold_until": {"$lte": datetime.now(UTC)}}]
        return await self._claim({"account_id": account_id, "status": PENDING, "attempts": 0, "$or": not_held}, lease)

    async def claim_due(self, lease: timedelta) -> dict[str, Any] | None:
        """Claim the pending row whose next attempt is the most overdue, if any."""
        return await self._claim(
            {"status": PENDING, "next_attempt_at": {"$lte": datetime.now(UTC)}},
            lease,
            sort=[("next_attempt_at", ASCENDING)],
        )

    async def _claim(
        self, query: dict[str, Any], lease: timedelta, sort: list[tuple[str, int]] | None = None
    ) -> dict[str, Any] | None:
        now = datetime.now(UTC)
        return await self.collection.find_one_and_update(
            query,
            {"$set": {"next_attempt_at": now + lease, "last_attempt_at": now}, "$inc": {"attempts": 1}},
            sort=sort,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        await self.collection.update_one(
            {"_id": notification_id, "status": PENDING},
            {
                "$set": {"status": SENT, "message_id": message_id, "sent_at": datetime.now(UTC)},
                "$unset": {"last_error": ""},
            },
            session=self.session,
        )

    async def mark_failed_attempt(self, notification_id: str, error: str, *, final: bool) -> None:
        update: dict[str, Any] = {"last_error": error[:500]}
        if final:
            update["status"] = FAILED
        await self.collection.update_one(
            {"_id": notification_id, "status": PENDING}, {"$set": update}, session=self.session
        )

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": notification_id}, session=self.session)

    async def page(self, account_id: str, *, limit: int, cursor: str | None = None) -> Page:
        """`account_id`'s rows, newest first, `limit` at a time; raises `InvalidCursor`."""
        query: dict[str, Any] = {"account_id": account_id}
        if cursor:
            created_at, notification_id = decode_cursor(cursor)
            query["$or"] = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": notification_id}},
            ]
        found = (
            self.collection.find(query, session=self.session)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        rows = [row async for row in found]
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["_id"]) if more else None
        return Page(rows, next_cursor)
