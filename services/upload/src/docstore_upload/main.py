"""Composition root of the upload service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorClient

from docstore_events.runtime import EventRuntime
from docstore_kit.errors import install_error_handlers
from docstore_kit.health import install_health
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client
from docstore_upload.adapters.quota_client import QuotaClient
from docstore_upload.adapters.sessions import UploadSessions
from docstore_upload.adapters.storage import Storage
from docstore_upload.api.routes import router
from docstore_upload.domain.service import Uploads
from docstore_upload.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the upload app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        mongo = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True)
        db = mongo[settings.mongodb_database]
        events = EventRuntime(
            service=settings.service, region=settings.region, bootstrap_servers=settings.kafka_bootstrap_servers,
            db=db, topic_prefix=settings.kafka_topic_prefix,
        )
        sessions = UploadSessions(db)
        await sessions.ensure_indexes()
        storage = Storage(make_s3_client(settings), make_s3_client(settings, public=True), settings.bucket_name(settings.region))
        quota_http = httpx.AsyncClient(base_url=settings.quota_url, timeout=5.0)
        uploads = Uploads(
            events, sessions, storage, QuotaClient(quota_http), region=settings.region, grant_seconds=settings.grant_seconds
        )
        app.state.mongo, app.state.events, app.state.uploads = mongo, events, uploads
        await events.start()
        try:
            yield
        finally:
            await events.stop()
            await quota_http.aclose()
            mongo.close()

    app = FastAPI(title="DocStore upload", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, lambda: {
        "mongodb": lambda: app.state.mongo.admin.command("ping"),
        "kafka": app.state.events.ready,
        "s3": app.state.uploads.storage.ready,
    })
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_upload.main:app --factory`."""
    return create_app(Settings())
