"""Use cases of documents: record an upload (and, on Premium, mark it due), index due uploads
in batches, follow renames, trash and deletes, and index one document for a backfill.

Recording an upload is quick (one transaction, `run_once`): the catalog entry is marked
`index_due`. The `IndexingWorker` then indexes due entries in batches: `prepare` reads S3 and
extracts outside any transaction (several documents at once, in the worker processes),
`commit` sends one Typesense import and one transaction for the whole batch (catalog entries
and outgoing events). A backfill step indexes one document in one transaction with the
job's progress. Index writes
are idempotent (upsert by id, partial update by id, delete by id or filter), so a unit of
work that runs again after a crash, or whose transaction retries, leaves the same index
behind; and they happen before the commit, so a committed catalog entry never claims an
index write that was not done. Every unit of work decides again from the catalog as read
inside its transaction, so two replicas (or a handler and a backfill) racing on one document
serialise on its entry.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog

from docstore_events import DocumentIndexed, DocumentIndexFailed, FileVersionRecorded
from docstore_indexer.adapters.object_store import ObjectMissing
from docstore_indexer.adapters.search_index import IndexEntry
from docstore_indexer.domain import catalog as rules
from docstore_indexer.domain.catalog import FAILED, INDEXED, CatalogEntry, NewUpload, entry_id
from docstore_indexer.domain.extraction import Extracted, ExtractionFailed, Limits, after_reading, before_reading, cut
from docstore_indexer.domain.plans import has_full_text
from docstore_indexer.service_layer.outcomes import Outcomes, index_outcomes
from docstore_indexer.service_layer.ports import Extractor, Index, Objects, Repos
from docstore_messaging.tracing import continue_trace, current_traceparent, link_to, traceparent_for
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A batch of due entries read and extracted, ready for `Indexing.commit`."""

    ids: list[str]
    done: dict[str, tuple[CatalogEntry, Extracted]] = field(default_factory=dict)
    """Entry id → the entry as read and its text (only entries due, live and on Premium)."""


