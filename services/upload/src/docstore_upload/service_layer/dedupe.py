"""Dedupe: bytes the account already stores are copied server-side into the new version's key
instead of being sent again (no byte passes through upload or the client), and the upload
completes with the same events as any upload (quota counts the copy as it counts every
version's object)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog

from docstore_messaging.origin import origin_headers
from docstore_messaging.tracing import current_traceparent
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.grants import GrantRequest, StoredBytes, check_reservation, new_grant
from docstore_upload.domain.sessions import ABORTED, BATCH_CLIENT_GRACE, Session, StoredObject, initiated
from docstore_upload.service_layer.common import BATCH_S3_CONCURRENCY, IssuedGrant, UploadContext, item_outcome
from docstore_upload.service_layer.completion import Completion
from docstore_upload.service_layer.endings import Endings

log = structlog.get_logger(__name__)

DEDUPE_IN_BACKGROUND_FROM = 8 * 1024 * 1024
"""A dedupe copy of this size and up runs after the grant's answer (`deduplicated: true` with the
upload still pending): a copy of many GiB inside the request would outlast the gateway's upstream
timeout. The client follows `GET /uploads/{id}` to `completed` (`aborted`: the bytes went away
meanwhile, it sends them). Smaller copies (the batch route's too) finish before the answer."""


class Dedupe:
    def __init__(self, context: UploadContext, completion: Completion, endings: Endings) -> None:
        self.context = context
        self.completion = completion
        self.endings = endings

    async def grant(self, account_id: str, request: GrantRequest, document_id: str) -> IssuedGrant | None:
        """When the account already stores bytes with the declared sha256 and size, the new
        version's object is copied from them and the upload completes at once. None when there
        are no such bytes (or they went away meanwhile): the caller grants a normal upload, whose
        completion reads the real sha256 back from S3. The client's hash only ever selects among
        the account's own versions; the sha256 recorded is the one metadata read from those bytes."""
        assert request.sha256 is not None
        ctx = self.context
        source = await ctx.metadata.stored_bytes(account_id, request.sha256)
        if source is None or source.size != request.size or source.bucket != ctx.storage.bucket:
            return None
        # Recorded as a form upload (its staging key never written): a process dying after the
        # copy leaves the watcher a pending upload whose object is there, which it completes.
        form_request = replace(request, multipart=False, browser=False, chunks=())
        grant = new_grant(
            form_request,
            upload_id=str(uuid.uuid4()),
            document_id=document_id,
            owner_id=account_id,
            region=ctx.region,
            limits=ctx.limits,
            now=datetime.now(UTC),
        )
        check_reservation(
            await ctx.quota.reserve(account_id, grant.upload_id, request.size, grant.expires_at), request.size
        )
        extra: dict[str, Any] = {
            "actor_id": account_id,
            "traceparent": current_traceparent(),
            "origin": origin_headers(),
            "deduplicated_from": source.key,
            # The watcher leaves it to this call for a while (it would read the copy back again).
            "next_check_at": datetime.now(UTC) + BATCH_CLIENT_GRACE,
        }

        async def record(tx: Transaction[Repositories]) -> None:
            await tx.repos.sessions.add_many([(grant, extra)])
            tx.emit(initiated(grant))

        # The same bytes have the same chunk map: the copy keeps the source's verified one, so the
        # next version of this document can still be sent as a delta.
        source_row = await ctx.reads.sessions.by_key(source.key)
        if source_row is not None and source_row.get("chunks_verified"):
            extra |= {"chunks": source_row["chunks"], "declared_sha256": source.sha256}
        await ctx.uow.run(record)
        row = await ctx.reads.sessions.by_id(grant.upload_id)
        assert row is not None
        if request.size >= DEDUPE_IN_BACKGROUND_FROM:
            # A copy of many GiB would outlast the caller's and the gateway's timeouts: it runs after
            # the answer, and the client follows the upload to completed (or aborted: then it sends).
            ctx.in_background(self.copy_or_abort(row, source, background=True))
            return IssuedGrant(grant=grant, max_size=request.size, deduplicated=True)
        if not await self.copy_or_abort(row, source):
            return None
        return IssuedGrant(grant=grant, max_size=request.size, deduplicated=True)

    async def copy_or_abort(self, row: Session, source: StoredBytes, *, background: bool = False) -> bool:
        """The dedupe copy and its completion; when the source is gone (or, in the background, the
        copy failed), the upload is aborted and its room given back."""
        try:
            copied = await self.copy(row, source.key, source.sha256)
        except Exception:
            if not background:
                raise
            log.warning("dedupe_copy_failed", upload_id=row["_id"], exc_info=True)
            copied = False
        if not copied:
            await self.context.uow.run(lambda tx: tx.repos.sessions.finish(row["_id"], ABORTED))
            await self.endings.discard(row)
        return copied

    async def copy_many(self, upload_ids: list[str], sources: dict[str, StoredBytes]) -> set[str]:
        """Dedupe a batch's items side by side; the upload ids completed by a copy."""
        if not upload_ids:
            return set()
        rows = [await self.context.reads.sessions.by_id(upload_id) for upload_id in upload_ids]
        limit = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def one(row: Session) -> str | None:
            source = sources[row["_id"]]
            async with limit:
                done = await item_outcome(self.copy(row, source.key, source.sha256))
            return row["_id"] if done is True else None

        return {u for u in await asyncio.gather(*(one(r) for r in rows if r is not None)) if u is not None}

    async def copy(self, row: Session, source_key: str, sha256: str) -> bool:
        """Copy `source_key` to the session's key and record the completion; False when the source
        is gone (purged meanwhile) or is not the declared size."""
        storage = self.context.storage
        if not await storage.copy_whole(source_key, row["key"], row["declared_size"]):
            return False
        head = await storage.head(row["key"])
        if head is None or head[0] != row["declared_size"]:
            await storage.delete(row["key"])
            return False
        # Version objects are never rewritten (every version has a key of its own), so the copy
        # holds the bytes whose sha256 metadata recorded from S3 when they were uploaded.
        chunks = tuple(str(h) for _, _, h in row.get("chunks") or ())
        stored = StoredObject(size=head[0], etag=head[1], sha256=sha256, chunk_sha256s=chunks)
        await self.context.uow.run(lambda tx: self.completion.record(tx, row, stored))
        return True
