"""The quota app: `bootstrap` builds the service, the lifespan runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from docstore_kit.app import service_app
from docstore_kit.consistency import consistency_admin_router, processed_events_router
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_quota.adapters.repositories import ensure_indexes
from docstore_quota.api.admin import router as admin_router
from docstore_quota.api.routes import router
from docstore_quota.bootstrap import bootstrap
from docstore_quota.consumers.handlers import register
from docstore_quota.settings import Settings


def create_app(settings: Settings, *, s3: Any = None) -> FastAPI:
    """Build the quota app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings, s3=s3)
        app.state.services = services
        register(services.runtime.events, services.ledger)
        await ensure_indexes(services.runtime.db)
        try:
            async with services.runtime:
                yield
        finally:
            await services.plans.aclose()

    app = service_app(
        settings=settings,
        title="DocStore quota",
        lifespan=lifespan,
        checks=lambda app: app.state.services.runtime.checks(),
    )
    app.include_router(router)
    # Upload's consistency check asks which `upload.completed` events were applied (issue 32).
    app.include_router(processed_events_router(consumer="quota"))
    # Admins run quota's consistency check now (also run every `consistency_period_seconds`).
    app.include_router(
        consistency_admin_router(
            "/admin/consistency/quota", lambda request: request.app.state.services.consistency, name="check_quota"
        )
    )
    app.include_router(admin_router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_quota.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)  # before uvicorn's first line, so every line is JSON
    return create_app(settings)
