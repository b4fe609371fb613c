"""In-memory stand-ins for the indexer's ports, for use-case tests on `FakeUnitOfWork`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from docstore_events import FileVersionRecorded
from docstore_indexer.adapters.extraction import extract_text
from docstore_indexer.adapters.object_store import ObjectMissing
from docstore_indexer.adapters.search_index import Filters, IndexEntry, SearchPage
from docstore_indexer.domain.backfill import CANCELLED, COMPLETE, RUNNING, BackfillJob, first_state
from docstore_indexer.domain.catalog import CatalogEntry, entry_id, full_text_state
from docstore_indexer.domain.extraction import ExtractionFailed, Limits
from docstore_indexer.domain.plans import PlanRecord
from docstore_indexer.service_layer import ports
from docstore_indexer.service_layer.backfill import BackfillWorker
from docstore_indexer.service_layer.indexing import Indexing
from docstore_indexer.service_layer.indexing_worker import IndexingWorker
from docstore_indexer.service_layer.plans import Plans
from docstore_indexer.service_layer.search import Search
from docstore_messaging.unit_of_work import FakeUnitOfWork


class Plans_:
    def __init__(self) -> None:
        self.records: dict[str, PlanRecord] = {}

    async def get(self, account_id: str) -> PlanRecord | None:
        return self.records.get(account_id)

    async def put(self, record: PlanRecord) -> None:
        self.records[record.account_id] = record


class Catalog:
    def __init__(self) -> None:
        self.entries: dict[str, CatalogEntry] = {}

    async def get(self, account_id: str, document_id: str) -> CatalogEntry | None:
        return self.entries.get(entry_id(account_id, document_id))

    async def get_many(self, ids: list[str]) -> dict[str, CatalogEntry]:
        return {key: self.entries[key] for key in ids if key in self.entries}

    async def put(self, entry: CatalogEntry) -> None:
        self.entries[entry.id] = entry

    async def put_many(self, entries: list[CatalogEntry]) -> None:
        for entry in entries:
            self.entries[entry.id] = entry

    async def due(self, limit: int) -> list[CatalogEntry]:
        return [e for e in self.entries.values() if e.index_due][:limit]

    async def not_indexed(self, account_id: str, limit: int) -> list[CatalogEntry]:
        return [e for e in self._live(account_id) if not e.is_indexed and not e.index_due][:limit]

    def _live(self, account_id: str) -> list[CatalogEntry]:
        return sorted(
            (e for e in self.entries.values() if e.account_id == account_id and not e.deleted and e.has_upload),
            key=lambda e: e.id,
        )

    async def next_after(self, account_id: str, after: str) -> CatalogEntry | None:
        return next((e for e in self._live(account_id) if e.id > after), None)

    async def count_live(self, account_id: str) -> int:
        return len(self._live(account_id))

    async def count_states(self, account_id: str) -> dict[str, int]:
        counts = {"indexed": 0, "failed": 0, "pending": 0}
        for entry in self._live(account_id):
            counts[full_text_state(entry)] += 1
        return counts

    async def forget_index(self, account_id: str) -> None:
        for key, e in list(self.entries.items()):
            if e.account_id == account_id and e.is_indexed:
                self.entries[key] = replace(e, indexed_upload_id=None, index_status="", index_reason="")


class Backfills:
    def __init__(self) -> None:
        self.jobs: dict[str, BackfillJob] = {}
        self.owners: dict[str, str | None] = {}

    async def get(self, account_id: str) -> BackfillJob | None:
        return self.jobs.get(account_id)

    async def start(self, account_id: str, job_id: str, total: int, at: datetime) -> None:
        state = first_state(total)
        self.jobs[account_id] = BackfillJob(
            account_id, job_id, state, total, 0, 0, "", at, None if state == RUNNING else at
        )
        self.owners[account_id] = None

    async def cancel(self, account_id: str, at: datetime) -> None:
        job = self.jobs.get(account_id)
        if job and job.state == RUNNING:
            self.jobs[account_id] = replace(job, state=CANCELLED, finished_at=at)
            self.owners[account_id] = None

    async def claim(self, owner: str, lease_seconds: float) -> BackfillJob | None:
        for account_id, job in self.jobs.items():
            if job.state == RUNNING and self.owners.get(account_id) is None:
                self.owners[account_id] = owner
                return job
        return None

    async def advance(
        self, job: BackfillJob, owner: str, cursor: str, *, indexed: int, failed: int, lease_seconds: float
    ) -> bool:
        held = self.jobs.get(job.account_id)
        if held is None or held.job_id != job.job_id or held.state != RUNNING or self.owners[job.account_id] != owner:
            return False
        self.jobs[job.account_id] = replace(
            held, cursor=cursor, indexed=held.indexed + indexed, failed=held.failed + failed
        )
        return True

    async def finish(self, job: BackfillJob, owner: str) -> None:
        held = self.jobs[job.account_id]
        if held.state == RUNNING and self.owners[job.account_id] == owner:
            self.jobs[job.account_id] = replace(
                held, state=COMPLETE, finished_at=held.started_at, total=held.indexed + held.failed
            )
            self.owners[job.account_id] = None

    async def release(self, job: BackfillJob, owner: str) -> None:
        if self.owners.get(job.account_id) == owner:
            self.owners[job.account_id] = None


@dataclass
class Repos:
    plans: Plans_ = field(default_factory=Plans_)
    catalog: Catalog = field(default_factory=Catalog)
    backfills: Backfills = field(default_factory=Backfills)


NO_FILTERS = Filters()


class Index:
    """The search index as a dict of Typesense documents by id."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.upserts = 0

    async def upsert(self, entry: IndexEntry) -> None:
        self.upserts += 1
        self.documents[entry.id] = entry.as_document()

    async def upsert_many(self, entries: list[IndexEntry]) -> dict[str, str]:
        for entry in entries:
            await self.upsert(entry)
        return {}

    async def update(self, account_id: str, document_id: str, fields: dict[str, Any]) -> bool:
        document = self.documents.get(f"{account_id}:{document_id}")
        if document is None:
            return False
        document.update(fields)
        return True

    async def delete(self, account_id: str, document_id: str) -> None:
        self.documents.pop(f"{account_id}:{document_id}", None)

    async def delete_account(self, account_id: str) -> int:
        gone = [key for key, doc in self.documents.items() if doc["account_id"] == account_id]
        for key in gone:
            del self.documents[key]
        return len(gone)

    async def search(
        self,
        account_id: str,
        q: str,
        *,
        page: int,
        per_page: int,
        filters: Filters = NO_FILTERS,
        sort: str = "relevance",
    ) -> SearchPage:
        return SearchPage(found=0, page=page)

    def texts(self, account_id: str) -> dict[str, str]:
        return {doc["document_id"]: doc["text"] for doc in self.documents.values() if doc["account_id"] == account_id}


