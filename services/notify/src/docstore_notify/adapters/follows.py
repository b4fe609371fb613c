"""Who follows which document, learned from `file.followed` / `file.unfollowed`.

The two events travel on different topics, so they can arrive out of order: each
(document, follower) keeps the latest state by event time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "follows"


class FollowRepository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("document_id", 1), ("following", 1)])

    async def set(self, document_id: str, follower_id: str, following: bool, at: datetime) -> None:
        key = f"{document_id}:{follower_id}"
        current = await self.collection.find_one({"_id": key}, session=self.session)
        if current is not None and current["at"] > at:
            return  # a newer follow/unfollow already arrived
        await self.collection.update_one(
            {"_id": key},
            {"$set": {"document_id": document_id, "follower_id": follower_id, "following": following, "at": at}},
            upsert=True,
            session=self.session,
        )

    async def followers(self, document_id: str) -> list[str]:
        found = self.collection.find(
            {"document_id": document_id, "following": True}, {"follower_id": 1}, session=self.session
        )
        return sorted([doc["follower_id"] async for doc in found])
