"""Use cases of documents: record an upload (and index it on Premium), follow renames, trash
and deletes, and index one document for a backfill.

Slow work (reading S3, extracting text) happens before the unit of work; the search-index
write, the catalog entry and the outgoing event happen inside it, applied once per event
(`run_once`), or for a backfill in one transaction with the job's progress. Index writes
are idempotent (upsert by id, partial update by id, delete by id or filter), so a unit of
work that runs again after a crash, or whose transaction retries, leaves the same index
behind; and they happen before the commit, so a committed catalog entry never claims an
index write that was not done. Every unit of work decides again from the catalog as read
inside its transaction, so two replicas (or a handler and a backfill) racing on one document
serialise on its entry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from docstore_events import DocumentIndexed, DocumentIndexFailed, FileVersionRecorded
from docstore_events.unit_of_work import Transaction, UnitOfWork
from docstore_indexer.adapters.object_store import ObjectMissing
from docstore_indexer.adapters.search_index import IndexEntry
from docstore_indexer.domain import catalog as rules
from docstore_indexer.domain.catalog import CatalogEntry, NewUpload
from docstore_indexer.domain.extraction import Extracted, ExtractionFailed, Limits, after_reading, before_reading, cut
from docstore_indexer.domain.plans import has_full_text
from docstore_indexer.service_layer.ports import Extractor, Index, Objects, Repos

log = structlog.get_logger(__name__)

INDEXED, FAILED = "indexed", "failed"


def new_upload(event: FileVersionRecorded, at: datetime) -> NewUpload:
    return NewUpload(
        account_id=event.account_id,
        document_id=event.document_id,
        upload_id=event.upload_id,
        at=at,
        bucket=event.bucket,
        key=event.key,
        content_type=event.content_type,
        size=event.size,
        name=event.title or event.filename,
        path=event.path or "/",
        tags=tuple(event.tags),
        version=event.version,
    )


async def plan_in(tx: Transaction[Repos], account_id: str) -> str | None:
    record = await tx.repos.plans.get(account_id)
    return record.plan if record else None


class Indexing:
    def __init__(
        self,
        *,
        uow: UnitOfWork[Repos],
        reads: Repos,
        index: Index,
        objects: Objects,
        extractor: Extractor,
        limits: Limits,
        consumer: str,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.index = index
        self.objects = objects
        self.extractor = extractor
        self.limits = limits
        self.consumer = consumer

    # Uploads --------------------------------------------------------------------------

    async def record_upload(self, event: FileVersionRecorded, *, at: datetime, event_id: str) -> bool:
        """Catalog the upload (every plan, for a later backfill) and, on Premium, index its text.

        The text is extracted first, outside the transaction (Premium only); nothing happens
        when the upload is not the document's newest. False when nothing was applied."""
        upload = new_upload(event, at)
        outcome = rules.on_upload(await self.reads.catalog.get(event.account_id, event.document_id), upload)
        if not outcome.changed or outcome.entry is None:
            log.info(
                "upload_not_indexed", document_id=event.document_id, upload_id=event.upload_id, reason=outcome.reason
            )
            return False
        plan = await self.reads.plans.get(event.account_id)
        extracted = await self.extract(outcome.entry) if plan and has_full_text(plan.plan) else None

        async def work(tx: Transaction[Repos]) -> None:
            # Decide again inside the transaction: the entry may have moved since the check above.
            current = rules.on_upload(await tx.repos.catalog.get(event.account_id, event.document_id), upload)
            if not current.changed or current.entry is None:
                return
            entry = current.entry
            if extracted is not None and has_full_text(await plan_in(tx, event.account_id)):
                entry = await self.index_entry(tx, entry, extracted)
            await tx.repos.catalog.put(entry)

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def extract(self, entry: CatalogEntry) -> Extracted:
        """The object's text, bounded in size and time; a failure says why instead of raising."""
        known = before_reading(entry.content_type, entry.size, self.limits)
        if known is not None:
            return known
        try:
            data = await self.objects.read(entry.bucket, entry.key, limit=self.limits.max_extract_bytes + 1)
        except ObjectMissing as error:
            return Extracted("", f"object missing: {error}")
        too_large = after_reading(data, self.limits)
        if too_large is not None:
            return too_large
        try:
            text = await self.extractor.extract(data, entry.content_type, self.limits.extract_timeout_seconds)
        except ExtractionFailed as error:
            return Extracted("", str(error))
        return cut(text, self.limits)

    async def index_entry(self, tx: Transaction[Repos], entry: CatalogEntry, extracted: Extracted) -> CatalogEntry:
        """Upsert the entry's text and details; returns the entry marked as indexed. Emits the outcome."""
        assert entry.uploaded_at is not None and entry.upload_id is not None
        await self.index.upsert(
            IndexEntry(
                account_id=entry.account_id,
                document_id=entry.document_id,
                version=entry.version,
                name=entry.name,
                tags=list(entry.tags),
                content_type=entry.content_type,
                created_at=int(entry.uploaded_at.timestamp()),
                text=extracted.text,
                path=entry.path,
                trashed=entry.trashed,
            )
        )
        outgoing: DocumentIndexed | DocumentIndexFailed
        if extracted.failed:
            log.warning("document_index_failed", document_id=entry.document_id, reason=extracted.failure)
            outgoing = DocumentIndexFailed(
                account_id=entry.account_id,
                document_id=entry.document_id,
                version=entry.version,
                reason=extracted.failure,
            )
        else:
            outgoing = DocumentIndexed(
                account_id=entry.account_id,
                document_id=entry.document_id,
                version=entry.version,
                characters=len(extracted.text),
            )
        tx.emit(outgoing, subject=entry.document_id)
        return replace(entry, indexed_upload_id=entry.upload_id, index_status=FAILED if extracted.failed else INDEXED)

    # Details, trash, deletion ---------------------------------------------------------

    async def change_details(
        self,
        account_id: str,
        document_id: str,
        *,
        name: str,
        path: str,
        tags: list[str],
        at: datetime,
        event_id: str,
    ) -> bool:
        """Renamed, moved or re-tagged: the catalog and (if it is there) the index entry follow."""

        async def work(tx: Transaction[Repos]) -> None:
            stored = await tx.repos.catalog.get(account_id, document_id)
            outcome = rules.on_details(stored, account_id, document_id, name=name, path=path, tags=tuple(tags), at=at)
            await self._apply(tx, outcome, {"name": name, "path": path, "tags": list(tags)})

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def set_trashed(
        self, account_id: str, document_id: str, *, trashed: bool, at: datetime, event_id: str
    ) -> bool:
        """Trashed documents stay in the index, hidden from every search; restoring shows them again."""

        async def work(tx: Transaction[Repos]) -> None:
            stored = await tx.repos.catalog.get(account_id, document_id)
            outcome = rules.on_trash(stored, account_id, document_id, trashed=trashed, at=at)
            await self._apply(tx, outcome, {"trashed": trashed})

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def _apply(self, tx: Transaction[Repos], outcome: rules.Outcome, fields: dict[str, Any]) -> None:
        if not outcome.changed or outcome.entry is None:
            return
        entry = outcome.entry
        if entry.is_indexed and not await self.index.update(entry.account_id, entry.document_id, fields):
            entry = replace(entry, indexed_upload_id=None, index_status="")  # gone from the index meanwhile
        await tx.repos.catalog.put(entry)

    async def forget_document(self, account_id: str, document_id: str, *, at: datetime, event_id: str) -> bool:
        """The document is gone: out of the index; the catalog keeps a tombstone."""

        async def work(tx: Transaction[Repos]) -> None:
            await self.index.delete(account_id, document_id)
            stored = await tx.repos.catalog.get(account_id, document_id)
            outcome = rules.on_delete(stored, account_id, document_id, at)
            if outcome.changed and outcome.entry is not None:
                await tx.repos.catalog.put(outcome.entry)

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    # Backfill -------------------------------------------------------------------------

    async def backfill_one(self, tx: Transaction[Repos], entry: CatalogEntry, extracted: Extracted | None) -> bool:
        """Inside a backfill step's transaction: index `entry` with its `extracted` text if it is
        still the document's current upload, not yet indexed, and the account still on Premium.
        False when it did nothing (`extracted` None: it was already current when read)."""
        current = await tx.repos.catalog.get(entry.account_id, entry.document_id)
        if (
            extracted is None
            or current is None
            or not rules.searchable(current)
            or current.upload_id != entry.upload_id
            or current.index_is_current
            or not has_full_text(await plan_in(tx, entry.account_id))
        ):
            return False
        await tx.repos.catalog.put(await self.index_entry(tx, current, extracted))
        return True
