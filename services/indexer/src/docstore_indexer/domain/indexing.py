"""Indexing rules: who is indexed, which upload wins, what is emitted.

Slow work (reading S3, extracting text) happens before the transaction; the search-index
write, the catalog entry and the outgoing event happen inside the effect that the
consumer runs through `apply_once` (or, for a backfill, inside one transaction with the
job's progress). Index writes are idempotent (upsert by id, partial update by id, delete
by id or filter), so an effect that runs again after a crash, or whose transaction
retries, leaves the same index behind; once the transaction committed, the write is done.
Every effect decides again from the catalog as read inside its transaction, so two
replicas (or a handler and a backfill) racing on one document serialise on its entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from docstore_events import DocumentIndexed, DocumentIndexFailed, FileVersionRecorded
from docstore_events.outbox import Outbox
from docstore_indexer.adapters.object_store import ObjectMissing, ObjectStore
from docstore_indexer.adapters.repositories import BackfillRepository, CatalogRepository, PlansRepository
from docstore_indexer.adapters.search_index import IndexEntry, SearchIndex
from docstore_indexer.domain import catalog as rules
from docstore_indexer.domain.catalog import CatalogEntry, NewUpload
from docstore_indexer.domain.extraction import ExtractionFailed, is_extractable
from docstore_indexer.domain.plans import PlanRecord, has_full_text, supersedes

log = structlog.get_logger(__name__)

Effect = Callable[[AsyncClientSession], Awaitable[None]]

INDEXED, FAILED = "indexed", "failed"


class Extractor(Protocol):
    async def extract(self, data: bytes, content_type: str, timeout: float) -> str: ...


@dataclass(frozen=True)
class Limits:
    max_extract_bytes: int
    extract_timeout_seconds: float
    max_text_chars: int


@dataclass(frozen=True)
class Extracted:
    text: str
    failure: str = ""


def new_upload(event: FileVersionRecorded, at: datetime) -> NewUpload:
    return NewUpload(
        account_id=event.account_id, document_id=event.document_id, upload_id=event.upload_id, at=at,
        bucket=event.bucket, key=event.key, content_type=event.content_type, size=event.size,
        name=event.title or event.filename, path=event.path or "/", tags=tuple(event.tags),
        version=event.version,
    )


class Indexer:
    def __init__(
        self,
        *,
        plans: PlansRepository,
        catalog: CatalogRepository,
        backfills: BackfillRepository,
        index: SearchIndex,
        objects: ObjectStore,
        extractor: Extractor,
        outbox: Outbox,
        limits: Limits,
        on_backfill_started: Callable[[], None] = lambda: None,
    ) -> None:
        self.plans = plans
        self.catalog = catalog
        self.backfills = backfills
        self.index = index
        self.objects = objects
        self.extractor = extractor
        self.outbox = outbox
        self.limits = limits
        self.on_backfill_started = on_backfill_started

    # Plans ----------------------------------------------------------------------------

    async def plan_of(self, account_id: str) -> str | None:
        record = await self.plans.get(account_id)
        return record.plan if record else None

    async def record_plan(
        self, account_id: str, plan: str, as_of: datetime, session: AsyncClientSession, *,
        upgrade: bool = False,
    ) -> None:
        """Keep the account's plan (the later fact wins).

        Leaving Premium drops the account's full text (and stops its backfill); an upgrade to
        Premium (`upgrade`: an `account.plan-changed` to Premium) starts a backfill of every
        document the catalog holds for the account.
        """
        stored = await self.plans.get(account_id, session)
        if not supersedes(stored, as_of):
            return
        await self.plans.put(PlanRecord(account_id, plan, as_of), session)
        was_premium = stored is not None and has_full_text(stored.plan)
        if was_premium and not has_full_text(plan):
            removed = await self.index.delete_account(account_id)
            await self.catalog.forget_index(account_id, session)
            await self.backfills.cancel(account_id, as_of, session)
            log.info("account_full_text_dropped", account_id=account_id, documents=removed)
        elif upgrade and has_full_text(plan) and not was_premium:
            total = await self.catalog.count_live(account_id, session)
            await self.backfills.start(account_id, uuid.uuid4().hex, total, as_of, session)
            log.info("backfill_started", account_id=account_id, documents=total)
            self.on_backfill_started()

    # Uploads --------------------------------------------------------------------------

    async def prepare_upload(self, event: FileVersionRecorded, at: datetime) -> Effect | None:
        """Extract the upload's text (Premium only) and return the effect that records and indexes it.

        Every account's uploads go into the catalog (for a later backfill); None when the
        upload is not the document's newest.
        """
        upload = new_upload(event, at)
        outcome = rules.on_upload(await self.catalog.get(event.account_id, event.document_id), upload)
        if not outcome.changed or outcome.entry is None:
            log.info("upload_not_indexed", document_id=event.document_id, upload_id=event.upload_id,
                     reason=outcome.reason)
            return None
        extracted = await self.extract(outcome.entry) if has_full_text(await self.plan_of(event.account_id)) else None

        async def effect(session: AsyncClientSession) -> None:
            # Decide again inside the transaction: the entry may have moved since the check above.
            current = rules.on_upload(await self.catalog.get(event.account_id, event.document_id, session), upload)
            if not current.changed or current.entry is None:
                return
            entry = current.entry
            if extracted is not None and has_full_text(await self._plan(event.account_id, session)):
                entry = await self._index(entry, extracted, session)
            await self.catalog.put(entry, session)

        return effect

    async def _plan(self, account_id: str, session: AsyncClientSession) -> str | None:
        record = await self.plans.get(account_id, session)
        return record.plan if record else None

    async def extract(self, entry: CatalogEntry) -> Extracted:
        """The object's text, bounded in size and time; a failure says why instead of raising."""
        if not is_extractable(entry.content_type):
            return Extracted("")  # indexed by name, tags and type only
        limit = self.limits.max_extract_bytes
        if entry.size > limit:
            return Extracted("", f"too large to extract: {entry.size} bytes, limit {limit}")
        try:
            data = await self.objects.read(entry.bucket, entry.key, limit=limit + 1)
        except ObjectMissing as error:
            return Extracted("", f"object missing: {error}")
        if len(data) > limit:
            return Extracted("", f"too large to extract: more than {limit} bytes")
        try:
            text = await self.extractor.extract(data, entry.content_type, self.limits.extract_timeout_seconds)
        except ExtractionFailed as error:
            return Extracted("", str(error))
        return Extracted(text[: self.limits.max_text_chars])

    async def _index(self, entry: CatalogEntry, extracted: Extracted, session: AsyncClientSession) -> CatalogEntry:
        """Upsert the entry's text and details; returns the entry marked as indexed. Emits the outcome."""
        assert entry.uploaded_at is not None and entry.upload_id is not None
        await self.index.upsert(IndexEntry(
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
        ))
        status = FAILED if extracted.failure else INDEXED
        outgoing: DocumentIndexed | DocumentIndexFailed
        if extracted.failure:
            log.warning("document_index_failed", document_id=entry.document_id, reason=extracted.failure)
            outgoing = DocumentIndexFailed(
                account_id=entry.account_id, document_id=entry.document_id, version=entry.version,
                reason=extracted.failure,
            )
        else:
            outgoing = DocumentIndexed(
                account_id=entry.account_id, document_id=entry.document_id, version=entry.version,
                characters=len(extracted.text),
            )
        await self.outbox.add(outgoing, session=session, subject=entry.document_id)
        return replace(entry, indexed_upload_id=entry.upload_id, index_status=status)

    # Details, trash, deletion ---------------------------------------------------------

    async def change_details(
        self, account_id: str, document_id: str, *, name: str, path: str, tags: list[str], at: datetime,
        session: AsyncClientSession,
    ) -> None:
        """Renamed, moved or re-tagged: the catalog and (if it is there) the index entry follow."""
        stored = await self.catalog.get(account_id, document_id, session)
        outcome = rules.on_details(stored, account_id, document_id, name=name, path=path, tags=tuple(tags), at=at)
        await self._apply(outcome, {"name": name, "path": path, "tags": list(tags)}, session)

    async def set_trashed(
        self, account_id: str, document_id: str, *, trashed: bool, at: datetime, session: AsyncClientSession
    ) -> None:
        """Trashed documents stay in the index, hidden from every search; restoring shows them again."""
        stored = await self.catalog.get(account_id, document_id, session)
        outcome = rules.on_trash(stored, account_id, document_id, trashed=trashed, at=at)
        await self._apply(outcome, {"trashed": trashed}, session)

    async def _apply(self, outcome: rules.Outcome, fields: dict[str, Any], session: AsyncClientSession) -> None:
        if not outcome.changed or outcome.entry is None:
            return
        entry = outcome.entry
        if entry.is_indexed and not await self.index.update(entry.account_id, entry.document_id, fields):
            entry = replace(entry, indexed_upload_id=None, index_status="")  # gone from the index meanwhile
        await self.catalog.put(entry, session)

    async def forget_document(
        self, account_id: str, document_id: str, session: AsyncClientSession, *, at: datetime | None = None
    ) -> None:
        """The document is gone: out of the index; the catalog keeps a tombstone."""
        await self.index.delete(account_id, document_id)
        stored = await self.catalog.get(account_id, document_id, session)
        outcome = rules.on_delete(stored, account_id, document_id, at or datetime.now(UTC))
        if outcome.changed and outcome.entry is not None:
            await self.catalog.put(outcome.entry, session)

    # Backfill -------------------------------------------------------------------------

    async def prepare_backfill(self, entry: CatalogEntry) -> tuple[Extracted | None, Callable[..., Awaitable[bool]]]:
        """Extract one catalog entry for a backfill; the returned effect indexes it if still current.

        The effect answers whether it indexed (False: already current, superseded, or the
        account left Premium).
        """
        extracted = None if entry.index_is_current else await self.extract(entry)

        async def effect(session: AsyncClientSession) -> bool:
            current = await self.catalog.get(entry.account_id, entry.document_id, session)
            if (extracted is None or current is None or not rules.searchable(current)
                    or current.upload_id != entry.upload_id or current.index_is_current
                    or not has_full_text(await self._plan(entry.account_id, session))):
                return False
            await self.catalog.put(await self._index(current, extracted, session), session)
            return True

        return extracted, effect

    async def status(self, account_id: str) -> dict[str, Any]:
        """Backfill progress: {state, indexed, failed, total, started_at, finished_at}."""
        job = await self.backfills.get(account_id)
        if job is None or job.state == "cancelled":
            total = await self.catalog.count_live(account_id)
            return {"state": "idle", "indexed": await self.catalog.count_indexed(account_id), "failed": 0,
                    "total": total, "started_at": None, "finished_at": None}
        return {
            "state": "backfilling" if job.state == "running" else job.state,
            "indexed": job.indexed, "failed": job.failed, "total": job.total,
            "started_at": job.started_at, "finished_at": job.finished_at,
        }