def _visible(entry: CatalogEntry) -> dict[str, Any]:
    """The catalog fields the search index holds besides the text (they may change meanwhile)."""
    return {"name": entry.name, "path": entry.path, "tags": list(entry.tags), "trashed": entry.trashed}


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
        self.on_due: Callable[[CatalogEntry], None] = lambda entry: None
        """Called with an entry once the transaction that made it due has committed (the worker's `enqueue_entry`)."""

    # Uploads --------------------------------------------------------------------------

    async def record_upload(self, event: FileVersionRecorded, *, at: datetime, event_id: str) -> bool:
        """Catalog the upload (every plan, for a later backfill); on Premium mark it due for indexing.

        Nothing slow happens here: the text is extracted and indexed by `prepare`/`commit`
        (the `IndexingWorker`), in batches, outside the consumer. The due mark is committed
        with the processed-event record, so a crash after it loses nothing: the worker finds
        due entries again when it starts. False when nothing was applied (a redelivery, or
        an upload that is not the document's newest)."""
        return await self.record_uploads([(event_id, event, at)]) > 0

    async def record_uploads(self, uploads: list[tuple[str, FileVersionRecorded, datetime]]) -> int:
        """`record_upload` for a batch of (event id, event, time), in one transaction with their
        processed-event records (`run_once_each`): one read of the entries and plans, one bulk
        write. Applied in the order given (a partition's order: one document's uploads in the
        order they were sent). Returns how many changed an entry."""
        ids = list(dict.fromkeys(entry_id(event.account_id, event.document_id) for _, event, _ in uploads))
        changed: dict[str, CatalogEntry] = {}

        async def work(tx: Transaction[Repos], fresh: frozenset[str]) -> None:
            changed.clear()
            entries: dict[str, CatalogEntry | None] = dict(await tx.repos.catalog.get_many(ids))
            full_text: dict[str, bool] = {}
            for event_id, event, at in uploads:
                if event_id not in fresh:
                    continue  # processed before
                key = entry_id(event.account_id, event.document_id)
                outcome = rules.on_upload(entries.get(key), new_upload(event, at))
                if not outcome.changed or outcome.entry is None:
                    log.info(
                        "upload_not_indexed",
                        document_id=event.document_id,
                        upload_id=event.upload_id,
                        reason=outcome.reason,
                    )
                    continue
                if event.account_id not in full_text:
                    full_text[event.account_id] = has_full_text(await plan_in(tx, event.account_id))
                entries[key] = changed[key] = replace(
                    outcome.entry,
                    index_due=full_text[event.account_id],
                    traceparent=traceparent_for(event_id) or "",
                )
            await tx.repos.catalog.put_many(list(changed.values()))
            for entry in changed.values():
                if entry.index_due:
                    tx.after_commit(functools.partial(self.on_due, entry))

        await self.uow.run_once_each(consumer=self.consumer, event_ids=[i for i, _, _ in uploads], work=work)
        return len(changed)

    async def to_extract(self, ids: list[str]) -> list[CatalogEntry]:
        """The entries among `ids` that are due, live and on Premium, as read now (one query,
        outside any transaction: `commit` decides again)."""
        entries = await self.reads.catalog.get_many(ids)
        full_text: dict[str, bool] = {}
        todo: list[CatalogEntry] = []
        for entry in entries.values():
            if not entry.index_due or not rules.searchable(entry):
                continue
            if entry.account_id not in full_text:
                record = await self.reads.plans.get(entry.account_id)
                full_text[entry.account_id] = has_full_text(record.plan if record else None)
            if full_text[entry.account_id]:
                todo.append(entry)
        return todo

    async def prepare(self, ids: list[str]) -> Prepared:
        """`to_extract`, then every one of them extracted (at once: the extractor pool bounds
        how many run together)."""
        todo = await self.to_extract(ids)
        extracted = await asyncio.gather(*(self.extract(entry) for entry in todo))
        done = {entry.id: (entry, text) for entry, text in zip(todo, extracted, strict=True)}
        return Prepared(ids=list(ids), done=done)

    async def commit(self, prepared: Prepared) -> list[str]:
        """Index a prepared batch: one Typesense import, then one transaction that marks the
        entries indexed and emits their outcomes. Returns the ids still due (a newer upload
        arrived meanwhile), for another round.

        The import happens before the transaction (idempotent upserts): a committed entry
        never claims an index write that was not done, and a crash in between leaves the
        entries due, to be imported again. The transaction re-reads every entry and the
        plan: a document deleted or an account that left Premium meanwhile is removed from
        the index again; details changed meanwhile are patched."""
        entries = {key: self.search_entry(entry, text) for key, (entry, text) in prepared.done.items()}
        refused = await self.index.upsert_many(list(entries.values()))
        still_due: list[str] = []

        async def work(tx: Transaction[Repos]) -> None:
            still_due.clear()
            outcomes = index_outcomes()
            currents = await tx.repos.catalog.get_many(prepared.ids)
            full_text: dict[str, bool] = {}
            puts: list[CatalogEntry] = []
            for key in prepared.ids:
                current = currents.get(key)
                if current is None:
                    continue
                if current.account_id not in full_text:
                    full_text[current.account_id] = has_full_text(await plan_in(tx, current.account_id))
                done = prepared.done.get(key)
                if not rules.searchable(current) or not full_text[current.account_id]:
                    # Deleted, or the account left Premium, since it was read: what was just imported goes again.
                    if done is not None:
                        await self.index.delete(current.account_id, current.document_id)
                    if current.index_due:
                        puts.append(replace(current, index_due=False))
                    continue
                if not current.index_due:
                    # Indexed meanwhile by another replica or a backfill; if that was another upload than
                    # the one just imported over it, index the entry again.
                    if done is not None and current.is_indexed and current.indexed_upload_id != done[0].upload_id:
                        puts.append(replace(current, index_due=True))
                        still_due.append(key)
                    continue
                if done is None or done[0].upload_id != current.upload_id:
                    still_due.append(key)  # a newer upload: extract that one
                    continue
                entry, text = done
                if key in refused:
                    refusal = Extracted("", f"search index refused it: {refused[key]}")
                    puts.append(self.recorded(outcomes, current, refusal, in_index=False))
                    continue
                fields = _visible(current)
                if fields != _visible(entry):
                    await self.index.update(current.account_id, current.document_id, fields)
                puts.append(self.recorded(outcomes, current, text))
            await tx.repos.catalog.put_many(puts)
            outcomes.emit(tx)

        await self.uow.run(work)
        return still_due

    def read_size(self, entry: CatalogEntry) -> int:
        """How many bytes `extract` reads of the entry's object (0: it is not read)."""
        if before_reading(entry.content_type, entry.size, self.limits) is not None:
            return 0
        return min(entry.size, self.limits.max_extract_bytes + 1)

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

    @staticmethod
    def search_entry(entry: CatalogEntry, extracted: Extracted) -> IndexEntry:
        """The Typesense document of `entry` with its extracted text."""
        assert entry.uploaded_at is not None and entry.upload_id is not None
        return IndexEntry(
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

    def recorded(
        self,
        outcomes: Outcomes[DocumentIndexed | DocumentIndexFailed],
        entry: CatalogEntry,
        extracted: Extracted,
        *,
        in_index: bool = True,
    ) -> CatalogEntry:
        """Add the outcome of indexing `entry` to `outcomes` (emitted with the transaction's
        others); returns the entry marked as indexed (or, when the search index refused it, as
        failed and not in the index)."""
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
        if entry.index_due and entry.traceparent:
            # Indexed by the worker: the outcome continues the upload's trace (linked to the
            # worker's batch span, which is current here).
            with continue_trace(
                entry.traceparent,
                "indexer index document",
                attributes={"document.id": entry.document_id},
                links=link_to(current_traceparent()),
            ):
                outcomes.add(outgoing)
        else:  # a backfill: the backfill step's span is current
            outcomes.add(outgoing)
        return replace(
            entry,
            indexed_upload_id=entry.upload_id if in_index else None,
            index_status=FAILED if extracted.failed else INDEXED,
            index_reason=extracted.failure if extracted.failed else "",
            index_due=False,
        )

    async def index_entry(self, tx: Transaction[Repos], entry: CatalogEntry, extracted: Extracted) -> CatalogEntry:
        """Upsert the entry's text and details; returns the entry marked as indexed. Emits the outcome."""
        await self.index.upsert(self.search_entry(entry, extracted))
        outcomes = index_outcomes()
        indexed = self.recorded(outcomes, entry, extracted)
        outcomes.emit(tx)
        return indexed

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
            entry = replace(
                entry, indexed_upload_id=None, index_status="", index_reason=""
            )  # gone from the index meanwhile
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
