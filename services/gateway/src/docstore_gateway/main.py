"""The gateway's app: the edge around everything, the public API, the merged OpenAPI, the web app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.routing import Mount
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from docstore_gateway.api.account_sessions import router as account_sessions_router
from docstore_gateway.api.edge import install_edge
from docstore_gateway.api.errors import install_error_handler
from docstore_gateway.api.oidc import router as oidc_router
from docstore_gateway.api.openapi import install_docs
from docstore_gateway.api.routes import router
from docstore_gateway.api.share_page import router as share_page_router
from docstore_gateway.api.webdav import router as webdav_router
from docstore_gateway.bootstrap import bootstrap
from docstore_gateway.consumers.revocations import register
from docstore_gateway.settings import Settings
from docstore_kit.app import service_app
from docstore_kit.observability import configure_logging_from, configure_observability


def create_app(settings: Settings, **overrides: Any) -> FastAPI:
    """Build the gateway; `bootstrap(settings, **overrides)` runs when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings, **overrides)
        register(services.events, services.revocations)  # account.sessions-revoked, account.app-password-revoked
        try:
            await services.start()
            app.state.services = services
            yield
        finally:
            await services.aclose()

    app = service_app(
        settings=settings,
        title="DocStore API",
        lifespan=lifespan,
        origin_from_peer=True,  # the gateway faces clients: the peer it sees, never a header they send
        checks=lambda app: {"mongodb": lambda: app.state.services.mongo.admin.command("ping")},
        docs_url=None,
        openapi_url=None,
        description="Upload, version, search and sync documents. Log in at `POST /v1/sessions`, "
        "then send `Authorization: Bearer <token>`. Working `curl` and AWS CLI commands for every "
        "upload and download path: [/docs/clients](/docs/clients).",
    )
    install_error_handler(app)
    install_edge(app, settings)
    app.include_router(oidc_router)  # sign-in with OpenID Connect (before `router`, as the next one)
    app.include_router(account_sessions_router)  # before `router`, whose last route forwards any /v1 path
    app.include_router(router)
    app.include_router(share_page_router)  # /s/{token}: public share links' pages
    app.include_router(webdav_router)  # /remote.php/...: the WebDAV service, bodies streamed (issue 38)
    if origins := settings.cors_origins():
        # The web app of one region follows a 307 to another region's gateway: that gateway must
        # answer the preflight of a JSON POST carrying Authorization, and may set (and later read)
        # the refresh cookie of its /v1/sessions path: credentials are allowed, for these origins only.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "If-Match", "If-None-Match"],
            expose_headers=["Location", "ETag", "Retry-After"],
            max_age=600,
        )
    install_docs(app)
    if settings.web_dir:
        # The web app goes last, so /v1, /docs, /openapi.json, /healthz, /readyz and /metrics are
        # matched first (/metrics is a route that answers itself, not a mount). A mount answers
        # only below its slash: keep Starlette's redirect of its bare path, which a catch-all
        # would swallow.
        for mount in [route for route in app.routes if isinstance(route, Mount)]:
            app.add_route(mount.path, partial(_to_slash, mount.path + "/"), include_in_schema=False)
        app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    if proxies := settings.proxy_networks():
        # Outermost (added last): the client address every other layer (the origin middleware,
        # the throttle, the device list) sees is already the one the trusted proxies vouch for.
        # Servers run with --no-proxy-headers, so this is the only place X-Forwarded-For is read.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    return app


async def _to_slash(path: str, request: Request) -> RedirectResponse:
    return RedirectResponse(request.url.replace(path=path))


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_gateway.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)  # before uvicorn's first line, so every line is JSON
    return create_app(settings)


def serve() -> None:
    """`python -m docstore_gateway`: uvicorn on the settings' host and port, serving HTTPS when
    `tls_cert_file` and `tls_key_file` are set (the chart's in-cluster TLS, `scripts/up --tls`).
    uvicorn's own proxy-header handling is off (it would trust 127.0.0.1, and a local client is
    there): the app reads X-Forwarded-For only from GATEWAY_TRUSTED_PROXIES (create_app)."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "docstore_gateway.main:app",
        factory=True,
        host=settings.host,
        port=settings.port,
        ssl_certfile=settings.tls_cert_file or None,
        ssl_keyfile=settings.tls_key_file or None,
        proxy_headers=False,
        timeout_graceful_shutdown=20,
    )
