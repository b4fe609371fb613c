"""Indexing rules: who is indexed, which upload wins, what is emitted.

Slow work (reading S3, extracting text) happens before the transaction; the search-index
write, the `indexed` record and the outgoing event happen inside the effect that the
consumer runs through `apply_once`. Index writes are idempotent (upsert by id, delete by
id or filter), so an effect that runs again after a crash, or whose transaction retries,
leaves the same index behind; once the transaction committed, the index write is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from motor.motor_asyncio import AsyncIOMotorClientSession

from docstore_events import DocumentIndexed, DocumentIndexFailed, UploadCompleted
from docstore_events.outbox import Outbox
from docstore_indexer.adapters.object_store import ObjectMissing, ObjectStore
from docstore_indexer.adapters.repositories import IndexedRepository, PlansRepository
from docstore_indexer.adapters.search_index import IndexEntry, SearchIndex
from docstore_indexer.domain.extraction import ExtractionFailed, extract_text, is_extractable
from docstore_indexer.domain.plans import PlanRecord, has_full_text, supersedes
from docstore_indexer.domain.versions import IndexedState, Upload, decide

log = structlog.get_logger(__name__)

Effect = Callable[[AsyncIOMotorClientSession], Awaitable[None]]

INDEXED, FAILED = "indexed", "failed"


@dataclass(frozen=True)
class Limits:
    max_extract_bytes: int
    extract_timeout_seconds: float
    max_text_chars: int


@dataclass(frozen=True)
class Extracted:
    text: str
    failure: str = ""


class Indexer:
    def __init__(
        self,
        *,
        plans: PlansRepository,
        indexed: IndexedRepository,
        index: SearchIndex,
        objects: ObjectStore,
        outbox: Outbox,
        limits: Limits,
    ) -> None:
        self.plans = plans
        self.indexed = indexed
        self.index = index
        self.objects = objects
        self.outbox = outbox
        self.limits = limits

    # Plans ----------------------------------------------------------------------------

    async def plan_of(self, account_id: str) -> str | None:
        record = await self.plans.get(account_id)
        return record.plan if record else None

    async def record_plan(self, account_id: str, plan: str, as_of: datetime, session: AsyncIOMotorClientSession) -> None:
        """Keep the account's plan (the later fact wins); leaving Premium drops its full text."""
        stored = await self.plans.get(account_id, session)
        if not supersedes(stored, as_of):
            return
        await self.plans.put(PlanRecord(account_id, plan, as_of), session)
        if stored is not None and has_full_text(stored.plan) and not has_full_text(plan):
            removed = await self.index.delete_account(account_id)
            await self.indexed.delete_account(account_id, session)
            if removed:
                log.info("account_full_text_dropped", account_id=account_id, documents=removed)

    # Uploads --------------------------------------------------------------------------

    async def prepare_upload(self, event: UploadCompleted, at: datetime) -> Effect | None:
        """Extract the upload's text and return the effect that indexes it; None when nothing is to do."""
        if not has_full_text(await self.plan_of(event.account_id)):
            return None
        upload = Upload(upload_id=event.upload_id, uploaded_at=at, version=getattr(event, "version", None))
        decision = decide(await self.indexed.get(event.account_id, event.document_id), upload)
        if not decision.index:
            log.info("upload_not_indexed", document_id=event.document_id, upload_id=event.upload_id,
                     reason=decision.reason)
            return None
        extracted = await self.extract(event)

        async def effect(session: AsyncIOMotorClientSession) -> None:
            # Decide again inside the transaction: the record may have moved since the check above.
            current = decide(await self.indexed.get(event.account_id, event.document_id, session), upload)
            if current.index:
                await self._index(event, upload, current.version, extracted, session)

        return effect

    async def extract(self, event: UploadCompleted) -> Extracted:
        """The object's text, bounded in size and time; a failure says why instead of raising."""
        if not is_extractable(event.content_type):
            return Extracted("")  # indexed by name, tags and type only
        limit = self.limits.max_extract_bytes
        if event.size > limit:
            return Extracted("", f"too large to extract: {event.size} bytes, limit {limit}")
        try:
            data = await self.objects.read(event.bucket, event.key, limit=limit + 1)
        except ObjectMissing as error:
            return Extracted("", f"object missing: {error}")
        if len(data) > limit:
            return Extracted("", f"too large to extract: more than {limit} bytes")
        try:
            # The worker thread can't be stopped; on timeout it is abandoned and its result dropped.
            text = await asyncio.wait_for(
                asyncio.to_thread(extract_text, data, event.content_type), timeout=self.limits.extract_timeout_seconds
            )
        except TimeoutError:
            return Extracted("", f"extraction timed out after {self.limits.extract_timeout_seconds:g} s")
        except ExtractionFailed as error:
            return Extracted("", str(error))
        return Extracted(text[: self.limits.max_text_chars])

    async def _index(
        self, event: UploadCompleted, upload: Upload, version: int, extracted: Extracted,
        session: AsyncIOMotorClientSession,
    ) -> None:
        await self.index.upsert(IndexEntry(
            account_id=event.account_id,
            document_id=event.document_id,
            version=version,
            name=event.title or event.filename,
            tags=list(event.tags),
            content_type=event.content_type,
            created_at=int(upload.uploaded_at.timestamp()),
            text=extracted.text,
        ))
        status = FAILED if extracted.failure else INDEXED
        await self.indexed.put(IndexedState(
            account_id=event.account_id, document_id=event.document_id, upload_id=event.upload_id,
            version=version, uploaded_at=upload.uploaded_at, status=status,
        ), session)
        if extracted.failure:
            log.warning("document_index_failed", document_id=event.document_id, reason=extracted.failure)
            outgoing = DocumentIndexFailed(
                account_id=event.account_id, document_id=event.document_id, version=version, reason=extracted.failure
            )
        else:
            outgoing = DocumentIndexed(
                account_id=event.account_id, document_id=event.document_id, version=version,
                characters=len(extracted.text),
            )
        await self.outbox.add(outgoing, session=session, subject=event.document_id)

    # Deletions ------------------------------------------------------------------------

    async def forget_document(self, account_id: str, document_id: str, session: AsyncIOMotorClientSession) -> None:
        """The document is gone: out of the index and out of our records."""
        await self.index.delete(account_id, document_id)
        await self.indexed.delete(account_id, document_id, session)
