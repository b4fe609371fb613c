"""The unsubscribe tokens handed out in mails: token -> (account, kind), remembered at send
time (the token itself is made and checked in `domain/unsubscribe.py`)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

COLLECTION = "unsubscribe_tokens"


class UnsubscribeTokens:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def remember(self, token: str, account_id: str, kind: str) -> None:
        await self.collection.update_one(
            {"_id": token}, {"$set": {"account_id": account_id, "kind": kind}}, upsert=True, session=self.session
        )

    async def find(self, token: str) -> tuple[str, str] | None:
        """The (account id, kind) stored for `token`, or None."""
        row = await self.collection.find_one({"_id": token}, session=self.session)
        return None if row is None else (row["account_id"], row["kind"])
