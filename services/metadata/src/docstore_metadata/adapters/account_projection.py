"""Metadata's projection of accounts (issue 36), collection `account_projection`, and `Owners`:
what metadata's documents, sharing, links and purge read of an account.

`AccountProjection` is bound to one session like the other repositories. `Owners` reads it first
and asks the accounts' owner (`authority`) only when the projection would refuse something or does
not know the account yet (a sign-up, a verification or an upgrade a moment ago: the events arrive
after the answer), the rule quota and the indexer follow for plans (`docstore_kit.account_plans`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Session = AsyncClientSession | None
Doc = dict[str, Any]

COLLECTION = "account_projection"


class AccountProjection:
    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("username")
        await self.collection.create_index("deleted_at", sparse=True)

    async def apply(self, account_id: str, changes: Mapping[str, Any], on_insert: Mapping[str, Any]) -> None:
        update: dict[str, Any] = {}
        if changes:
            update["$set"] = dict(changes)
        if fresh := {key: value for key, value in on_insert.items() if key not in changes}:
            update["$setOnInsert"] = fresh
        await self.collection.update_one({"_id": account_id}, update, upsert=True, session=self.session)

    async def by_id(self, account_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": account_id}, session=self.session)

    async def by_username(self, username: str) -> Doc | None:
        return await self.collection.find_one({"username": username}, session=self.session)

    async def of(self, account_ids: set[str]) -> list[Doc]:
        """The rows of those of `account_ids` the projection holds (`_id`, `username`,
        `home_region`, `status`): a person's contacts, a few hundred at most."""
        found = self.collection.find(
            {"_id": {"$in": sorted(account_ids)}},
            {"username": 1, "home_region": 1, "status": 1},
            session=self.session,
        )
        return await found.to_list(None)

    async def deleted_since(self, since: Any) -> list[Doc]:
        """Accounts deleted at or after `since`: `{_id, deleted_at}` each."""
        found = self.collection.find({"deleted_at": {"$gte": since}}, {"_id": 1, "deleted_at": 1}, session=self.session)
        return await found.to_list(None)


class Authority(Protocol):
    """Who owns accounts: answers for an account the projection does not know yet."""

    async def by_id(self, account_id: str) -> Doc | None: ...

    async def by_username(self, username: str) -> Doc | None: ...

    async def plan_of(self, account_id: str) -> str: ...

    async def by_email(self, address: str) -> Doc | None: ...


class Owners:
    """An account as metadata needs it: `_id`, `username`, `plan`, `email_verified`, `status`."""

    def __init__(self, projection: AccountProjection, authority: Authority) -> None:
        self.projection = projection
        self.authority = authority

    async def by_id(self, account_id: str) -> Doc | None:
        row = await self.projection.by_id(account_id)
        if row is None or row.get("email_verified") is False or "username" not in row:
            return await self.authority.by_id(account_id) or row
        return row

    async def by_username(self, username: str) -> Doc | None:
        return await self.projection.by_username(username) or await self.authority.by_username(username)

    async def by_email(self, address: str) -> Doc | None:
        """The active account whose verified address is `address`, any case: only the accounts
        service knows (the projection holds no addresses)."""
        return await self.authority.by_email(address)

    async def plan_of(self, account_id: str) -> str:
        """The account's plan; free for an account nobody knows. The projection is trusted for a
        paid plan only: a free plan there may be an upgrade whose event has not arrived."""
        row = await self.projection.by_id(account_id)
        if row is not None and row.get("plan") not in (None, "free"):
            return str(row["plan"])
        return await self.authority.plan_of(account_id)
