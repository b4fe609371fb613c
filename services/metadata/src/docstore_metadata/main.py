"""Composition root of the metadata service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_events.runtime import EventRuntime
from docstore_kit.app import mongo_client, service_app
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
        mongo = mongo_client(settings)
        db = mongo[settings.mongodb_database]
        events = EventRuntime.for_service(settings, db)
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

    app = service_app(
        title="DocStore metadata",
        lifespan=lifespan,
        checks=lambda app: {"mongodb": lambda: app.state.mongo.admin.command("ping"), "kafka": app.state.events.ready},
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_metadata.main:app --factory`."""
    return create_app(Settings())
