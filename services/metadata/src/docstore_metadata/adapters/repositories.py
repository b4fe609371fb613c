"""MongoDB collections of metadata: accounts, documents and versions."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING

from docstore_metadata.domain.accounts import Account


class InvalidCursor(ValueError):
    """A pagination cursor this service did not hand out."""


def encode_cursor(modified_at: datetime, document_id: str) -> str:
    raw = json.dumps([modified_at.isoformat(), document_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        modified_at, document_id = json.loads(raw)
        return datetime.fromisoformat(modified_at), str(document_id)
    except (ValueError, TypeError) as error:
        raise InvalidCursor("cursor: not a cursor from this listing") from error


class AccountRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db["accounts"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("username", unique=True)

    async def add(self, account: Account, session: AsyncIOMotorClientSession) -> None:
        await self.collection.insert_one(
            {
                "_id": account.id,
                "username": account.username,
                "email": account.email,
                "plan": account.plan,
                "home_region": account.home_region,
                "password_hash": account.password_hash,
                "created_at": account.created_at,
            },
            session=session,
        )

    async def by_username(self, username: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"username": username})

    async def by_id(self, account_id: str, session: AsyncIOMotorClientSession | None = None) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": account_id}, session=session)

    async def set_plan(self, account_id: str, plan: str, session: AsyncIOMotorClientSession) -> None:
        await self.collection.update_one({"_id": account_id}, {"$set": {"plan": plan}}, session=session)


class DocumentRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.documents = db["documents"]
        self.versions = db["versions"]

    async def ensure_indexes(self) -> None:
        await self.documents.create_index([("account_id", ASCENDING), ("modified_at", DESCENDING), ("_id", DESCENDING)])
        await self.versions.create_index([("document_id", ASCENDING), ("version", DESCENDING)], unique=True)
        await self.versions.create_index("upload_id", unique=True)

    async def get(self, document_id: str, session: AsyncIOMotorClientSession | None = None) -> dict[str, Any] | None:
        return await self.documents.find_one({"_id": document_id}, session=session)

    async def owned(self, account_id: str, document_id: str) -> dict[str, Any] | None:
        """The document if `account_id` owns it; None otherwise (absent or someone else's)."""
        return await self.documents.find_one({"_id": document_id, "account_id": account_id})

    async def insert_document(self, document: dict[str, Any], session: AsyncIOMotorClientSession) -> None:
        await self.documents.insert_one(document, session=session)

    async def update_document(self, document_id: str, changes: dict[str, Any], session: AsyncIOMotorClientSession) -> None:
        await self.documents.update_one({"_id": document_id}, {"$set": changes}, session=session)

    async def insert_version(self, version: dict[str, Any], session: AsyncIOMotorClientSession) -> None:
        await self.versions.insert_one(version, session=session)

    async def page(self, account_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the account's documents, most recently modified first (keyset pagination)."""
        query: dict[str, Any] = {"account_id": account_id}
        if cursor:
            modified_at, document_id = decode_cursor(cursor)
            query["$or"] = [
                {"modified_at": {"$lt": modified_at}},
                {"modified_at": modified_at, "_id": {"$lt": document_id}},
            ]
        rows = await (
            self.documents.find(query).sort([("modified_at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1)
        ).to_list(limit + 1)
        next_cursor = encode_cursor(rows[limit - 1]["modified_at"], rows[limit - 1]["_id"]) if len(rows) > limit else None
        return rows[:limit], next_cursor

    async def versions_of(self, document_id: str) -> list[dict[str, Any]]:
        return await self.versions.find({"document_id": document_id}).sort("version", DESCENDING).to_list(None)

    async def version(self, document_id: str, version: int) -> dict[str, Any] | None:
        return await self.versions.find_one({"document_id": document_id, "version": version})
