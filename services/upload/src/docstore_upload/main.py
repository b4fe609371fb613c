"""The upload app: its lifespan builds the services (`bootstrap`), registers the S3
notification subscriber and the watcher, and runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from docstore_kit.app import service_app
from docstore_kit.consistency import consistency_admin_router
from docstore_kit.health import ReadinessCheck
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_upload.adapters.consistency import CompletedSessions
from docstore_upload.adapters.credentials import CredentialRecords
from docstore_upload.adapters.repositories import ensure_indexes
from docstore_upload.api.credentials import router as credentials_router
from docstore_upload.api.routes import router
from docstore_upload.bootstrap import Services, bootstrap
from docstore_upload.consumers.accounts import register_account_deletion
from docstore_upload.consumers.s3_events import S3Notifications
from docstore_upload.service_layer.credentials import sweep_forever
from docstore_upload.service_layer.watcher import watch
from docstore_upload.settings import Settings


def create_app(settings: Settings, **overrides: Any) -> FastAPI:
    """Build the upload app; clients connect when the lifespan starts. `overrides` go to
    `bootstrap` (tests pass stand-ins for quota or metadata)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings, **overrides)
        app.state.services = services
        runtime = services.runtime
        try:
            await ensure_indexes(runtime.db)
            await CredentialRecords(runtime.db).ensure_indexes()
            await CompletedSessions(runtime.db, topic_prefix=settings.kafka_topic_prefix).ensure_indexes()
            if settings.s3_events_topic:
                # The store's topic, not a DocStore event: whole name, read raw in the service's consumer group.
                notifications = S3Notifications(
                    services.uploads.checks.object_written, bucket=services.storage.bucket, region=settings.region
                )
                runtime.events.subscribe_raw_batch(settings.s3_events_topic, notifications.handle_batch)
            register_account_deletion(runtime.events, services.uploads.endings)
            runtime.background(
                "upload-watcher", lambda: watch(services.uploads.checks, settings.watch_interval_seconds)
            )
            # Ends temporary credentials when they expire (deletes SeaweedFS identities; cleans the prefix).
            runtime.background(
                "upload-credentials-sweeper",
                lambda: sweep_forever(services.credentials, settings.watch_interval_seconds),
            )
            if settings.consistency_period_seconds > 0:
                # Completed uploads metadata or quota never applied are published again (issue 32).
                period = settings.consistency_period_seconds
                runtime.background("upload-consistency", lambda: services.consistency.run_forever(period))
            async with runtime:
                try:
                    yield
                finally:
                    await services.uploads.close()  # before the runtime's outbox and MongoDB go away
        finally:
            await services.aclose()

    def checks(app: FastAPI) -> dict[str, ReadinessCheck]:
        services: Services = app.state.services
        return services.runtime.checks() | {"s3": services.storage.ready}

    app = service_app(settings=settings, title="DocStore upload", lifespan=lifespan, checks=checks)
    app.include_router(credentials_router)  # before `router`: /uploads/credentials is no upload id
    app.include_router(router)
    app.include_router(
        consistency_admin_router(
            "/admin/consistency/uploads", lambda request: request.app.state.services.consistency, name="check_uploads"
        )
    )
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_upload.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)  # before uvicorn's first line, so every line is JSON
    return create_app(settings)
