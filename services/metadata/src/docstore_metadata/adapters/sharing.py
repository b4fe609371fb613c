"""Shares (who else may see or edit a document) and follows (who wants mail when it changes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Session = AsyncClientSession | None


class SharingRepository:
    """Bound to one session (None: outside any transaction), like every repository here."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.shares = db["shares"]
        self.follows = db["follows"]
        self.lookups = db["people_lookups"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.shares.create_index([("grantee_id", 1), ("created_at", -1)])
        await self.shares.create_index("document_id")
        await self.follows.create_index([("follower_id", 1), ("created_at", -1)])
        await self.shares.create_index([("owner_id", 1), ("grantee_id", 1)])
        await self.lookups.create_index("expires_at", expireAfterSeconds=0)

    async def contacts_of(self, account_id: str, limit: int = 1000) -> set[str]:
        """The accounts `account_id` shares with or is shared with by (at most `limit` of each
        kind): the people its suggestions may name."""
        mine = await self.shares.aggregate(
            [{"$match": {"owner_id": account_id}}, {"$group": {"_id": "$grantee_id"}}, {"$limit": limit}],
            session=self.session,
        )
        theirs = await self.shares.aggregate(
            [{"$match": {"grantee_id": account_id}}, {"$group": {"_id": "$owner_id"}}, {"$limit": limit}],
            session=self.session,
        )
        return {row["_id"] async for row in mine} | {row["_id"] async for row in theirs}

    async def count_lookup(self, account_id: str, window: int) -> int:
        """Count one people lookup of `account_id` in the minute `window`; the count so far."""
        row = await self.lookups.find_one_and_update(
            {"_id": f"{account_id}:{window}"},
            {"$inc": {"n": 1}, "$setOnInsert": {"expires_at": datetime.now(UTC) + timedelta(minutes=2)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return int((row or {}).get("n", 1))

    async def lookups_in(self, account_id: str, window: int) -> int:
        """How many people lookups `account_id` made in the minute `window`."""
        row = await self.lookups.find_one({"_id": f"{account_id}:{window}"}, session=self.session)
        return int((row or {}).get("n", 0))

    async def share(self, document_id: str, owner_id: str, grantee_id: str, permission: str) -> bool:
        """Grant or change a share; True when it is new."""
        result = await self.shares.update_one(
            {"_id": f"{document_id}:{grantee_id}"},
            {
                "$set": {"permission": permission},
                "$setOnInsert": {
                    "document_id": document_id,
                    "owner_id": owner_id,
                    "grantee_id": grantee_id,
                    "created_at": datetime.now(UTC),
                },
            },
            upsert=True,
            session=self.session,
        )
        return result.upserted_id is not None

    async def unshare(self, document_id: str, grantee_id: str) -> bool:
        return (
            await self.shares.delete_one({"_id": f"{document_id}:{grantee_id}"}, session=self.session)
        ).deleted_count == 1

    async def share_of(self, document_id: str, grantee_id: str) -> dict[str, Any] | None:
        return await self.shares.find_one({"_id": f"{document_id}:{grantee_id}"}, session=self.session)

    async def shares_of(self, document_id: str, skip: int, limit: int) -> list[dict[str, Any]]:
        """One page of the document's shares, oldest first (`_id` breaks ties, so pages never overlap)."""
        return (
            await self.shares.find({"document_id": document_id}, session=self.session)
            .sort([("created_at", 1), ("_id", 1)])
            .skip(skip)
            .limit(limit)
            .to_list(None)
        )

    async def shared_with(self, grantee_id: str, skip: int, limit: int) -> list[dict[str, Any]]:
        """One page of the shares naming `grantee_id`, newest first."""
        return (
            await self.shares.find({"grantee_id": grantee_id}, session=self.session)
            .sort([("created_at", -1), ("_id", -1)])
            .skip(skip)
            .limit(limit)
            .to_list(None)
        )

    async def follow(self, document_id: str, owner_id: str, follower_id: str) -> bool:
        result = await self.follows.update_one(
            {"_id": f"{follower_id}:{document_id}"},
            {
                "$setOnInsert": {
                    "document_id": document_id,
                    "owner_id": owner_id,
                    "follower_id": follower_id,
                    "created_at": datetime.now(UTC),
                }
            },
            upsert=True,
            session=self.session,
        )
        return result.upserted_id is not None

    async def unfollow(self, document_id: str, follower_id: str) -> bool:
        return (
            await self.follows.delete_one({"_id": f"{follower_id}:{document_id}"}, session=self.session)
        ).deleted_count == 1

    async def follows_of(self, follower_id: str, skip: int, limit: int) -> list[dict[str, Any]]:
        """One page of the follows of `follower_id`, newest first."""
        return (
            await self.follows.find({"follower_id": follower_id}, session=self.session)
            .sort([("created_at", -1), ("_id", -1)])
            .skip(skip)
            .limit(limit)
            .to_list(None)
        )
