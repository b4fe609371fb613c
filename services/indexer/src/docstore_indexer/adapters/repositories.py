"""The indexer's MongoDB collections: plans, the document catalog, and backfill jobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo import ASCENDING, ReturnDocument

from docstore_indexer.domain.catalog import CatalogEntry, entry_id
from docstore_indexer.domain.plans import PlanRecord

PLANS = "plans"
CATALOG = "catalog"
BACKFILLS = "backfills"

Session = AsyncClientSession | None


class PlansRepository:
    """`plans`: one record per account, `{_id: account_id, plan, as_of}`."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[PLANS]

    async def get(self, account_id: str, session: Session = None) -> PlanRecord | None:
        doc = await self.collection.find_one({"_id": account_id}, session=session)
        return PlanRecord(account_id, doc["plan"], doc["as_of"]) if doc else None

    async def put(self, record: PlanRecord, session: AsyncClientSession) -> None:
        await self.collection.update_one(
            {"_id": record.account_id}, {"$set": {"plan": record.plan, "as_of": record.as_of}},
            upsert=True, session=session,
        )


class CatalogRepository:
    """`catalog`: one entry per document of every account, `_id` `<account_id>:<document_id>`."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[CATALOG]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("account_id", ASCENDING), ("_id", ASCENDING)])

    async def get(self, account_id: str, document_id: str, session: Session = None) -> CatalogEntry | None:
        doc = await self.collection.find_one({"_id": entry_id(account_id, document_id)}, session=session)
        return _entry(doc) if doc else None

    async def put(self, entry: CatalogEntry, session: AsyncClientSession) -> None:
        doc = asdict(entry)
        doc["tags"] = list(entry.tags)
        await self.collection.replace_one({"_id": entry.id}, doc, upsert=True, session=session)

    async def next_after(self, account_id: str, after: str, session: Session = None) -> CatalogEntry | None:
        """The account's next live document with an upload, in `_id` order after `after`."""
        doc = await self.collection.find_one(
            {"account_id": account_id, "_id": {"$gt": after}, "deleted_at": None, "upload_id": {"$ne": None}},
            sort=[("_id", ASCENDING)], session=session,
        )
        return _entry(doc) if doc else None

    async def count_live(self, account_id: str, session: Session = None) -> int:
        return await self.collection.count_documents(
            {"account_id": account_id, "deleted_at": None, "upload_id": {"$ne": None}}, session=session
        )

    async def count_indexed(self, account_id: str) -> int:
        return await self.collection.count_documents(
            {"account_id": account_id, "deleted_at": None, "indexed_upload_id": {"$ne": None}}
        )

    async def forget_index(self, account_id: str, session: AsyncClientSession) -> None:
        """The account's entries no longer have anything in the search index."""
        await self.collection.update_many(
            {"account_id": account_id, "indexed_upload_id": {"$ne": None}},
            {"$set": {"indexed_upload_id": None, "index_status": ""}}, session=session,
        )


def _entry(doc: dict[str, Any]) -> CatalogEntry:
    fields = {name: doc.get(name) for name in CatalogEntry.__dataclass_fields__ if name in doc}
    fields["tags"] = tuple(doc.get("tags") or ())
    return CatalogEntry(**fields)


RUNNING, COMPLETE, CANCELLED = "running", "complete", "cancelled"


@dataclass(frozen=True)
class BackfillJob:
    account_id: str
    job_id: str
    state: str
    total: int
    indexed: int
    failed: int
    cursor: str
    started_at: datetime
    finished_at: datetime | None = None


class BackfillRepository:
    """`backfills`: one job per account, `{_id: account_id, job_id, state, total, indexed, failed, cursor,
    lease_owner, lease_until}`. A replica works on a job only while it holds the job's lease."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[BACKFILLS]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])

    async def get(self, account_id: str, session: Session = None) -> BackfillJob | None:
        doc = await self.collection.find_one({"_id": account_id}, session=session)
        return _job(doc) if doc else None

    async def start(self, account_id: str, job_id: str, total: int, at: datetime,
                    session: AsyncClientSession) -> None:
        await self.collection.replace_one({"_id": account_id}, {
            "job_id": job_id, "state": RUNNING if total else COMPLETE, "total": total, "indexed": 0, "failed": 0,
            "cursor": "", "started_at": at, "finished_at": None if total else at,
            "lease_owner": None, "lease_until": datetime.fromtimestamp(0, UTC),
        }, upsert=True, session=session)

    async def cancel(self, account_id: str, at: datetime, session: AsyncClientSession) -> None:
        await self.collection.update_one(
            {"_id": account_id, "state": RUNNING},
            {"$set": {"state": CANCELLED, "finished_at": at, "lease_owner": None}}, session=session,
        )

    async def claim(self, owner: str, lease_seconds: float) -> BackfillJob | None:
        """Take the lease of a running job nobody holds (or whose holder stopped renewing)."""
        now = datetime.now(UTC)
        doc = await self.collection.find_one_and_update(
            {"state": RUNNING, "lease_until": {"$lt": now}},
            {"$set": {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}},
            sort=[("lease_until", ASCENDING)], return_document=ReturnDocument.AFTER,
        )
        return _job(doc) if doc else None

    async def advance(
        self, job: BackfillJob, owner: str, cursor: str, *, indexed: int, failed: int, lease_seconds: float,
        session: AsyncClientSession,
    ) -> bool:
        """Move the job past `cursor` if `owner` still holds it; False when the lease or the job is gone."""
        result = await self.collection.update_one(
            {"_id": job.account_id, "job_id": job.job_id, "state": RUNNING, "lease_owner": owner},
            {"$set": {"cursor": cursor,
                      "lease_until": datetime.now(UTC) + timedelta(seconds=lease_seconds)},
             "$inc": {"indexed": indexed, "failed": failed}},
            session=session,
        )
        return result.matched_count == 1

    async def finish(self, job: BackfillJob, owner: str) -> None:
        """Done: the total becomes what was really processed (documents come and go meanwhile)."""
        doc = await self.collection.find_one({"_id": job.account_id, "job_id": job.job_id})
        if doc is None:
            return
        await self.collection.update_one(
            {"_id": job.account_id, "job_id": job.job_id, "state": RUNNING, "lease_owner": owner},
            {"$set": {"state": COMPLETE, "finished_at": datetime.now(UTC), "lease_owner": None,
                      "total": doc["indexed"] + doc["failed"]}},
        )

    async def release(self, job: BackfillJob, owner: str) -> None:
        await self.collection.update_one(
            {"_id": job.account_id, "job_id": job.job_id, "lease_owner": owner},
            {"$set": {"lease_owner": None, "lease_until": datetime.fromtimestamp(0, UTC)}},
        )


def _job(doc: dict[str, Any]) -> BackfillJob:
    return BackfillJob(
        account_id=doc["_id"], job_id=doc["job_id"], state=doc["state"], total=doc["total"], indexed=doc["indexed"],
        failed=doc["failed"], cursor=doc["cursor"], started_at=doc["started_at"], finished_at=doc.get("finished_at"),
    )
