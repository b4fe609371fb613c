"""The completed upload sessions a consistency check pages through, oldest completion first,
and the event ids older completions went out under (their outbox rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from docstore_events import UploadCompleted
from docstore_kit.consistency import outbox_event_ids
from docstore_upload.domain.sessions import COMPLETED, Session

OUTBOX_MARGIN = timedelta(minutes=2)
"""How far from a session's completion time its outbox row is looked for (same transaction:
the two times are milliseconds apart)."""


class CompletedSessions:
    def __init__(self, db: AsyncDatabase[Any], *, topic_prefix: str) -> None:
        self.db = db
        self.collection = db["upload_sessions"]
        self.topic = UploadCompleted.topic(topic_prefix)

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("finished_at", 1), ("_id", 1)])

    async def page(self, after: Sequence[Any] | None, limit: int, *, before: datetime) -> list[Session]:
        """Up to `limit` completed sessions after the watermark `after` ([finished_at, _id]),
        completed before `before`, in that order."""
        where: dict[str, Any] = {"status": COMPLETED, "finished_at": {"$lt": before}}
        if after:
            at, last_id = after
            where["$or"] = [{"finished_at": {"$gt": at}}, {"finished_at": at, "_id": {"$gt": last_id}}]
        rows = self.collection.find(where).sort([("finished_at", 1), ("_id", 1)]).limit(limit)
        return [row async for row in rows]

    async def outbox_ids(self, sessions: Sequence[Session]) -> Mapping[str, str]:
        """{upload id: event id} from the outbox rows of `sessions` that do not keep their id."""
        older = [s for s in sessions if not s.get("completed_event_id")]
        if not older:
            return {}
        since = min(s["finished_at"] for s in older) - OUTBOX_MARGIN
        until = max(s["finished_at"] for s in older) + OUTBOX_MARGIN
        wanted = {s["_id"] for s in older}
        found = await outbox_event_ids(self.db, self.topic, since, until, lambda data: data.get("upload_id"))
        ids = {upload_id: event_id for upload_id, event_id in found.items() if upload_id in wanted}
        if ids:
            # Kept on the session from now on, as a completion does today: later passes need no
            # outbox scan, and still know the id once the outbox row is pruned.
            await self.collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": upload_id, "completed_event_id": None}, {"$set": {"completed_event_id": event_id}}
                    )
                    for upload_id, event_id in ids.items()
                ],
                ordered=False,
            )
        return ids
