"""Composition root of the notify service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.observability import configure_observability
from fastapi import FastAPI

from docstore_notify.adapters.follows import FollowRepository
from docstore_notify.adapters.notification_log import NotificationLog
from docstore_notify.adapters.preferences import PreferenceRepository
from docstore_notify.adapters.recipients import RecipientRepository
from docstore_notify.adapters.ses import SesMailer, make_ses_client
from docstore_notify.adapters.unsubscribe import UnsubscribeLinks
from docstore_notify.api.routes import router
from docstore_notify.consumers.handlers import register
from docstore_notify.domain.notifier import Notifier
from docstore_notify.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the notify app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        runtime = ServiceRuntime(settings)
        db = runtime.db
        mailer = SesMailer(
            make_ses_client(
                region=settings.aws_default_region,
                connect_timeout=settings.ses_connect_timeout_seconds,
                read_timeout=settings.ses_read_timeout_seconds,
            ),
            settings.mail_from,
        )
        notifications = NotificationLog(db)
        preferences, follows = PreferenceRepository(db), FollowRepository(db)
        unsubscribe = UnsubscribeLinks(db, secret=settings.unsubscribe_secret, base_url=settings.gateway_url)
        notifier = Notifier(
            RecipientRepository(db),
            notifications,
            mailer,
            resend_after=timedelta(seconds=settings.resend_after_seconds),
            max_attempts=settings.max_send_attempts,
            preferences=preferences,
            follows=follows,
            unsubscribe=unsubscribe,
            transaction=runtime.events.transaction,
            coalesce_window=timedelta(seconds=settings.coalesce_window_seconds),
        )
        register(runtime.events, notifier)
        app.state.settings, app.state.runtime = settings, runtime
        app.state.mailer, app.state.notifications, app.state.notifier = mailer, notifications, notifier
        app.state.preferences, app.state.unsubscribe = preferences, unsubscribe

        await notifications.ensure_indexes()
        await follows.ensure_indexes()
        if settings.verify_sender_identity:
            await mailer.verify_sender(settings.sender_address())
        runtime.background("notify-sweeper", lambda: notifier.run_sweeper(settings.sweep_interval_seconds))
        runtime.background("notify-digests", lambda: notifier.run_digests(settings.digest_interval_seconds))
        async with runtime:
            yield

    app = service_app(
        settings=settings,
        title="DocStore notify",
        lifespan=lifespan,
        checks=lambda app: app.state.runtime.checks() | {"ses": app.state.mailer.ping},
    )
    app.include_router(router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_notify.main:app --factory`."""
    return create_app(Settings())
