"""The metadata app: its lifespan builds the services (`bootstrap.py`) and runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_kit.app import service_app
from docstore_kit.consistency import consistency_admin_router, processed_events_router
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_metadata.adapters.keyset import Listing
from docstore_metadata.api.folders import router as folders_router
from docstore_metadata.api.link_access import router as link_access_router
from docstore_metadata.api.previews import router as previews_router
from docstore_metadata.api.routes import router
from docstore_metadata.api.sharing import router as sharing_router
from docstore_metadata.bootstrap import bootstrap
from docstore_metadata.consumers.accounts import register_account_deletion
from docstore_metadata.consumers.handlers import register
from docstore_metadata.consumers.previews import register_previews
from docstore_metadata.settings import Settings


def create_app(settings: Settings, *, listing: Listing | None = None) -> FastAPI:
    """Build the metadata app; clients connect when the lifespan starts. `listing` replaces the
    strategy `bootstrap` would choose (tests: one on a client they watch)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = await bootstrap(settings, listing=listing)
        await services.prepare()
        register(services.runtime.events, services.documents)
        register_previews(services.runtime.events, services.previews)
        register_account_deletion(services.runtime.events, services.account_purge, services.account_projector)
        app.state.services = services
        await services.consistency_indexes()
        if settings.consistency_period_seconds > 0:
            # Versions the indexer, and events quota, never applied are published again (issue 32).
            period = settings.consistency_period_seconds
            services.runtime.background("metadata-consistency", lambda: services.consistency.run_forever(period))
        async with services.runtime:
            yield

    app = service_app(
        settings=settings,
        title="DocStore metadata",
        lifespan=lifespan,
        checks=lambda app: app.state.services.runtime.checks(),
    )
    app.include_router(router)
    # Upload's consistency check asks which `upload.completed` events were applied (issue 32).
    app.include_router(processed_events_router(consumer="metadata"))
    # Admins run metadata's consistency checks now (also run every `consistency_period_seconds`).
    app.include_router(
        consistency_admin_router(
            "/admin/consistency/metadata", lambda request: request.app.state.services.consistency, name="check_metadata"
        )
    )
    app.include_router(sharing_router)
    app.include_router(folders_router)
    app.include_router(link_access_router)
    app.include_router(previews_router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_metadata.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)  # before uvicorn's first line, so every line is JSON
    return create_app(settings)
