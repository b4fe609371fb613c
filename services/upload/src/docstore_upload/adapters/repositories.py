"""What one unit of work hands a use case: upload's repositories, bound to one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_upload.adapters.sessions import UploadSessions
from docstore_upload.domain.grants import Grant
from docstore_upload.domain.sessions import Session


class SessionStore(Protocol):
    """Upload sessions as the use cases see them (`UploadSessions` in MongoDB, an in-memory one in tests)."""

    async def add(self, grant: Grant, **extra: Any) -> None: ...
    async def get(self, actor_id: str, upload_id: str) -> Session | None: ...
    async def by_id(self, upload_id: str) -> Session | None: ...
    async def pending_of(self, account_id: str) -> list[Session]: ...
    async def by_key(self, key: str) -> Session | None: ...
    async def finish(self, upload_id: str, status: str, **fields: Any) -> bool: ...
    async def claim_late_check(self) -> Session | None: ...
    async def mark_joined(self, upload_id: str, verify_lease: timedelta) -> Session | None: ...
    async def claim_due(self, lease: timedelta) -> Session | None: ...
    async def add_many(self, grants: list[tuple[Grant, dict[str, Any]]]) -> None: ...
    async def get_many(self, actor_id: str, upload_ids: list[str]) -> dict[str, Session]: ...
    async def completed_sha256s(self, account_id: str, sha256s: list[str]) -> set[str]: ...
    async def complete_many(self, facts: dict[str, tuple[Session, dict[str, Any]]]) -> list[str]: ...
    async def claim_chunk_map_check(self, now: datetime, every: timedelta) -> Session | None: ...
    async def drop_chunk_map(self, upload_id: str) -> None: ...


@dataclass(frozen=True)
class Repositories:
    sessions: SessionStore


def mongo_repositories(db: AsyncDatabase[Any]) -> Callable[[AsyncClientSession | None], Repositories]:
    """The factory `EventRuntime.unit_of_work` calls for each transaction (None: outside any)."""

    def bound(session: AsyncClientSession | None) -> Repositories:
        return Repositories(sessions=UploadSessions(db, session))

    return bound


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    """The indexes upload's collections need (called once at start)."""
    await UploadSessions(db).ensure_indexes()
