"""Composition root of the quota service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorClient

from docstore_events.runtime import EventRuntime
from docstore_kit.errors import install_error_handlers
from docstore_kit.health import install_health
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
        mongo = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True)
        db = mongo[settings.mongodb_database]
        events = EventRuntime(
            service=settings.service, region=settings.region, bootstrap_servers=settings.kafka_bootstrap_servers,
            db=db, topic_prefix=settings.kafka_topic_prefix,
        )
        usage = UsageRepository(db)
        register(events, Ledger(usage, events.outbox, settings.caps()))
        app.state.settings, app.state.mongo, app.state.events, app.state.usage = settings, mongo, events, usage
        await events.start()
        try:
            yield
        finally:
            await events.stop()
            mongo.close()

    app = FastAPI(title="DocStore quota", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, lambda: {"mongodb": lambda: app.state.mongo.admin.command("ping"), "kafka": app.state.events.ready})
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_quota.main:app --factory`."""
    return create_app(Settings())