class Objects:
    """S3 as a dict of (bucket, key) → bytes; a missing key is `ObjectMissing`."""

    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None) -> None:
        self.objects = objects or {}
        self.reads = 0

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes:
        self.reads += 1
        if (bucket, key) not in self.objects:
            raise ObjectMissing(f"s3://{bucket}/{key} not found")
        return self.objects[(bucket, key)][:limit]


class InlineExtractor:
    """The extractor in this process (the real one runs in a worker process)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    async def extract(self, data: bytes, content_type: str, timeout: float) -> str:
        self.calls += 1
        if self.delay > timeout:
            await asyncio.sleep(timeout)
            raise ExtractionFailed(f"extraction timed out after {timeout:g} s")
        return extract_text(data, content_type)


LIMITS = Limits(max_extract_bytes=1_000_000, extract_timeout_seconds=5.0, max_text_chars=100_000)


@dataclass
class World:
    """The indexer's use cases wired to in-memory ports, as `bootstrap` wires the real ones."""

    repos: Repos
    uow: FakeUnitOfWork[ports.Repos]
    index: Index
    objects: Objects
    extractor: InlineExtractor
    indexing: Indexing
    plans: Plans
    search: Search
    backfill: BackfillWorker
    woken: list[str]
    worker: IndexingWorker

    async def record_upload(self, event: FileVersionRecorded, *, at: datetime, event_id: str) -> bool:
        """The handler's use case, then the indexing worker until nothing is due."""
        applied = await self.indexing.record_upload(event, at=at, event_id=event_id)
        await self.worker.drain()
        return applied


def world(*, objects: Objects | None = None, limits: Limits = LIMITS, delay: float = 0.0) -> World:
    repos = Repos()
    uow: FakeUnitOfWork[ports.Repos] = FakeUnitOfWork(repos)
    index, objects, extractor = Index(), objects or Objects(), InlineExtractor(delay)
    indexing = Indexing(
        uow=uow, reads=repos, index=index, objects=objects, extractor=extractor, limits=limits, consumer="indexer"
    )
    backfill = BackfillWorker(indexing, uow, repos, documents_per_second=0)
    worker = IndexingWorker(indexing, repos)
    indexing.on_due = worker.enqueue_entry
    woken: list[str] = []
    plans = Plans(
        uow=uow, reads=repos, index=index, consumer="indexer", on_backfill_started=lambda: woken.append("backfill")
    )
    plans.on_due = worker.enqueue_entry
    search = Search(reads=repos, index=index)
    plans.on_plan_recorded = search.forget
    return World(
        repos,
        uow,
        index,
        objects,
        extractor,
        indexing,
        plans,
        search,
        backfill,
        woken,
        worker,
    )
