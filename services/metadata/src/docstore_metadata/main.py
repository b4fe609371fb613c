"""Composition root of the metadata service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorClient

from docstore_events.runtime import EventRuntime
from docstore_kit.errors import install_error_handlers
from docstore_kit.health import install_health
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client
from docstore_metadata.adapters.repositories import AccountRepository, DocumentRepository
from docstore_metadata.api.routes import router
from docstore_metadata.consumers.handlers import register
from docstore_metadata.domain.service import Metadata
from docstore_metadata.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the metadata app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        mongo = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True)
        db = mongo[settings.mongodb_database]
        events = EventRuntime(
            service=settings.service, region=settings.region, bootstrap_servers=settings.kafka_bootstrap_servers,
            db=db, topic_prefix=settings.kafka_topic_prefix,
        )
        accounts, documents = AccountRepository(db), DocumentRepository(db)
        await accounts.ensure_indexes()
        await documents.ensure_indexes()
        metadata = Metadata(events, accounts, documents, settings.region)
        register(events, metadata)
        app.state.settings, app.state.mongo, app.state.events, app.state.metadata = settings, mongo, events, metadata
        app.state.s3_signer = make_s3_client(settings, public=True)
        await events.start()
        try:
            yield
        finally:
            await events.stop()
            mongo.close()

    app = FastAPI(title="DocStore metadata", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, lambda: {"mongodb": lambda: app.state.mongo.admin.command("ping"), "kafka": app.state.events.ready})
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_metadata.main:app --factory`."""
    return create_app(Settings())
