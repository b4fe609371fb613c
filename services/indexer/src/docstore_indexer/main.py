"""Composition root of the indexer service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_indexer.adapters.object_store import ObjectStore
from docstore_indexer.adapters.repositories import IndexedRepository, PlansRepository
from docstore_indexer.adapters.search_index import SearchIndex
from docstore_indexer.api.routes import router
from docstore_indexer.consumers.handlers import register
from docstore_indexer.domain.indexing import Indexer, Limits
from docstore_indexer.settings import Settings
from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client


def create_app(settings: Settings) -> FastAPI:
    """Build the indexer app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        db, events = runtime.db, runtime.events
        search_index = SearchIndex.connect(
            settings.typesense_url, settings.typesense_api_key, settings.typesense_collection
        )
        indexed = IndexedRepository(db)
        indexer = Indexer(
            plans=PlansRepository(db),
            indexed=indexed,
            index=search_index,
            objects=ObjectStore(make_s3_client(settings)),
            outbox=events.outbox,
            limits=Limits(
                max_extract_bytes=settings.max_extract_bytes,
                extract_timeout_seconds=settings.extract_timeout_seconds,
                max_text_chars=settings.max_text_chars,
            ),
        )
        register(events, indexer)
        app.state.settings, app.state.runtime = settings, runtime
        app.state.search_index, app.state.indexer = search_index, indexer
        try:
            await search_index.ensure_collection()
            await indexed.ensure_indexes()
            async with runtime:
                yield
        finally:
            await search_index.close()

    app = service_app(
        title="DocStore indexer",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks() | {"typesense": app.state.search_index.ready},
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_indexer.main:app --factory`."""
    return create_app(Settings())
