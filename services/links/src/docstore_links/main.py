"""The links app: `bootstrap` builds the service, the lifespan runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_kit.app import service_app
from docstore_kit.consistency import consistency_admin_router
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_links.api.routes import router
from docstore_links.bootstrap import bootstrap
from docstore_links.consumers.revocations import register
from docstore_links.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the links app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings)
        await services.prepare()
        register(services.runtime.events, services.revocations)
        app.state.services = services
        try:
            async with services.runtime:
                yield
        finally:
            await services.metadata.aclose()

    app = service_app(
        settings=settings,
        title="DocStore links",
        lifespan=lifespan,
        checks=lambda app: app.state.services.runtime.checks(),
    )
    app.include_router(router)
    # Admins run the outbox check now (also run every `consistency_period_seconds`).
    app.include_router(
        consistency_admin_router(
            "/admin/consistency/links", lambda request: request.app.state.services.consistency, name="check_links"
        )
    )
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_links.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)
    return create_app(settings)
