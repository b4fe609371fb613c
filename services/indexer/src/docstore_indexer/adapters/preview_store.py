"""MongoDB and S3 for previews: the `previews` entries (one per version), the backfill job
(`preview_jobs`), the catalog as the backfill reads it, and the preview objects in S3."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne

from docstore_indexer.adapters.object_store import ObjectStore, RecentReads
from docstore_indexer.adapters.repositories import CATALOG, Database, Session
from docstore_indexer.domain.previews import DUE, READY, PreviewEntry, StoredImage
from docstore_messaging.in_slices import find_in

PREVIEWS = "previews"
PREVIEW_JOBS = "preview_jobs"
BACKFILL_JOB = "backfill"


def _doc(entry: PreviewEntry) -> dict[str, Any]:
    return {
        "_id": entry.id,
        "account_id": entry.account_id,
        "document_id": entry.document_id,
        "version": entry.version,
        "state": entry.state,
        "due": entry.state == DUE,
        "bucket": entry.bucket,
        "key": entry.key,
        "content_type": entry.content_type,
        "size": entry.size,
        "reason": entry.reason,
        "images": {
            name: {
                "key": image.key,
                "width": image.width,
                "height": image.height,
                "content_type": image.content_type,
                "size": image.size,
            }
            for name, image in entry.images.items()
        },
        "stored_bytes": entry.stored_bytes,
        "at": entry.at,
        "traceparent": entry.traceparent,
    }


def _entry(doc: dict[str, Any]) -> PreviewEntry:
    return PreviewEntry(
        account_id=doc["account_id"],
        document_id=doc["document_id"],
        version=doc["version"],
        state=doc["state"],
        bucket=doc.get("bucket") or "",
        key=doc.get("key") or "",
        content_type=doc.get("content_type") or "",
        size=doc.get("size") or 0,
        reason=doc.get("reason"),
        images={name: StoredImage(**image) for name, image in (doc.get("images") or {}).items()},
        at=doc.get("at"),
        traceparent=doc.get("traceparent"),
    )


class PreviewRepository:
    """`previews`: `_id` `<account_id>:<document_id>:v<version>` → state, source object, stored images."""

    def __init__(self, db: Database, session: Session = None) -> None:
        self.collection = db[PREVIEWS]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("due", ASCENDING)])
        await self.collection.create_index([("account_id", ASCENDING), ("document_id", ASCENDING)])

    async def get(self, entry_id: str) -> PreviewEntry | None:
        doc = await self.collection.find_one({"_id": entry_id}, session=self.session)
        return _entry(doc) if doc else None

    async def get_many(self, ids: list[str]) -> dict[str, PreviewEntry]:
        found: dict[str, PreviewEntry] = {}
        async for doc in find_in(self.collection, "_id", ids, session=self.session):
            found[doc["_id"]] = _entry(doc)
        return found

    async def for_document(self, account_id: str, document_id: str) -> list[PreviewEntry]:
        cursor = self.collection.find({"account_id": account_id, "document_id": document_id}, session=self.session)
        return [_entry(doc) async for doc in cursor]

    async def put(self, entry: PreviewEntry) -> None:
        await self.collection.replace_one({"_id": entry.id}, _doc(entry), upsert=True, session=self.session)

    async def put_many(self, entries: list[PreviewEntry]) -> None:
        if entries:
            await self.collection.bulk_write(
                [UpdateOne({"_id": entry.id}, {"$set": _doc(entry)}, upsert=True) for entry in entries],
                session=self.session,
            )

    async def due(self, limit: int) -> list[PreviewEntry]:
        cursor = self.collection.find({"due": True}, session=self.session).sort("at", ASCENDING).limit(limit)
        return [_entry(doc) async for doc in cursor]

    async def stored_bytes(self) -> int:
        """Bytes of every ready preview (both sizes): the operator dashboard's figure."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"state": READY}},
            {"$group": {"_id": None, "bytes": {"$sum": "$stored_bytes"}}},
        ]
        async for row in await self.collection.aggregate(pipeline, session=self.session):
            return int(row["bytes"])
        return 0


@dataclass(frozen=True)
class CatalogDocument:
    """What the preview backfill needs of a catalog entry (the document's newest version)."""

    id: str
    account_id: str
    document_id: str
    version: int
    bucket: str
    key: str
    content_type: str
    size: int
    live: bool
    """False for a deleted document or a stub (details known, no upload yet): nothing to render."""


