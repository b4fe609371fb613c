"""Composition root of the quota service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.api.routes import router
from docstore_quota.consumers.handlers import register
from docstore_quota.domain.ledger import Ledger
from docstore_quota.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the quota app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        usage = UsageRepository(runtime.db)
        register(runtime.events, Ledger(usage, runtime.events.outbox, settings.caps()))
        app.state.settings, app.state.runtime, app.state.usage = settings, runtime, usage
        async with runtime:
            yield

    app = service_app(
        title="DocStore quota",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks(),
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_quota.main:app --factory`."""
    return create_app(Settings())
