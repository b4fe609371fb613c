"""Composition root of the quota service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_events.runtime import EventRuntime
from docstore_kit.app import mongo_client, service_app
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
        mongo = mongo_client(settings)
        db = mongo[settings.mongodb_database]
        events = EventRuntime.for_service(settings, db)
        usage = UsageRepository(db)
        register(events, Ledger(usage, events.outbox, settings.caps()))
        app.state.settings, app.state.mongo, app.state.events, app.state.usage = settings, mongo, events, usage
        await events.start()
        try:
            yield
        finally:
            await events.stop()
            mongo.close()

    app = service_app(
        title="DocStore quota",
        lifespan=lifespan,
        checks=lambda app: {"mongodb": lambda: app.state.mongo.admin.command("ping"), "kafka": app.state.events.ready},
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_quota.main:app --factory`."""
    return create_app(Settings())
