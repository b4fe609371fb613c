"""Usage records in MongoDB: one document per account (`usage`) and one per document
(`document_ledger`). Bound to one session (None: outside a transaction, for reads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_messaging.in_slices import find_in
from docstore_quota.domain.usage import DEFAULT_PLAN, Delta, DocumentState, Usage

COLLECTION = "usage"
DOCUMENTS = "document_ledger"

NEW_ACCOUNT = {"used_bytes": 0, "stored_bytes": 0, "documents": 0, "over_quota": False, "warned": []}


def to_usage(doc: dict[str, Any]) -> Usage:
    return Usage(
        account_id=doc["_id"],
        plan=doc.get("plan") or DEFAULT_PLAN,
        used_bytes=doc.get("used_bytes", 0),
        over_quota=doc.get("over_quota", False),
        warned=frozenset(doc.get("warned") or ()),
        stored_bytes=doc.get("stored_bytes", 0),
        documents=doc.get("documents", 0),
    )


def _document(doc: dict[str, Any]) -> DocumentState:
    return DocumentState(
        bytes=doc.get("bytes", 0),
        current_version=doc.get("current_version", 0),
        current_bytes=doc.get("current_bytes", 0),
        trashed=doc.get("trashed", False),
        trash_changed_at=doc.get("trash_changed_at"),
    )


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[COLLECTION].create_index([("used_bytes", DESCENDING)])
    await db[COLLECTION].create_index([("over_quota", 1), ("used_bytes", DESCENDING)])
    await db[DOCUMENTS].create_index([("account_id", 1)])


class UsageRepository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[COLLECTION]
        self.documents = db[DOCUMENTS]
        self.session = session

    # --- accounts --------------------------------------------------------------------

    async def plan_at(self, account_id: str) -> datetime | None:
        """When the account's plan was last set (None: never), creating the record empty
        (Free, nothing used) when events came first."""
        doc = await self.collection.find_one_and_update(
            {"_id": account_id},
            {"$setOnInsert": {**NEW_ACCOUNT}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return doc.get("plan_at") if doc else None

    async def set_plan(self, account_id: str, plan: str, at: datetime) -> Usage:
        doc = await self.collection.find_one_and_update(
            {"_id": account_id},
            {"$set": {"plan": plan, "plan_at": at}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return to_usage(doc or {"_id": account_id})

    async def add_to_counters(self, moves: Mapping[str, Delta]) -> dict[str, Usage]:
        """Move each account's counters (creating its record if need be); returns the accounts after."""
        if not moves:
            return {}
        await self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": account_id},
                    {
                        "$inc": {"used_bytes": move.used, "stored_bytes": move.stored, "documents": move.documents},
                        "$setOnInsert": {"over_quota": False, "warned": []},
                    },
                    upsert=True,
                )
                for account_id, move in moves.items()
            ],
            ordered=False,
            session=self.session,
        )
        found = find_in(self.collection, "_id", moves, session=self.session)
        return {doc["_id"]: to_usage(doc) async for doc in found}

    async def set_flags(self, account_id: str, *, over_quota: bool, warned: frozenset[int]) -> None:
        await self.collection.update_one(
            {"_id": account_id}, {"$set": {"over_quota": over_quota, "warned": sorted(warned)}}, session=self.session
        )

    # --- documents -------------------------------------------------------------------

    async def document_states(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        """The stored state of each of `document_ids` that has one."""
        found = find_in(self.documents, "_id", document_ids, session=self.session)
        return {doc["_id"]: _document(doc) async for doc in found}

    async def save_document_states(self, states: Mapping[str, tuple[str, DocumentState]]) -> None:
        """Store each document's (account id, state)."""
        if not states:
            return
        await self.documents.bulk_write(
            [
                UpdateOne(
                    {"_id": document_id},
                    {
                        "$set": {
                            "account_id": account_id,
                            "bytes": state.bytes,
                            "current_version": state.current_version,
                            "current_bytes": state.current_bytes,
                            "trashed": state.trashed,
                            "trash_changed_at": state.trash_changed_at,
                        }
                    },
                    upsert=True,
                )
                for document_id, (account_id, state) in states.items()
            ],
            ordered=False,
            session=self.session,
        )

    # --- reads -----------------------------------------------------------------------

    async def get(self, account_id: str) -> Usage:
        doc = await self.collection.find_one({"_id": account_id}, session=self.session)
        return to_usage(doc) if doc else Usage(account_id, DEFAULT_PLAN, 0, False)

    async def top(self, limit: int, *, skip: int = 0) -> list[Usage]:
        """Accounts by used bytes, most first; `skip` and `limit` read one page of them."""
        found = self.collection.find({}, session=self.session).sort([("used_bytes", DESCENDING), ("_id", 1)])
        return [to_usage(doc) async for doc in found.skip(skip).limit(limit)]

    async def over_quota(self, limit: int, after: str | None = None) -> list[Usage]:
        query: dict[str, Any] = {"over_quota": True}
        if after:
            query["_id"] = {"$gt": after}
        found = self.collection.find(query, session=self.session).sort("_id", 1).limit(limit)
        return [to_usage(doc) async for doc in found]

    async def all_stored(self) -> dict[str, int]:
        """Every account's stored bytes (what S3 should hold), for reconciliation."""
        found = self.collection.find({}, {"stored_bytes": 1}, session=self.session)
        return {doc["_id"]: doc.get("stored_bytes", 0) async for doc in found}

    async def totals(self) -> list[dict[str, Any]]:
        """Per plan: accounts, documents, stored and used bytes, accounts over quota."""
        pipeline = [
            {
                "$group": {
                    "_id": {"$ifNull": ["$plan", DEFAULT_PLAN]},
                    "accounts": {"$sum": 1},
                    "documents": {"$sum": "$documents"},
                    "stored_bytes": {"$sum": "$stored_bytes"},
                    "used_bytes": {"$sum": "$used_bytes"},
                    "over_quota": {"$sum": {"$cond": ["$over_quota", 1, 0]}},
                }
            },
        ]
        return [row async for row in await self.collection.aggregate(pipeline, session=self.session)]

    async def documents_by_size(self, bounds: list[tuple[str, int, int | None]]) -> dict[str, int]:
        """How many live documents fall in each (name, above, up to) size class."""
        counts = {}
        for name, low, high in bounds:
            condition: dict[str, int] = {"$gt": low}
            if high is not None:
                condition["$lte"] = high
            counts[name] = await self.documents.count_documents({"bytes": condition}, session=self.session)
        return counts
