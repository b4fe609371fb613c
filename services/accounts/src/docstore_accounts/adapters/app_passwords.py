"""MongoDB side of app passwords: collection `app_passwords`, bound to one session like
`credentials.py`.

A row: `_id` (UUIDv7 hex), `account_id`, `name`, `scope`, `digest` (SHA-256 of the canonical
password, never the password; unique), `created_at`, `last_used_at` (None until used).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_accounts.domain.app_passwords import LAST_USE_EVERY

Session = AsyncClientSession | None
Doc = dict[str, Any]
COLLECTION = "app_passwords"


class AppPasswordRepository:
    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("digest", unique=True)
        await self.collection.create_index([("account_id", ASCENDING), ("created_at", ASCENDING)])

    async def add(self, row: Doc) -> None:
        await self.collection.insert_one(row, session=self.session)

    async def count(self, account_id: str) -> int:
        return await self.collection.count_documents({"account_id": account_id}, session=self.session)

    async def of_account(self, account_id: str) -> list[Doc]:
        """The account's app passwords, oldest first (at most a few dozen: `MAX_PER_ACCOUNT`)."""
        cursor = self.collection.find({"account_id": account_id}, {"digest": 0}, session=self.session)
        return [row async for row in cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)])]

    async def by_digest(self, digest: str) -> Doc | None:
        return await self.collection.find_one({"digest": digest}, session=self.session)

    async def remove(self, account_id: str, app_password_id: str) -> Doc | None:
        """Delete the account's app password; the row, or None when it has none with this id (so
        another account's id is "not found", never removed)."""
        return await self.collection.find_one_and_delete(
            {"_id": app_password_id, "account_id": account_id}, session=self.session
        )

    async def remove_account(self, account_id: str) -> int:
        found = await self.collection.delete_many({"account_id": account_id}, session=self.session)
        return found.deleted_count

    async def used(self, app_password_id: str, now: datetime) -> bool:
        """Record a use at `now` unless one was recorded less than `LAST_USE_EVERY` ago (one
        conditional write; True when it moved)."""
        moved = await self.collection.update_one(
            {
                "_id": app_password_id,
                "$or": [{"last_used_at": None}, {"last_used_at": {"$lte": now - LAST_USE_EVERY}}],
            },
            {"$set": {"last_used_at": now}},
            session=self.session,
        )
        return moved.modified_count == 1


@dataclass(frozen=True)
class AppPasswordRepositories:
    """What the app-password unit of work hands a use case."""

    app_passwords: AppPasswordRepository


def app_password_repositories(db: AsyncDatabase[Any]) -> Callable[[Session], AppPasswordRepositories]:
    def bound(session: Session) -> AppPasswordRepositories:
        return AppPasswordRepositories(AppPasswordRepository(db, session))

    return bound
