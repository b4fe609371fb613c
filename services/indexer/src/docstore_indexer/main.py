"""Composition root of the indexer service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_indexer.adapters.extractor import ExtractorPool
from docstore_indexer.adapters.object_store import ObjectStore
from docstore_indexer.adapters.repositories import BackfillRepository, CatalogRepository, PlansRepository
from docstore_indexer.adapters.search_index import SearchIndex
from docstore_indexer.api.routes import router
from docstore_indexer.consumers.handlers import register
from docstore_indexer.domain.backfill import BackfillWorker
from docstore_indexer.domain.extraction import Options
from docstore_indexer.domain.indexing import Indexer, Limits
from docstore_indexer.settings import Settings
from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client


def extraction_options(settings: Settings) -> Options:
    return Options(
        ocr_languages=settings.ocr_languages,
        ocr_max_pages=settings.ocr_max_pages,
        ocr_dpi=settings.ocr_dpi,
        max_unpacked_bytes=settings.max_unpacked_bytes,
        max_image_pixels=settings.max_image_pixels,
        max_text_chars=settings.max_text_chars,
    )


def create_app(settings: Settings) -> FastAPI:
    """Build the indexer app; clients connect (and workers start) when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        db, events = runtime.db, runtime.events
        search_index = SearchIndex.connect(
            settings.typesense_url, settings.typesense_api_key, settings.typesense_collection
        )
        extractor = ExtractorPool(
            workers=settings.extract_workers, options=extraction_options(settings),
            memory_mb=settings.extract_memory_mb,
        )
        catalog, backfills = CatalogRepository(db), BackfillRepository(db)
        indexer = Indexer(
            plans=PlansRepository(db),
            catalog=catalog,
            backfills=backfills,
            index=search_index,
            objects=ObjectStore(make_s3_client(settings)),
            extractor=extractor,
            outbox=events.outbox,
            limits=Limits(
                max_extract_bytes=settings.max_extract_bytes,
                extract_timeout_seconds=settings.extract_timeout_seconds,
                max_text_chars=settings.max_text_chars,
            ),
        )
        backfill = BackfillWorker(
            indexer, events.transaction, documents_per_second=settings.backfill_documents_per_second,
            poll_seconds=settings.backfill_poll_seconds,
            lease_seconds=max(60.0, 3 * settings.extract_timeout_seconds),
        )
        indexer.on_backfill_started = backfill.wake
        register(events, indexer)
        app.state.settings, app.state.runtime = settings, runtime
        app.state.search_index, app.state.indexer, app.state.backfill = search_index, indexer, backfill
        try:
            await search_index.ensure_collection()
            await catalog.ensure_indexes()
            await backfills.ensure_indexes()
            extractor.start()
            async with runtime:
                backfill.start()
                try:
                    yield
                finally:
                    await backfill.stop()
        finally:
            await extractor.close()
            await search_index.close()

    app = service_app(
        settings=settings,
        title="DocStore indexer",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks() | {"typesense": app.state.search_index.ready},
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_indexer.main:app --factory`."""
    return create_app(Settings())
