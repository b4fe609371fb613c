"""Login sessions in MongoDB: the gateway process keeps no session state.

Only a SHA-256 of each bearer token is stored, so a database leak reveals no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_region(token: str) -> str | None:
    """The region that issued a token (`<region>.<random>`); None for a token without one."""
    region, dot, rest = token.partition(".")
    return region if dot and region and rest else None


@dataclass(frozen=True)
class Caller:
    """Who a live session belongs to."""

    account_id: str
    role: str = "user"


@dataclass(frozen=True)
class IssuedSession:
    token: str
    account_id: str
    expires_at: datetime


class SessionStore:
    def __init__(self, db: AsyncDatabase[Any], ttl_seconds: int, region: str = "") -> None:
        self.collection = db["sessions"]
        self.ttl = timedelta(seconds=ttl_seconds)
        self.region = region

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("account_id")

    async def create(self, account_id: str, role: str = "user") -> IssuedSession:
        # The issuing region prefixes the token, so another region's gateway can send it home.
        token = f"{self.region}.{secrets.token_urlsafe(32)}" if self.region else secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires_at = now + self.ttl
        await self.collection.insert_one(
            {"_id": _token_id(token), "account_id": account_id, "role": role, "created_at": now, "expires_at": expires_at}
        )
        return IssuedSession(token, account_id, expires_at)

    async def caller_for(self, token: str) -> Caller | None:
        """The account (and its role) a live token belongs to, or None."""
        row = await self.collection.find_one({"_id": _token_id(token)})
        if row is None or row["expires_at"] <= datetime.now(UTC):
            return None
        return Caller(row["account_id"], row.get("role", "user"))

    async def revoke(self, token: str) -> None:
        await self.collection.delete_one({"_id": _token_id(token)})

    async def revoke_account(self, account_id: str) -> None:
        """End every session of an account (it was deleted)."""
        await self.collection.delete_many({"account_id": account_id})
