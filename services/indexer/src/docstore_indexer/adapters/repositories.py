"""The indexer's MongoDB collections: plans, the document catalog, and backfill jobs.

Each repository is bound to one session (`None`: outside any transaction), so its methods
take no session argument; `Repositories` groups them for one unit of work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReplaceOne, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_indexer.domain.backfill import CANCELLED, COMPLETE, RUNNING, BackfillJob, first_state
from docstore_indexer.domain.catalog import FAILED, INDEXED, PENDING, CatalogEntry, entry_id, full_text_state
from docstore_indexer.domain.plans import PlanRecord
from docstore_messaging.in_slices import find_in

PLANS = "plans"
CATALOG = "catalog"
BACKFILLS = "backfills"

Database = AsyncDatabase[dict[str, Any]]
Session = AsyncClientSession | None


class PlansRepository:
    """`plans`: one record per account, `{_id: account_id, plan, as_of}`."""

    def __init__(self, db: Database, session: Session = None) -> None:
        self.collection = db[PLANS]
        self.session = session

    async def get(self, account_id: str) -> PlanRecord | None:
        doc = await self.collection.find_one({"_id": account_id}, session=self.session)
        return PlanRecord(account_id, doc["plan"], doc["as_of"]) if doc else None

    async def put(self, record: PlanRecord) -> None:
        await self.collection.update_one(
            {"_id": record.account_id},
            {"$set": {"plan": record.plan, "as_of": record.as_of}},
            upsert=True,
            session=self.session,
        )


STATE_FIELDS = ["account_id", "document_id", "upload_id", "indexed_upload_id", "index_status", "index_due"]
"""The catalog fields `full_text_state` reads."""


class CatalogRepository:
    """`catalog`: one entry per document of every account, `_id` `<account_id>:<document_id>`."""

    def __init__(self, db: Database, session: Session = None) -> None:
        self.collection = db[CATALOG]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("account_id", ASCENDING), ("_id", ASCENDING)])
        await self.collection.create_index([("index_due", ASCENDING)])

    async def get(self, account_id: str, document_id: str) -> CatalogEntry | None:
        doc = await self.collection.find_one({"_id": entry_id(account_id, document_id)}, session=self.session)
        return _entry(doc) if doc else None

    async def get_many(self, ids: list[str]) -> dict[str, CatalogEntry]:
        """The entries of these `<account_id>:<document_id>` ids that exist, by id."""
        found: dict[str, CatalogEntry] = {}
        async for doc in find_in(self.collection, "_id", ids, session=self.session):
            entry = _entry(doc)
            found[entry.id] = entry
        return found

    async def put(self, entry: CatalogEntry) -> None:
        await self.collection.replace_one({"_id": entry.id}, _doc(entry), upsert=True, session=self.session)

    async def put_many(self, entries: list[CatalogEntry]) -> None:
        """Write several entries in one round trip (one bulk write)."""
        if entries:
            await self.collection.bulk_write(
                [ReplaceOne({"_id": entry.id}, _doc(entry), upsert=True) for entry in entries],
                ordered=False,
                session=self.session,
            )

    async def due(self, limit: int) -> list[CatalogEntry]:
        """Entries whose upload waits to be indexed (`index_due`), at most `limit`."""
        cursor = self.collection.find({"index_due": True}, session=self.session).limit(limit)
        return [_entry(doc) async for doc in cursor]

    async def next_after(self, account_id: str, after: str) -> CatalogEntry | None:
        """The account's next live document with an upload, in `_id` order after `after`."""
        doc = await self.collection.find_one(
            {"account_id": account_id, "_id": {"$gt": after}, "deleted_at": None, "upload_id": {"$ne": None}},
            sort=[("_id", ASCENDING)],
            session=self.session,
        )
        return _entry(doc) if doc else None

    async def not_indexed(self, account_id: str, limit: int) -> list[CatalogEntry]:
        """Up to `limit` of the account's live entries with an upload that is neither indexed nor due."""
        cursor = self.collection.find(
            {
                "account_id": account_id,
                "deleted_at": None,
                "upload_id": {"$ne": None},
                "indexed_upload_id": None,
                "index_due": {"$ne": True},
            },
            session=self.session,
        ).limit(limit)
        return [_entry(doc) async for doc in cursor]

    async def count_live(self, account_id: str) -> int:
        return await self.collection.count_documents(
            {"account_id": account_id, "deleted_at": None, "upload_id": {"$ne": None}}, session=self.session
        )

    async def count_states(self, account_id: str) -> dict[str, int]:
        """How many of the account's live documents are indexed, failed and pending, counted now
        by `domain.catalog.full_text_state` (one rule, not a second copy in a MongoDB
        expression): one query reading the few fields that rule needs."""
        counts = {INDEXED: 0, FAILED: 0, PENDING: 0}
        cursor = self.collection.find(
            {"account_id": account_id, "deleted_at": None, "upload_id": {"$ne": None}},
            projection=STATE_FIELDS,
            session=self.session,
        )
        async for doc in cursor:
            counts[full_text_state(_entry(doc))] += 1
        return counts

    async def forget_index(self, account_id: str) -> None:
        """The account's entries no longer have anything in the search index."""
        await self.collection.update_many(
            {"account_id": account_id, "indexed_upload_id": {"$ne": None}},
            {"$set": {"indexed_upload_id": None, "index_status": "", "index_reason": ""}},
            session=self.session,
        )


