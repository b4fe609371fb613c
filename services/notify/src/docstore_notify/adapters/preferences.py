"""Per-user notification preferences: for each kind, `instant`, `digest` or `off` (default instant)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_notify.domain.mail import KINDS
from docstore_notify.domain.notices import DEFAULT_MODE

COLLECTION = "preferences"


def _field(kind: str) -> str:
    """MongoDB field names must not contain dots ("quota.warning" -> "quota_warning")."""
    return kind.replace(".", "_")


class PreferenceRepository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.collection = db[COLLECTION]
        self.session = session

    async def of(self, account_id: str) -> dict[str, str]:
        doc = await self.collection.find_one({"_id": account_id}, session=self.session)
        chosen = (doc or {}).get("kinds", {})
        return {kind: chosen.get(_field(kind), DEFAULT_MODE) for kind in KINDS}

    async def mode(self, account_id: str, kind: str) -> str:
        return (await self.of(account_id)).get(kind, DEFAULT_MODE)

    async def set(self, account_id: str, changes: dict[str, str]) -> dict[str, str]:
        """Change the modes of the kinds in `changes` (others stay); returns all modes."""
        update = {f"kinds.{_field(kind)}": mode for kind, mode in changes.items() if kind in KINDS}
        if update:
            await self.collection.update_one(
                {"_id": account_id},
                {"$set": {**update, "updated_at": datetime.now(UTC)}},
                upsert=True,
                session=self.session,
            )
        return await self.of(account_id)
