"""Where each account's mail goes: one document per account, the address and the username (so
that a mail can say who changed a followed file), plus timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "recipients"


class RecipientRepository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def remember(self, account_id: str, email: str, username: str = "") -> None:
        """Store (or overwrite) the address and username of `account_id`; repeating it changes nothing."""
        await self.collection.update_one(
            {"_id": account_id},
            {"$set": {"email": email, "username": username, "updated_at": datetime.now(UTC)}},
            upsert=True,
            session=self.session,
        )

    async def address(self, account_id: str) -> str | None:
        doc = await self.collection.find_one({"_id": account_id}, {"email": 1}, session=self.session)
        return doc.get("email") if doc else None

    async def username(self, account_id: str) -> str | None:
        """The account's username, None when its sign-up has not arrived (or predates usernames here)."""
        doc = await self.collection.find_one({"_id": account_id}, {"username": 1}, session=self.session)
        return (doc.get("username") or None) if doc else None

    async def touch(self, account_id: str) -> None:
        """Write the account's document (creating it without an address) so that this
        transaction conflicts with a concurrent `remember`: one of the two is retried and
        sees the other's write. Without it, a notification recorded as waiting while the
        address arrives in another transaction could wait forever (write skew)."""
        await self.collection.update_one(
            {"_id": account_id}, {"$set": {"touched_at": datetime.now(UTC)}}, upsert=True, session=self.session
        )
