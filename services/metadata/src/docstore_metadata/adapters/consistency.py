"""The recorded versions a consistency check pages through, oldest first, their documents, and
the event ids their `file.version-recorded` went out under (their outbox rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_events import FileVersionRecorded
from docstore_kit.consistency import outbox_event_ids
from docstore_messaging.in_slices import find_in
from docstore_metadata.domain.consistency import Row, fact_of, version_recorded_event_id

OUTBOX_MARGIN = timedelta(minutes=2)
"""How far from a version's creation its outbox row is looked for (same transaction)."""


class RecordedVersions:
    def __init__(self, db: AsyncDatabase[Any], *, topic_prefix: str) -> None:
        self.db = db
        self.versions = db["versions"]
        self.documents = db["documents"]
        self.topic = FileVersionRecorded.topic(topic_prefix)

    async def ensure_indexes(self) -> None:
        await self.versions.create_index([("created_at", 1), ("_id", 1)])

    async def page(self, after: Sequence[Any] | None, limit: int, *, before: datetime) -> list[Row]:
        """Up to `limit` versions after the watermark `after` ([created_at, _id]), created
        before `before`, in that order."""
        where: dict[str, Any] = {"created_at": {"$lt": before}}
        if after:
            at, last_id = after
            where["$or"] = [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": last_id}}]
        rows = self.versions.find(where).sort([("created_at", 1), ("_id", 1)]).limit(limit)
        return [row async for row in rows]

    async def documents_of(self, rows: Sequence[Row]) -> dict[str, Row]:
        ids = {row["document_id"] for row in rows}
        return {doc["_id"]: doc async for doc in find_in(self.documents, "_id", ids)}

    async def event_ids(self, rows: Sequence[Row]) -> Mapping[str, str]:
        """{fact: event id}: the derived id where its outbox row has it, else (versions recorded
        before ids were derived) the id of the outbox row that announced the version."""
        derived = {version_recorded_event_id(row["document_id"], row["version"]): fact_of(row) for row in rows}
        found = {
            derived[row["_id"]]: row["_id"]
            async for row in find_in(self.db["outbox"], "_id", derived, projection={"_id": 1})
        }
        older = [row for row in rows if fact_of(row) not in found]
        if older:
            since = min(row["created_at"] for row in older) - OUTBOX_MARGIN
            until = max(row["created_at"] for row in older) + OUTBOX_MARGIN
            wanted = {fact_of(row) for row in older}
            legacy = await outbox_event_ids(
                self.db, self.topic, since, until, lambda data: f"{data.get('document_id')}:{data.get('version')}"
            )
            found |= {fact: event_id for fact, event_id in legacy.items() if fact in wanted}
        return found
