"""The analytics app: `bootstrap` builds the service, the lifespan runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_analytics.adapters.repositories import ensure_indexes
from docstore_analytics.api.admin import router as admin_router
from docstore_analytics.api.routes import router
from docstore_analytics.bootstrap import bootstrap
from docstore_analytics.consumers.handlers import register
from docstore_analytics.settings import Settings
from docstore_kit.app import service_app
from docstore_kit.observability import configure_logging_from, configure_observability


def create_app(settings: Settings) -> FastAPI:
    """Build the analytics app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings)
        app.state.services = services
        register(services.runtime.events, services.recorder)
        await ensure_indexes(services.runtime.db)
        async with services.runtime:
            yield

    app = service_app(
        settings=settings,
        title="DocStore analytics",
        lifespan=lifespan,
        checks=lambda app: app.state.services.runtime.checks(),
    )
    app.include_router(router)
    app.include_router(admin_router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_analytics.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)
    return create_app(settings)
