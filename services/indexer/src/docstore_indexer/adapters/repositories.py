"""The indexer's MongoDB collections: each account's plan, and what the index holds per document."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase

from docstore_indexer.domain.plans import PlanRecord
from docstore_indexer.domain.versions import IndexedState

PLANS = "plans"
INDEXED = "indexed"


class PlansRepository:
    """`plans`: one record per account, `{_id: account_id, plan, as_of}`."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db[PLANS]

    async def get(self, account_id: str, session: AsyncIOMotorClientSession | None = None) -> PlanRecord | None:
        doc = await self.collection.find_one({"_id": account_id}, session=session)
        return PlanRecord(account_id, doc["plan"], doc["as_of"]) if doc else None

    async def put(self, record: PlanRecord, session: AsyncIOMotorClientSession) -> None:
        await self.collection.update_one(
            {"_id": record.account_id}, {"$set": {"plan": record.plan, "as_of": record.as_of}},
            upsert=True, session=session,
        )


def _indexed_id(account_id: str, document_id: str) -> str:
    return f"{account_id}:{document_id}"


class IndexedRepository:
    """`indexed`: per document, the upload and version the search index holds."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db[INDEXED]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("account_id")

    async def get(
        self, account_id: str, document_id: str, session: AsyncIOMotorClientSession | None = None
    ) -> IndexedState | None:
        doc = await self.collection.find_one({"_id": _indexed_id(account_id, document_id)}, session=session)
        if doc is None:
            return None
        return IndexedState(
            account_id=doc["account_id"], document_id=doc["document_id"], upload_id=doc["upload_id"],
            version=doc["version"], uploaded_at=doc["uploaded_at"], status=doc["status"],
        )

    async def put(self, state: IndexedState, session: AsyncIOMotorClientSession) -> None:
        await self.collection.replace_one(
            {"_id": _indexed_id(state.account_id, state.document_id)},
            {
                "account_id": state.account_id, "document_id": state.document_id, "upload_id": state.upload_id,
                "version": state.version, "uploaded_at": state.uploaded_at, "status": state.status,
            },
            upsert=True, session=session,
        )

    async def delete(self, account_id: str, document_id: str, session: AsyncIOMotorClientSession) -> None:
        await self.collection.delete_one({"_id": _indexed_id(account_id, document_id)}, session=session)

    async def delete_account(self, account_id: str, session: AsyncIOMotorClientSession) -> None:
        await self.collection.delete_many({"account_id": account_id}, session=session)

