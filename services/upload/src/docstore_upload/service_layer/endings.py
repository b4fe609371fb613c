"""How a pending upload ends without a version: aborted by its client, rejected (its bytes or its
right did not hold), or closed with its account. Its bytes and its reserved room are dropped."""

from __future__ import annotations

import structlog

from docstore_upload.domain.errors import UploadNotFound
from docstore_upload.domain.sessions import ABORTED, PENDING, REJECTED, Session, is_multipart, is_pinned
from docstore_upload.service_layer.common import UploadContext

log = structlog.get_logger(__name__)


class Endings:
    def __init__(self, context: UploadContext) -> None:
        self.context = context

    async def abort(self, account_id: str, upload_id: str) -> Session:
        reads, storage = self.context.reads, self.context.storage
        row = await reads.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if row["status"] != PENDING:
            return row
        if is_multipart(row):
            await storage.abort_multipart(row["key"], row["s3_upload_id"])
        await self.context.uow.run(lambda tx: tx.repos.sessions.finish(upload_id, ABORTED))
        self.context.awaiting.forget(upload_id)
        await self.discard(row)
        return await reads.sessions.by_id(upload_id) or row

    async def reject(self, row: Session, reason: str) -> None:
        """End a pending upload as rejected and drop whatever it stored; nothing is recorded."""
        storage = self.context.storage
        if is_multipart(row):
            await storage.abort_multipart(row["key"], row["s3_upload_id"])
        rejected = await self.context.uow.run(lambda tx: tx.repos.sessions.finish(row["_id"], REJECTED, reason=reason))
        self.context.awaiting.forget(row["_id"])
        if not rejected:
            return  # another path finished it first: its bytes are not ours to drop
        await storage.delete(row["key"])
        await self.discard(row)
        log.warning("upload_rejected", upload_id=row["_id"], account_id=row["account_id"], reason=reason)

    async def discard(self, row: Session) -> None:
        """Drop the staging object and give the reserved room back (both best effort: the late-write
        sweep and quota's own expiry catch what is missed here)."""
        try:
            if row.get("staging_key"):
                await self.context.storage.delete(row["staging_key"])
            elif is_pinned(row):  # its form wrote the version's key: no version holds it
                await self.context.storage.delete(row["key"])
            await self.context.quota.release(row["account_id"], row["_id"])
        except Exception:
            log.warning("upload_discard_incomplete", upload_id=row["_id"], exc_info=True)

    async def close_account(self, account_id: str) -> int:
        """`account.deleted`: every pending upload of the account (to its documents, or asked for by
        it as an editor) is rejected and its bytes and reservation dropped, so nothing it started
        becomes a version after the deletion. Idempotent: a redelivery finds none pending. How many."""
        closed = 0
        for row in await self.context.reads.sessions.pending_of(account_id):
            await self.reject(row, "the account was deleted")
            closed += 1
        return closed
