"""The indexer's app: the lifespan builds `Services` (see `bootstrap.py`), registers the
consumers and starts the runtime and the workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_indexer.api.routes import router
from docstore_indexer.bootstrap import Services, bootstrap
from docstore_indexer.consumers.handlers import register
from docstore_indexer.settings import Settings
from docstore_kit.app import service_app
from docstore_kit.consistency import consistency_admin_router, processed_events_router
from docstore_kit.health import ReadinessCheck
from docstore_kit.observability import configure_logging_from, configure_observability


def create_app(settings: Settings) -> FastAPI:
    """Build the indexer app; clients connect (and workers start) when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings)
        register(services.runtime.events, services.plans, services.indexing, services.previews)
        app.state.services = services
        try:
            await services.prepare()
            async with services.runtime:
                services.backfill.start()
                services.indexing_worker.start()
                services.preview_worker.start()
                services.preview_backfill.start()
                try:
                    yield
                finally:
                    await services.preview_backfill.stop()
                    await services.preview_worker.stop()
                    await services.indexing_worker.stop()
                    await services.backfill.stop()
        finally:
            await services.close()

    def checks(app: FastAPI) -> dict[str, ReadinessCheck]:
        services: Services = app.state.services
        return services.runtime.checks() | {"typesense": services.search_index.ready}

    app = service_app(
        settings=settings,
        title="DocStore indexer",
        lifespan=lifespan,
        checks=checks,
    )
    app.include_router(router)
    # Metadata's consistency check asks which `file.version-recorded` events were applied (issue 32).
    app.include_router(processed_events_router(consumer=settings.service))
    # Admins run the indexer's consistency check now (also run every `consistency_period_seconds`).
    app.include_router(
        consistency_admin_router(
            "/admin/consistency/indexer", lambda request: request.app.state.services.consistency, name="check_indexer"
        )
    )
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_indexer.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)  # before uvicorn's first line, so every line is JSON
    return create_app(settings)
