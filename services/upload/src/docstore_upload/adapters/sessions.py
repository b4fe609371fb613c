"""Upload sessions in MongoDB."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase

from docstore_upload.domain.grants import Grant

PENDING, COMPLETED = "pending", "completed"


class UploadSessions:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db["upload_sessions"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", 1), ("expires_at", 1)])

    async def add(self, grant: Grant, session: AsyncIOMotorClientSession) -> None:
        row = asdict(grant)
        row["_id"] = row.pop("upload_id")
        await self.collection.insert_one({**row, "status": PENDING, "created_at": datetime.now(UTC)}, session=session)

    async def get(self, account_id: str, upload_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": upload_id, "account_id": account_id})

    async def mark_completed(self, upload_id: str, facts: dict[str, Any], session: AsyncIOMotorClientSession) -> bool:
        """Move a pending session to completed; False when it was not pending any more."""
        result = await self.collection.update_one(
            {"_id": upload_id, "status": PENDING},
            {"$set": {"status": COMPLETED, "completed_at": datetime.now(UTC), "stored": facts}},
            session=session,
        )
        return result.modified_count == 1
