"""Composition root of the metadata service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client
from docstore_metadata.adapters.housekeeping import Housekeeping
from docstore_metadata.adapters.keyset import choose_listing
from docstore_metadata.adapters.replication import ReplicaRepository, ReplicationQueue, ReplicationRelay
from docstore_metadata.adapters.repositories import AccountRepository, DocumentRepository
from docstore_metadata.adapters.sharing import SharingRepository
from docstore_metadata.api.routes import router
from docstore_metadata.api.sharing import router as sharing_router
from docstore_metadata.consumers.handlers import register
from docstore_metadata.domain.service import Metadata
from docstore_metadata.domain.sharing import Sharing
from docstore_metadata.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the metadata app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        listing = await choose_listing(settings.listing_strategy, runtime.db)
        accounts, documents = AccountRepository(runtime.db), DocumentRepository(runtime.db, listing)
        sharing_repository = SharingRepository(runtime.db)
        await accounts.ensure_indexes()
        await documents.ensure_indexes()
        await sharing_repository.ensure_indexes()
        replicas, replication = ReplicaRepository(runtime.db), ReplicationQueue(runtime.db, settings.peers())
        await replicas.ensure_indexes()
        await replication.ensure_indexes()
        metadata = Metadata(
            runtime.events, accounts, documents, settings.region,
            version_caps=settings.version_caps(), trash_retention=timedelta(days=settings.trash_retention_days),
            replicas=replicas, replication=replication,
        )
        relay = ReplicationRelay(
            replication, secret=settings.replication_secret, batch_size=settings.replication_batch_size,
            concurrency=settings.replication_concurrency, retry_initial=settings.replication_retry_initial_seconds,
            retry_max=settings.replication_retry_max_seconds, poll_interval=settings.replication_poll_seconds,
            timeout=settings.replication_timeout_seconds,
        )
        runtime.background("metadata-replication-relay", relay.run)
        register(runtime.events, metadata)
        housekeeping = Housekeeping(
            metadata, documents, make_s3_client(settings),
            garbage_interval=settings.garbage_interval_seconds, purge_interval=settings.purge_interval_seconds,
            purge_lease=settings.purge_lease_seconds,
        )
        app.state.settings, app.state.runtime, app.state.metadata = settings, runtime, metadata
        app.state.housekeeping, app.state.replication_relay = housekeeping, relay
        app.state.sharing = Sharing(runtime.events, sharing_repository, accounts, documents)
        app.state.s3_signer = make_s3_client(settings, public=True)
        async with runtime:
            housekeeping.start()
            try:
                yield
            finally:
                await housekeeping.stop()

    app = service_app(
        settings=settings,
        title="DocStore metadata",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks(),
    )
    app.include_router(router)
    app.include_router(sharing_router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_metadata.main:app --factory`."""
    return create_app(Settings())
