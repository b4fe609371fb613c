"""Many completions at once (issue 35: the cost of one file): up to `MAX_BATCH` uploads granted by
`batch_grants` (or singly) completed in one request; form uploads read back side by side and
recorded in one transaction with their events; an item's refusal is that item's alone."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from docstore_kit.errors import DomainError
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.consistency import completed_event_id
from docstore_upload.domain.errors import UploadNotFound
from docstore_upload.domain.grants import check_batch
from docstore_upload.domain.sessions import (
    COMPLETED,
    PENDING,
    SentBytes,
    Session,
    StoredObject,
    completed,
    is_multipart,
    stored_facts,
)
from docstore_upload.service_layer.common import BATCH_S3_CONCURRENCY, UploadContext, item_outcome
from docstore_upload.service_layer.completion import Completion, FinishedElsewhere

log = structlog.get_logger(__name__)


class BatchCompletion:
    def __init__(self, context: UploadContext, completion: Completion) -> None:
        self.context = context
        self.completion = completion

    async def complete_many(
        self, account_id: str, upload_ids: list[str], sent: Mapping[str, SentBytes] | None = None
    ) -> dict[str, Session | DomainError]:
        """`Completion.complete` for many uploads of `account_id`, one result per distinct id: the
        session (completed, or `verifying` for a multipart upload), or that item's refusal. Ids the
        account did not ask for are not found, whoever's they are. Form uploads are copied and
        read back from S3 side by side, then recorded with their `upload.completed` in one
        transaction; staging objects are deleted afterwards with one S3 request. `sent`: the
        WebDAV service's word on multipart uploads' bytes, by upload id (`Completion.complete`)."""
        sent = sent or {}
        ctx = self.context
        check_batch(len(upload_ids))
        wanted = list(dict.fromkeys(upload_ids))
        rows = await ctx.reads.sessions.get_many(account_id, wanted)
        results: dict[str, Session | DomainError] = {}
        forms: list[Session] = []
        for upload_id in wanted:
            row = rows.get(upload_id)
            if row is None:
                results[upload_id] = UploadNotFound(upload_id)
            elif row["status"] == PENDING and not is_multipart(row):
                forms.append(row)
        single = [u for u in wanted if u in rows and rows[u] not in forms]

        async def alone(upload_id: str) -> None:
            # Multipart, completed or closed: the single path answers it (usually at once).
            results[upload_id] = await item_outcome(
                self.completion.complete(account_id, upload_id, sent.get(upload_id))
            )

        limit = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def fetch(row: Session) -> tuple[Session, StoredObject] | None:
            async with limit:
                outcome = await item_outcome(self._read_back_unless_finished(row))
            if isinstance(outcome, DomainError | dict):  # refused, or finished meanwhile: its session
                results[row["_id"]] = outcome
                return None
            return row, outcome

        fetched = await asyncio.gather(*(fetch(row) for row in forms), *(alone(u) for u in single))
        ready = [item for item in fetched[: len(forms)] if item is not None]
        if ready:
            results |= await self._record(account_id, ready)
        return {upload_id: results[upload_id] for upload_id in wanted}

    async def _read_back_unless_finished(self, row: Session) -> StoredObject | Session:
        """`Completion.read_back`, or the upload's session when another path (the watcher)
        finished it meanwhile."""
        try:
            return await self.completion.read_back(row)
        except FinishedElsewhere as finished:
            return await self.completion.complete_row(finished.row)

    async def _record(self, account_id: str, ready: list[tuple[Session, StoredObject]]) -> dict[str, Session]:
        """The read-back forms recorded in one transaction, each with its `upload.completed`."""
        ctx = self.context
        facts = {row["_id"]: (row, stored_facts(stored)) for row, stored in ready}
        stored_by_id = {row["_id"]: stored for row, stored in ready}

        async def record(tx: Transaction[Repositories]) -> list[str]:
            changed = await tx.repos.sessions.complete_many(facts)
            for upload_id in changed:
                tx.emit(
                    completed(facts[upload_id][0], stored_by_id[upload_id], bucket=ctx.storage.bucket),
                    event_id=completed_event_id(upload_id),  # kept on the session by complete_many
                )
            return changed

        changed = set(await ctx.uow.run(record))
        # Off the caller's path: what is missed here, the late-write sweep deletes.
        staged = [row["staging_key"] for row, _ in ready if row.get("staging_key")]
        if staged:
            ctx.in_background(self._delete_staging(staged))
        # Recorded by this call: answered from what it wrote; by another path meanwhile: read.
        others = [row["_id"] for row, _ in ready if row["_id"] not in changed]
        recorded = await ctx.reads.sessions.get_many(account_id, others) if others else {}
        return {
            upload_id: {**row, "status": COMPLETED, "stored": facts_of}
            if upload_id in changed
            else recorded.get(upload_id, row)
            for upload_id, (row, facts_of) in facts.items()
        }

    async def _delete_staging(self, keys: list[str]) -> None:
        try:
            await self.context.storage.delete_many(keys)
        except Exception:
            log.warning("upload_staging_delete_failed", count=len(keys), exc_info=True)
