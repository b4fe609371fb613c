"""Composition root of the quota service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from docstore_events.dead_letters import DeadLetters
from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from docstore_kit.s3 import make_s3_client
from docstore_quota.adapters.metrics import run_refresher
from docstore_quota.adapters.reconciliation import Reconciler
from docstore_quota.adapters.reservations import Reservations
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.api.admin import router as admin_router
from docstore_quota.api.routes import router
from docstore_quota.consumers.handlers import register
from docstore_quota.domain.ledger import Ledger
from docstore_quota.settings import Settings


def create_app(settings: Settings, *, s3: Any = None) -> FastAPI:
    """Build the quota app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        usage = UsageRepository(runtime.db)
        ledger = Ledger(
            usage, runtime.events.outbox, settings.caps(), settings.counting_rule(), tuple(settings.warning_percents)
        )
        reservations = Reservations(
            runtime.db, usage, runtime.events.transaction, settings.caps(), settings.reservation_grace()
        )
        register(runtime.events, ledger, reservations)
        reconciler = Reconciler(
            runtime.db, usage, s3 or make_s3_client(settings),
            bucket=settings.bucket_name(settings.region), region=settings.region,
        )
        app.state.settings, app.state.runtime, app.state.usage = settings, runtime, usage
        app.state.ledger, app.state.reconciler, app.state.reservations = ledger, reconciler, reservations
        # The system-wide dead-letter browser of the admin dashboard; replays go out through this runtime.
        app.state.dead_letters = DeadLetters(
            settings.kafka_bootstrap_servers, settings.kafka_topic_prefix, publish=runtime.events.publish,
            timeout=settings.dlq_read_timeout_seconds, client_id="docstore-quota-dlq",
        )
        await usage.ensure_indexes()
        await reservations.ensure_indexes()
        runtime.background("quota-metrics", lambda: run_refresher(usage, settings.metrics_interval_seconds))
        if settings.reservation_purge_interval_seconds > 0:
            runtime.background(
                "quota-reservation-purge", lambda: reservations.purge_every(settings.reservation_purge_interval_seconds)
            )
        if settings.reconcile_interval_seconds > 0:
            runtime.background("quota-reconciliation", lambda: reconciler.run_every(settings.reconcile_interval_seconds))
        async with runtime:
            yield

    app = service_app(
        settings=settings,
        title="DocStore quota",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks(),
    )
    app.include_router(router)
    app.include_router(admin_router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_quota.main:app --factory`."""
    return create_app(Settings())
