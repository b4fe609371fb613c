"""Composition root of the upload service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from docstore_events.runtime import EventRuntime
from docstore_kit.app import mongo_client, service_app
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
        mongo = mongo_client(settings)
        db = mongo[settings.mongodb_database]
        events = EventRuntime.for_service(settings, db)
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

    app = service_app(
        title="DocStore upload",
        lifespan=lifespan,
        checks=lambda app: {
            "mongodb": lambda: app.state.mongo.admin.command("ping"),
            "kafka": app.state.events.ready,
            "s3": app.state.uploads.storage.ready,
        },
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_upload.main:app --factory`."""
    return create_app(Settings())
