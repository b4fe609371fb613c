"""The notify app: `bootstrap` builds the services when the lifespan starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_kit.app import service_app
from docstore_kit.consistency import processed_events_router
from docstore_kit.health import ReadinessCheck
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_notify.api.internal_mail import router as internal_mail_router
from docstore_notify.api.routes import router
from docstore_notify.api.webhooks import router as webhooks_router
from docstore_notify.bootstrap import Services, bootstrap
from docstore_notify.consumers.handlers import register
from docstore_notify.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the notify app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings)
        app.state.services = services
        register(services.runtime.events, services.notifier, services.webhooks)
        await services.start()
        async with services.runtime:
            yield

    def checks(app: FastAPI) -> dict[str, ReadinessCheck]:
        services: Services = app.state.services
        return services.runtime.checks() | {"ses": services.mailer.ping}

    app = service_app(settings=settings, title="DocStore notify", lifespan=lifespan, checks=checks)
    app.include_router(router)
    app.include_router(internal_mail_router)
    # Metadata's and quota's consistency checks ask which of their events notify applied (issue 32).
    app.include_router(processed_events_router(consumer=settings.service))
    app.include_router(webhooks_router)
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_notify.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)  # before uvicorn's first line, so every line is JSON
    return create_app(settings)
