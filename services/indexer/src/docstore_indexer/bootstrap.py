"""The indexer's composition root: every object the service runs on, built once and typed.

`bootstrap(settings)` builds the clients (nothing connects until the runtime starts), the
unit of work, the adapters and the use cases, and returns them as one `Services`. The
lifespan in `main.py` stores it as `app.state.services`; routes read it through
`api/deps.py`, consumers get it in `consumers/handlers.register`. Tests pass their own
adapters (`extractor=`, `objects=`, `search_index=`) instead of the real ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from docstore_events.indexing import DocumentIndexed, DocumentIndexFailed, DocumentsIndexed
from docstore_indexer.adapters.extractor import ExtractorPool
from docstore_indexer.adapters.object_store import ObjectStore, RecentReads
from docstore_indexer.adapters.preview_metrics import prometheus_metrics
from docstore_indexer.adapters.preview_store import PreviewObjects, ensure_preview_indexes, preview_repositories
from docstore_indexer.adapters.renderer import RenderPool
from docstore_indexer.adapters.repositories import Session, ensure_indexes, repositories
from docstore_indexer.adapters.search_index import SearchIndex
from docstore_indexer.domain.extraction import Limits, Options
from docstore_indexer.domain.previews import RenderOptions
from docstore_indexer.service_layer.backfill import BackfillWorker
from docstore_indexer.service_layer.indexing import Indexing
from docstore_indexer.service_layer.indexing_worker import IndexingWorker
from docstore_indexer.service_layer.plans import Plans
from docstore_indexer.service_layer.ports import Extractor, Objects, Repos
from docstore_indexer.service_layer.previews import PreviewBackfill, PreviewRepos, Previews, PreviewWorker
from docstore_indexer.service_layer.search import Search
from docstore_indexer.settings import Settings
from docstore_kit.account_plans import AccountPlans
from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, ProcessedEvents, outbox_checker
from docstore_kit.http_transport import async_client
from docstore_kit.s3 import make_s3_client
from docstore_messaging.tracing import propagate_to_request
from docstore_messaging.unit_of_work import UnitOfWork


@dataclass
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: UnitOfWork[Repos]
    reads: Repos
    """The repositories outside any transaction, for reads that need no consistency with a write."""
    search_index: SearchIndex
    extractor: Extractor
    pool: ExtractorPool | None
    """The extraction worker processes (None when a test passed its own `extractor`)."""
    objects: Objects
    plans: Plans
    indexing: Indexing
    search: Search
    backfill: BackfillWorker
    indexing_worker: IndexingWorker
    accounts: AccountPlans
    previews: Previews
    preview_worker: PreviewWorker
    preview_backfill: PreviewBackfill
    render_pool: RenderPool
    consistency: ConsistencyChecker
    """The outbox check: metadata applied every `document.indexed`/`document.index-failed` and
    `document.batch-indexed` (issue 32)."""

    async def prepare(self) -> None:
        """Create what the service needs on its servers (collection, indexes) and start the workers."""
        await self.search_index.ensure_collection()
        await ensure_indexes(self.runtime.db)
        await ensure_preview_indexes(self.runtime.db)
        if self.pool is not None:
            self.pool.start()
        self.render_pool.start()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        await self.render_pool.close()
        await self.search_index.close()
        await self.accounts.aclose()


def extraction_options(settings: Settings) -> Options:
    return Options(
        ocr_languages=settings.ocr_languages,
        ocr_max_pages=settings.ocr_max_pages,
        ocr_dpi=settings.ocr_dpi,
        max_unpacked_bytes=settings.max_unpacked_bytes,
        max_image_pixels=settings.max_image_pixels,
        max_text_chars=settings.max_text_chars,
    )


def bootstrap(
    settings: Settings,
    *,
    runtime: ServiceRuntime | None = None,
    search_index: SearchIndex | None = None,
    extractor: Extractor | None = None,
    objects: Objects | None = None,
) -> Services:
    runtime = runtime or ServiceRuntime(settings)
    search_index = search_index or SearchIndex.connect(
        settings.typesense_url, settings.typesense_api_key, settings.typesense_collection
    )
    pool = None
    if extractor is None:
        pool = ExtractorPool(
            workers=settings.extract_workers, options=extraction_options(settings), memory_mb=settings.extract_memory_mb
        )
        extractor = pool
    recent = RecentReads()  # a version's bytes, read once for its extraction and its preview
    objects = objects or ObjectStore(make_s3_client(settings), recent=recent)
    bound: Callable[[Session], Repos] = repositories(runtime.db)
    uow = runtime.events.unit_of_work(bound)
    reads = bound(None)
    limits = Limits(
        max_extract_bytes=settings.max_extract_bytes,
        extract_timeout_seconds=settings.extract_timeout_seconds,
        max_text_chars=settings.max_text_chars,
    )
    indexing = Indexing(
        uow=uow,
        reads=reads,
        index=search_index,
        objects=objects,
        extractor=extractor,
        limits=limits,
        consumer=settings.service,
    )
    indexing_worker = IndexingWorker(
        indexing,
        reads,
        # Every worker process busy, and the next documents read from S3 meanwhile.
        concurrency=settings.extract_workers + max(1, settings.index_read_ahead),
        read_ahead_bytes=settings.index_read_ahead_mb * 1024 * 1024,
        batch_size=settings.index_batch_size,
        batch_seconds=settings.index_batch_seconds,
        poll_seconds=settings.index_poll_seconds,
    )
    indexing.on_due = indexing_worker.enqueue_entry
    backfill = BackfillWorker(
        indexing,
        uow,
        reads,
        documents_per_second=settings.backfill_documents_per_second,
        poll_seconds=settings.backfill_poll_seconds,
        lease_seconds=max(60.0, 3 * settings.extract_timeout_seconds),
    )
    plans = Plans(
        uow=uow, reads=reads, index=search_index, consumer=settings.service, on_backfill_started=backfill.wake
    )
    plans.on_due = indexing_worker.enqueue_entry
    accounts = AccountPlans(
        async_client(
            base_url=settings.accounts_url,
            timeout=2.0,
            auth=InternalAuth.from_settings(settings).client_auth("accounts"),
            event_hooks={"request": [propagate_to_request]},  # the call joins the request's trace
        )
    )
    search = Search(reads=reads, index=search_index, accounts=accounts, plan_seconds=settings.search_plan_seconds)
    plans.on_plan_recorded = search.forget
    # Previews (issue 21): rendered beside the extraction workers, in processes of their own.
    render_pool = RenderPool(
        workers=settings.preview_workers,
        options=RenderOptions(
            max_pixels=settings.max_image_pixels,
            image_format=settings.preview_format,
            quality=settings.preview_quality,
            max_unpacked_bytes=settings.max_unpacked_bytes,
        ),
        memory_mb=settings.extract_memory_mb,
        niceness=settings.preview_niceness,
    )
    preview_bound: Callable[[Session], PreviewRepos] = preview_repositories(runtime.db)
    preview_uow = runtime.events.unit_of_work(preview_bound)
    preview_reads = preview_bound(None)
    previews = Previews(
        uow=preview_uow,
        reads=preview_reads,
        objects=PreviewObjects(
            make_s3_client(settings), encryption=settings.server_side_encryption().params(), recent=recent
        ),
        renderer=render_pool,
        region=settings.region,
        bucket=settings.bucket_name(settings.region),
        max_bytes=settings.max_preview_bytes,
        timeout=settings.preview_timeout_seconds,
        consumer=f"{settings.service}-previews",
        metrics=prometheus_metrics(settings.region),
    )
    preview_worker = PreviewWorker(
        previews,
        preview_reads,
        concurrency=settings.preview_workers + 1,
        poll_seconds=settings.preview_poll_seconds,
        # Search first: previews wait while uploads are being extracted (bounded).
        defer_to=indexing_worker,
        defer_seconds=settings.preview_defer_seconds,
        batch_size=settings.index_batch_size,
        batch_seconds=settings.preview_batch_seconds,
    )
    previews.on_due = preview_worker.enqueue
    preview_backfill = PreviewBackfill(
        previews,
        preview_reads,
        documents_per_second=settings.preview_backfill_documents_per_second,
        poll_seconds=max(settings.preview_poll_seconds, 1.0),
    )
    return Services(
        settings=settings,
        runtime=runtime,
        uow=uow,
        reads=reads,
        search_index=search_index,
        extractor=extractor,
        pool=pool,
        objects=objects,
        plans=plans,
        indexing=indexing,
        search=search,
        backfill=backfill,
        indexing_worker=indexing_worker,
        accounts=accounts,
        previews=previews,
        preview_worker=preview_worker,
        preview_backfill=preview_backfill,
        render_pool=render_pool,
        consistency=consistency_on(settings, runtime),
    )


OUTBOX_CONSUMERS = {
    DocumentIndexed: ("metadata",),
    DocumentIndexFailed: ("metadata",),
    DocumentsIndexed: ("metadata",),
}
"""The indexer's events metadata applies every time (a document's full-text state), for the outbox
check. (The preview outcomes go to metadata's `metadata-previews` consumer, not asked here.)"""


def consistency_on(settings: Settings, runtime: ServiceRuntime) -> ConsistencyChecker:
    """The indexer's published outcomes against metadata's processed-event records; run every
    `consistency_period_seconds` and from the admin API."""
    metadata = ProcessedEvents.at(
        "metadata", settings.metadata_url, InternalAuth.from_settings(settings).client_auth("metadata")
    )
    prefix = settings.kafka_topic_prefix
    checker = outbox_checker(
        "indexer.outbox",
        runtime.db,
        runtime.events.outbox,
        {event.topic(prefix): [metadata] for event in OUTBOX_CONSUMERS},
        settings,
    )
    if settings.consistency_period_seconds > 0:
        period = settings.consistency_period_seconds
        runtime.background("indexer-consistency", lambda: checker.run_forever(period))
    return checker
