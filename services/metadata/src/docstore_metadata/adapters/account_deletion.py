"""MongoDB side of deleting an account (issue 33): the shares and follows it leaves behind and its
documents' purge (its verified address and app passwords are identity: the accounts service),
scheduled after the grace period and claimed one document at a time (like the trash's purge),
bound to one session like `repositories.py`.

- `documents.purge_at`: when a deleted account's document is purged (set once, by the
  `account.deleted` consumer); the purge itself is `Documents._purge`, the trash's path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Session = AsyncClientSession | None
Doc = dict[str, Any]


class AccountDeletionRepository:
    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.shares = db["shares"]
        self.follows = db["follows"]
        self.documents = db["documents"]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.shares.create_index("owner_id")
        await self.follows.create_index("owner_id")
        await self.documents.create_index("purge_at", sparse=True)

    async def shares_touching(self, account_id: str) -> list[Doc]:
        """Every share of the account's documents, and every share naming it."""
        query = {"$or": [{"owner_id": account_id}, {"grantee_id": account_id}]}
        return await self.shares.find(query, session=self.session).to_list(None)

    async def delete_share(self, share_id: str) -> bool:
        return (await self.shares.delete_one({"_id": share_id}, session=self.session)).deleted_count == 1

    async def follows_touching(self, account_id: str) -> list[Doc]:
        """Follows of the account's documents by others (theirs end with the shares)."""
        query = {"owner_id": account_id, "follower_id": {"$ne": account_id}}
        return await self.follows.find(query, session=self.session).to_list(None)

    async def delete_follow(self, follow_id: str) -> bool:
        return (await self.follows.delete_one({"_id": follow_id}, session=self.session)).deleted_count == 1

    async def schedule_purge(self, account_id: str, at: datetime) -> int:
        """Mark the account's documents for purging at `at` (documents marked already keep theirs)."""
        result = await self.documents.update_many(
            {"account_id": account_id, "purge_at": None}, {"$set": {"purge_at": at}}, session=self.session
        )
        return result.modified_count

    async def claim_due(self, now: datetime, *, claimant: str, lease: timedelta) -> Doc | None:
        """Claim one document whose purge is due (outside any transaction, like `claim_expired`)."""
        return await self.documents.find_one_and_update(
            {"purge_at": {"$lte": now}, "purge_claimed_at": {"$lt": now - lease}},
            {"$set": {"purge_claimed_at": now, "purge_claimed_by": claimant}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