_FIELDS = tuple(f.name for f in fields(CatalogEntry))


def _doc(entry: CatalogEntry) -> dict[str, Any]:
    # The entry's fields as they are (`asdict` deep-copies every value: several times the CPU,
    # for each entry of every batch, on the event loop that also feeds the extraction workers).
    doc = {name: getattr(entry, name) for name in _FIELDS}
    doc["tags"] = list(entry.tags)
    return doc


def _entry(doc: dict[str, Any]) -> CatalogEntry:
    fields: dict[str, Any] = {name: doc.get(name) for name in CatalogEntry.__dataclass_fields__ if name in doc}
    fields["tags"] = tuple(doc.get("tags") or ())
    return CatalogEntry(**fields)


class BackfillRepository:
    """`backfills`: one job per account, `{_id: account_id, job_id, state, total, indexed, failed, cursor,
    lease_owner, lease_until}`. A replica works on a job only while it holds the job's lease."""

    def __init__(self, db: Database, session: Session = None) -> None:
        self.collection = db[BACKFILLS]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])

    async def get(self, account_id: str) -> BackfillJob | None:
        doc = await self.collection.find_one({"_id": account_id}, session=self.session)
        return _job(doc) if doc else None

    async def start(self, account_id: str, job_id: str, total: int, at: datetime) -> None:
        state = first_state(total)
        await self.collection.replace_one(
            {"_id": account_id},
            {
                "job_id": job_id,
                "state": state,
                "total": total,
                "indexed": 0,
                "failed": 0,
                "cursor": "",
                "started_at": at,
                "finished_at": None if state == RUNNING else at,
                "lease_owner": None,
                "lease_until": datetime.fromtimestamp(0, UTC),
            },
            upsert=True,
            session=self.session,
        )

    async def cancel(self, account_id: str, at: datetime) -> None:
        await self.collection.update_one(
            {"_id": account_id, "state": RUNNING},
            {"$set": {"state": CANCELLED, "finished_at": at, "lease_owner": None}},
            session=self.session,
        )

    async def claim(self, owner: str, lease_seconds: float) -> BackfillJob | None:
        """Take the lease of a running job nobody holds (or whose holder stopped renewing)."""
        now = datetime.now(UTC)
        doc = await self.collection.find_one_and_update(
            {"state": RUNNING, "lease_until": {"$lt": now}},
            {"$set": {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}},
            sort=[("lease_until", ASCENDING)],
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return _job(doc) if doc else None

    async def advance(
        self, job: BackfillJob, owner: str, cursor: str, *, indexed: int, failed: int, lease_seconds: float
    ) -> bool:
        """Move the job past `cursor` if `owner` still holds it; False when the lease or the job is gone."""
        result = await self.collection.update_one(
            {"_id": job.account_id, "job_id": job.job_id, "state": RUNNING, "lease_owner": owner},
            {
                "$set": {"cursor": cursor, "lease_until": datetime.now(UTC) + timedelta(seconds=lease_seconds)},
                "$inc": {"indexed": indexed, "failed": failed},
            },
            session=self.session,
        )
        return result.matched_count == 1

    async def finish(self, job: BackfillJob, owner: str) -> None:
        """Done: the total becomes what was really processed (documents come and go meanwhile)."""
        doc = await self.collection.find_one({"_id": job.account_id, "job_id": job.job_id}, session=self.session)
        if doc is None:
            return
        await self.collection.update_one(
            {"_id": job.account_id, "job_id": job.job_id, "state": RUNNING, "lease_owner": owner},
            {
                "$set": {
                    "state": COMPLETE,
                    "finished_at": datetime.now(UTC),
                    "lease_owner": None,
                    "total": doc["indexed"] + doc["failed"],
                }
            },
            session=self.session,
        )

    async def release(self, job: BackfillJob, owner: str) -> None:
        await self.collection.update_one(
            {"_id": job.account_id, "job_id": job.job_id, "lease_owner": owner},
            {"$set": {"lease_owner": None, "lease_until": datetime.fromtimestamp(0, UTC)}},
            session=self.session,
        )


def _job(doc: dict[str, Any]) -> BackfillJob:
    return BackfillJob(
        account_id=doc["_id"],
        job_id=doc["job_id"],
        state=doc["state"],
        total=doc["total"],
        indexed=doc["indexed"],
        failed=doc["failed"],
        cursor=doc["cursor"],
        started_at=doc["started_at"],
        finished_at=doc.get("finished_at"),
    )


@dataclass(frozen=True)
class Repositories:
    """The indexer's repositories, all bound to one session (one unit of work)."""

    plans: PlansRepository
    catalog: CatalogRepository
    backfills: BackfillRepository


def repositories(db: Database) -> Callable[[Session], Repositories]:
    """What `EventRuntime.unit_of_work` needs: the repositories bound to a given session."""

    def bound(session: Session) -> Repositories:
        return Repositories(
            PlansRepository(db, session), CatalogRepository(db, session), BackfillRepository(db, session)
        )

    return bound


async def ensure_indexes(db: Database) -> None:
    await CatalogRepository(db).ensure_indexes()
    await BackfillRepository(db).ensure_indexes()
