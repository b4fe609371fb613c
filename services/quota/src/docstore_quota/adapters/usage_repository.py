"""Usage records in MongoDB: one document per account, changed only inside transactions."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ReturnDocument

from docstore_quota.domain.usage import DEFAULT_PLAN, Usage

COLLECTION = "usage"


def _usage(doc: dict) -> Usage:
    return Usage(
        account_id=doc["_id"],
        plan=doc.get("plan") or DEFAULT_PLAN,
        used_bytes=doc.get("used_bytes", 0),
        over_quota=doc.get("over_quota", False),
    )


class UsageRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db[COLLECTION]

    async def open(self, account_id: str, plan: str, session: AsyncIOMotorClientSession) -> None:
        """Create the record, or set the plan on one an early upload already created."""
        await self.collection.update_one(
            {"_id": account_id},
            {"$setOnInsert": {"used_bytes": 0, "over_quota": False}, "$set": {"plan": plan}},
            upsert=True,
            session=session,
        )

    async def set_plan(self, account_id: str, plan: str, session: AsyncIOMotorClientSession) -> Usage:
        doc = await self.collection.find_one_and_update(
            {"_id": account_id},
            {"$set": {"plan": plan}, "$setOnInsert": {"used_bytes": 0, "over_quota": False}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return _usage(doc)

    async def add_bytes(self, account_id: str, delta: int, session: AsyncIOMotorClientSession) -> Usage:
        """Add `delta` (negative to free space) and return the updated usage."""
        doc = await self.collection.find_one_and_update(
            {"_id": account_id},
            {"$inc": {"used_bytes": delta}, "$setOnInsert": {"over_quota": False}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return _usage(doc)

    async def set_over_quota(self, account_id: str, flag: bool, session: AsyncIOMotorClientSession) -> None:
        await self.collection.update_one({"_id": account_id}, {"$set": {"over_quota": flag}}, session=session)

    async def get(self, account_id: str) -> Usage:
        doc = await self.collection.find_one({"_id": account_id})
        return _usage(doc) if doc else Usage(account_id, DEFAULT_PLAN, 0, False)
