"""Composition root of the notify service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from docstore_events.runtime import EventRuntime
from docstore_kit.errors import install_error_handlers
from docstore_kit.health import install_health
from docstore_kit.observability import configure_observability
from fastapi import FastAPI
from motor.motor_asyncio import AsyncIOMotorClient

from docstore_notify.adapters.notification_log import NotificationLog
from docstore_notify.adapters.recipients import RecipientRepository
from docstore_notify.adapters.ses import SesMailer, make_ses_client
from docstore_notify.api.routes import router
from docstore_notify.consumers.handlers import register
from docstore_notify.domain.notifier import Notifier
from docstore_notify.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the notify app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        mongo = AsyncIOMotorClient(settings.mongodb_url, tz_aware=True)
        db = mongo[settings.mongodb_database]
        events = EventRuntime(
            service=settings.service,
            region=settings.region,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            db=db,
            topic_prefix=settings.kafka_topic_prefix,
        )
        mailer = SesMailer(
            make_ses_client(
                region=settings.aws_default_region,
                connect_timeout=settings.ses_connect_timeout_seconds,
                read_timeout=settings.ses_read_timeout_seconds,
            ),
            settings.mail_from,
        )
        notifications = NotificationLog(db)
        notifier = Notifier(
            RecipientRepository(db),
            notifications,
            mailer,
            resend_after=timedelta(seconds=settings.resend_after_seconds),
            max_attempts=settings.max_send_attempts,
        )
        register(events, notifier)
        app.state.settings, app.state.mongo, app.state.events = settings, mongo, events
        app.state.mailer, app.state.notifications, app.state.notifier = mailer, notifications, notifier

        await notifications.ensure_indexes()
        if settings.verify_sender_identity:
            await mailer.verify_sender(settings.sender_address())
        await events.start()
        sweeper = asyncio.create_task(notifier.run_sweeper(settings.sweep_interval_seconds), name="notify-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await events.stop()
            mongo.close()

    app = FastAPI(title="DocStore notify", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(
        app,
        lambda: {
            "mongodb": lambda: app.state.mongo.admin.command("ping"),
            "kafka": app.state.events.ready,
            "ses": app.state.mailer.ping,
        },
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_notify.main:app --factory`."""
    return create_app(Settings())
