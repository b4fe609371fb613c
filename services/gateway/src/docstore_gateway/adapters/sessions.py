"""Login sessions in MongoDB (`sessions` collection): the gateway process keeps no session state.

Only a SHA-256 of each bearer token is stored (as `_id`), so a database leak reveals no usable
token. Every write is a single-document one (or a delete of one account's sessions), atomic on
its own: no transaction, no unit of work.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from docstore_gateway.domain.sessions import Session

COLLECTION = "sessions"


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MongoSessions:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("account_id")

    async def add(self, session: Session) -> None:
        await self.collection.insert_one(
            {
                "_id": _token_id(session.token),
                "account_id": session.account_id,
                "role": session.role,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
            }
        )

    async def get(self, token: str) -> Session | None:
        row = await self.collection.find_one({"_id": _token_id(token)})
        if row is None:
            return None
        return Session(token, row["account_id"], row.get("role", "user"), row["created_at"], row["expires_at"])

    async def remove(self, token: str) -> None:
        await self.collection.delete_one({"_id": _token_id(token)})

    async def remove_account(self, account_id: str) -> None:
        await self.collection.delete_many({"account_id": account_id})
