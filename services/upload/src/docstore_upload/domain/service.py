"""What upload does: hand out grants and turn a stored object into `upload.completed`, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClientSession

from docstore_events import UploadCompleted, UploadInitiated
from docstore_events.runtime import EventRuntime
from docstore_upload.adapters.quota_client import QuotaClient
from docstore_upload.adapters.sessions import COMPLETED, UploadSessions
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import (
    Grant,
    InvalidUpload,
    NoRoom,
    check_content_type,
    check_filename,
    check_path,
    check_size,
    check_tags,
    expiry,
    object_key,
)


class UploadNotFound(Exception):
    """No such upload for this account."""


class NotStoredYet(Exception):
    """Completion was asked for before the object reached S3."""


class OverQuota(Exception):
    """The account is flagged over its cap: no new grants until space is freed."""


@dataclass(frozen=True)
class GrantRequest:
    filename: str
    size: int
    content_type: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    path: str = "/"


@dataclass(frozen=True)
class IssuedGrant:
    grant: Grant
    form: dict[str, Any]
    max_size: int


class Uploads:
    def __init__(
        self, events: EventRuntime, sessions: UploadSessions, storage: Storage, quota: QuotaClient,
        *, region: str, grant_seconds: int,
    ) -> None:
        self.events = events
        self.sessions = sessions
        self.storage = storage
        self.quota = quota
        self.region = region
        self.grant_seconds = grant_seconds

    async def grant(self, account_id: str, request: GrantRequest) -> IssuedGrant:
        """Check the request and the room left, record the session, and sign a POST form."""
        filename = check_filename(request.filename)
        content_type = check_content_type(request.content_type)
        tags = check_tags(list(request.tags))
        path = check_path(request.path)
        if request.size <= 0:
            raise InvalidUpload("size: must be a positive number of bytes")
        room = await self.quota.room(account_id)
        if room.over_quota:
            raise OverQuota("this account is over its storage cap: free some space before uploading")
        check_size(request.size, room.room_bytes)
        upload_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())
        grant = Grant(
            upload_id=upload_id,
            account_id=account_id,
            document_id=document_id,
            key=object_key(region=self.region, account_id=account_id, document_id=document_id, upload_id=upload_id),
            filename=filename,
            content_type=content_type,
            declared_size=request.size,
            title=request.title,
            tags=tags,
            path=path,
            expires_at=expiry(datetime.now(UTC), self.grant_seconds),
        )

        async def write(session: AsyncIOMotorClientSession) -> None:
            await self.sessions.add(grant, session)
            await self.events.outbox.add(
                UploadInitiated(
                    account_id=account_id, upload_id=upload_id, document_id=document_id, key=grant.key,
                    declared_size=request.size, content_type=content_type, expires_at=grant.expires_at,
                ),
                session=session,
            )

        await self.events.transaction(write)
        # The form allows no more than declared: a client cannot send more than quota agreed to.
        form = self.storage.post_form(grant, max_size=request.size, expires_in=self.grant_seconds)
        return IssuedGrant(grant=grant, form=form, max_size=request.size)

    async def complete(self, account_id: str, upload_id: str) -> dict[str, Any]:
        """Read the object's facts from S3 and emit `upload.completed`; repeated calls change nothing."""
        row = await self.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if row["status"] == COMPLETED:
            return row
        stored = await self.storage.stored(row["key"])
        if stored is None:
            raise NotStoredYet(upload_id)
        facts = {"size": stored.size, "etag": stored.etag, "sha256": stored.sha256}

        async def write(session: AsyncIOMotorClientSession) -> None:
            if not await self.sessions.mark_completed(upload_id, facts, session):
                return  # another path (redirect, watcher) completed it first
            await self.events.outbox.add(
                UploadCompleted(
                    account_id=account_id, upload_id=upload_id, document_id=row["document_id"],
                    bucket=self.storage.bucket, key=row["key"], filename=row["filename"],
                    content_type=row["content_type"], size=stored.size, etag=stored.etag, sha256=stored.sha256,
                    title=row.get("title"), tags=row.get("tags", []), path=row.get("path", "/"),
                ),
                session=session,
            )

        await self.events.transaction(write)
        return await self.sessions.get(account_id, upload_id) or row