class PreviewJobRepository:
    """`preview_jobs`: the one backfill job `{_id: "backfill", state, cursor, total, done, created,
    lease_owner, lease_until}`, and the catalog pages it walks."""

    def __init__(self, db: Database, session: Session = None) -> None:
        self.collection = db[PREVIEW_JOBS]
        self.catalog = db[CATALOG]
        self.session = session

    async def get(self) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": BACKFILL_JOB}, session=self.session)

    async def create(self, total: int, at: datetime) -> None:
        """The job, once: a second replica (or a restart) finds it made and goes on from its cursor."""
        await self.collection.update_one(
            {"_id": BACKFILL_JOB},
            {
                "$setOnInsert": {
                    "state": "running",
                    "cursor": "",
                    "total": total,
                    "done": 0,
                    "created": 0,
                    "started_at": at,
                    "finished_at": None,
                    "lease_owner": None,
                    "lease_until": datetime.fromtimestamp(0, UTC),
                }
            },
            upsert=True,
            session=self.session,
        )

    async def claim(self, owner: str, lease_seconds: float) -> dict[str, Any] | None:
        """The running job if nobody else holds its lease (then this owner does, for `lease_seconds`)."""
        now = datetime.now(UTC)
        doc: dict[str, Any] | None = await self.collection.find_one_and_update(
            {
                "_id": BACKFILL_JOB,
                "state": "running",
                "$or": [{"lease_owner": owner}, {"lease_until": {"$lt": now}}],
            },
            {"$set": {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return doc

    async def advance(self, owner: str, cursor: str, *, done: int, created: int, finished: bool) -> bool:
        """Move the cursor (only while `owner` holds the lease); False when it lost it."""
        update: dict[str, Any] = {"cursor": cursor}
        if finished:
            update |= {"state": "complete", "finished_at": datetime.now(UTC), "lease_owner": None}
        result = await self.collection.update_one(
            {"_id": BACKFILL_JOB, "state": "running", "lease_owner": owner},
            {"$set": update, "$inc": {"done": done, "created": created}},
            session=self.session,
        )
        return result.modified_count == 1

    async def count_live_documents(self) -> int:
        return await self.catalog.count_documents(
            {"deleted_at": None, "upload_id": {"$ne": None}}, session=self.session
        )

    async def documents_after(self, cursor: str, limit: int) -> list[CatalogDocument]:
        """The next catalog entries in `_id` order after `cursor` (deleted ones and stubs included:
        the cursor moves past them; the caller skips them)."""
        found = self.catalog.find({"_id": {"$gt": cursor}}, session=self.session).sort("_id", ASCENDING).limit(limit)
        return [
            CatalogDocument(
                id=doc["_id"],
                account_id=doc.get("account_id", ""),
                document_id=doc.get("document_id", ""),
                version=int(doc.get("version") or 0),
                bucket=doc.get("bucket") or "",
                key=doc.get("key") or "",
                content_type=doc.get("content_type") or "",
                size=int(doc.get("size") or 0),
                live=doc.get("upload_id") is not None and doc.get("deleted_at") is None,
            )
            async for doc in found
        ]


@dataclass(frozen=True)
class PreviewRepositories:
    """The repositories of one preview unit of work, bound to one session."""

    previews: PreviewRepository
    jobs: PreviewJobRepository


def preview_repositories(db: Database) -> Callable[[Session], PreviewRepositories]:
    def bound(session: Session) -> PreviewRepositories:
        return PreviewRepositories(PreviewRepository(db, session), PreviewJobRepository(db, session))

    return bound


async def ensure_preview_indexes(db: Database) -> None:
    await PreviewRepository(db).ensure_indexes()


class PreviewObjects(ObjectStore):
    """Uploaded objects (read) and preview objects (write, delete) in S3, every write with the
    configured server-side encryption."""

    def __init__(self, client: Any, *, encryption: dict[str, str], recent: RecentReads | None = None) -> None:
        super().__init__(client, recent=recent)
        self.encryption = encryption

    async def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl="private, max-age=31536000, immutable",  # a version's preview never changes
            **self.encryption,
        )

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under `prefix` (idempotent); how many there were."""
        return await asyncio.to_thread(self._delete_prefix, bucket, prefix)

    def _delete_prefix(self, bucket: str, prefix: str) -> int:
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
