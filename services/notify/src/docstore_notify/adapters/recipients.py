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

    async def mark_unverified(self, account_id: str) -> None:
        """The account signed up with an address not verified yet: no mail but verification and
        reset ones until `mark_verified`. A verification that arrived first (topics are not
        ordered) wins: `verified_at` is never undone."""
        await self.collection.update_one(
            {"_id": account_id, "verified_at": {"$exists": False}},
            {"$set": {"email_verified": False}},
            session=self.session,
        )

    async def mark_verified(self, account_id: str, email: str | None = None) -> None:
        """The address is verified (with `email`: the account moved to this new, verified address)."""
        changes: dict[str, Any] = {"email_verified": True, "verified_at": datetime.now(UTC)}
        if email:
            changes["email"] = email
        await self.collection.update_one({"_id": account_id}, {"$set": changes}, upsert=True, session=self.session)

    async def may_mail(self, account_id: str) -> bool:
        """False while the account's address is unverified; accounts from before verification count as verified."""
        doc = await self.collection.find_one({"_id": account_id}, {"email_verified": 1}, session=self.session)
        return doc is None or doc.get("email_verified", True) is not False

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
