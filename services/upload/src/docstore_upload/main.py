"""Composition root of the upload service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client
from docstore_upload.adapters.metadata_client import MetadataClient
from docstore_upload.adapters.quota_client import QuotaClient
from docstore_upload.adapters.sessions import UploadSessions
from docstore_upload.adapters.storage import Storage
from docstore_upload.api.routes import router
from docstore_upload.consumers import s3_events
from docstore_upload.domain.service import Limits, Uploads
from docstore_upload.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the upload app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        sessions = UploadSessions(runtime.db)
        await sessions.ensure_indexes()
        storage = Storage(make_s3_client(settings), make_s3_client(settings, public=True), settings.bucket_name(settings.region))
        internal_auth = app.state.internal_auth  # signs upload's calls to the other services
        quota_http = httpx.AsyncClient(base_url=settings.quota_url, timeout=5.0, auth=internal_auth.client_auth("quota"))
        metadata_http = httpx.AsyncClient(
            base_url=settings.metadata_url, timeout=5.0, auth=internal_auth.client_auth("metadata")
        )
        uploads = Uploads(
            runtime.events, sessions, storage, QuotaClient(quota_http), MetadataClient(metadata_http),
            region=settings.region,
            limits=Limits(
                grant_seconds=settings.grant_seconds,
                multipart_threshold=settings.multipart_threshold_bytes,
                multipart_part=settings.multipart_part_bytes,
                multipart_seconds=settings.multipart_seconds,
            ),
            redirect_base=settings.gateway_url,
            redirect_secret=settings.redirect_secret,
        )
        app.state.runtime, app.state.uploads = runtime, uploads
        if settings.s3_events_topic:
            hints = s3_events.S3EventHints(sessions, uploads.check, bucket=storage.bucket, late_write=uploads.late_write)
            # The store's topic, not a DocStore event: whole name, read raw in the service's consumer group.
            runtime.events.subscribe_raw(settings.s3_events_topic, hints.handle)
        runtime.background("upload-watcher", lambda: uploads.watch(settings.watch_interval_seconds))
        try:
            async with runtime:
                try:
                    yield
                finally:
                    await uploads.close()  # before the runtime's outbox and MongoDB go away
        finally:
            await quota_http.aclose()
            await metadata_http.aclose()

    app = service_app(
        settings=settings,
        title="DocStore upload",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks() | {"s3": app.state.uploads.storage.ready},
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_upload.main:app --factory`."""
    return create_app(Settings())
