"""Where each account's mail goes: one document per account, the address and nothing else
(plus timestamps)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "recipients"


class RecipientRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[COLLECTION]

    async def remember(self, account_id: str, email: str, session: AsyncClientSession) -> None:
        """Store (or overwrite) the address of `account_id`; repeating it changes nothing."""
        await self.collection.update_one(
            {"_id": account_id},
            {"$set": {"email": email, "updated_at": datetime.now(UTC)}},
            upsert=True,
            session=session,
        )

    async def address(self, account_id: str, session: AsyncClientSession | None = None) -> str | None:
        doc = await self.collection.find_one({"_id": account_id}, {"email": 1}, session=session)
        return doc.get("email") if doc else None

    async def touch(self, account_id: str, session: AsyncClientSession) -> None:
        """Write the account's document (creating it without an address) so that this
        transaction conflicts with a concurrent `remember`: one of the two is retried and
        sees the other's write. Without it, a notification recorded as waiting while the
        address arrives in another transaction could wait forever (write skew)."""
        await self.collection.update_one(
            {"_id": account_id}, {"$set": {"touched_at": datetime.now(UTC)}}, upsert=True, session=session
        )
