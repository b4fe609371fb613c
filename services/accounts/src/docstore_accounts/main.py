"""The accounts app: `bootstrap` builds the service, the lifespan runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docstore_accounts.api.account_security import router as account_security_router
from docstore_accounts.api.app_passwords import router as app_passwords_router
from docstore_accounts.api.audit import router as audit_router
from docstore_accounts.api.identities import router as identities_router
from docstore_accounts.api.oidc import router as oidc_router
from docstore_accounts.api.routes import router
from docstore_accounts.bootstrap import bootstrap
from docstore_accounts.consumers.audit import register_audit
from docstore_accounts.settings import Settings
from docstore_kit.app import service_app
from docstore_kit.consistency import consistency_admin_router
from docstore_kit.observability import configure_logging_from, configure_observability


def create_app(settings: Settings) -> FastAPI:
    """Build the accounts app; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings)
        await services.prepare()
        services.runtime.background(
            "accounts-audit-consumer",
            register_audit(
                services.runtime.events, services.audit, busy_fetch_wait_ms=settings.audit_fetch_max_wait_ms
            ).run,
        )
        app.state.services = services
        async with services.runtime:
            yield

    app = service_app(
        settings=settings,
        title="DocStore accounts",
        lifespan=lifespan,
        checks=lambda app: app.state.services.runtime.checks(),
    )
    app.include_router(router)
    app.include_router(account_security_router)
    app.include_router(app_passwords_router)
    app.include_router(audit_router)
    app.include_router(oidc_router)
    app.include_router(identities_router)
    # Admins run the outbox check now (also run every `consistency_period_seconds`).
    app.include_router(
        consistency_admin_router(
            "/admin/consistency/accounts", lambda request: request.app.state.services.consistency, name="check_accounts"
        )
    )
    return app


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_accounts.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)
    return create_app(settings)
