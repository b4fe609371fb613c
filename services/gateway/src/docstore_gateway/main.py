"""Composition root of the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.routing import Mount

from docstore_gateway.adapters.sessions import SessionStore
from docstore_gateway.adapters.throttle import Throttle
from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.api.edge import docs_html, install_edge
from docstore_gateway.api.openapi import merged_spec
from docstore_gateway.api.routes import router
from docstore_gateway.settings import Settings
from docstore_kit.app import mongo_client, service_app
from docstore_kit.observability import configure_observability


# Long enough for a 30 s long-poll of the change feed and for joining a large multipart upload.
UPSTREAM_TIMEOUT = httpx.Timeout(120.0, connect=5.0)


def create_app(settings: Settings) -> FastAPI:
    """Build the gateway; clients connect when the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        mongo = mongo_client(settings)
        sessions = SessionStore(mongo[settings.mongodb_database], settings.session_ttl_seconds, settings.region)
        await sessions.ensure_indexes()
        upstreams = Upstreams(
            {name: httpx.AsyncClient(base_url=url, timeout=UPSTREAM_TIMEOUT) for name, url in settings.upstreams().items()},
            app.state.internal_auth,
        )
        app.state.settings, app.state.mongo, app.state.sessions, app.state.upstreams = settings, mongo, sessions, upstreams
        try:
            yield
        finally:
            await upstreams.aclose()
            await mongo.close()

    app = service_app(
        settings=settings,
        title="DocStore API",
        lifespan=lifespan,
        checks=lambda app: {"mongodb": lambda: app.state.mongo.admin.command("ping")},
        docs_url=None,
        openapi_url=None,
        description="Upload, version, search and sync documents. Log in at `POST /v1/sessions`, "
        "then send `Authorization: Bearer <token>`.",
    )
    # Throttle counters: `memory://` needs no I/O to set up; a shared store connects lazily.
    app.state.throttle = Throttle.from_settings(settings)
    install_edge(app, settings)
    app.include_router(router)
    if origins := settings.cors_origins():
        # The web app of one region follows a 307 to another region's gateway: that gateway must
        # answer the preflight of a JSON POST carrying Authorization. Bearer tokens, no cookies.
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "If-Match", "If-None-Match"],
            expose_headers=["Location", "ETag", "Retry-After"], max_age=600,
        )
    cache: dict[str, Any] = {}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if "spec" not in cache:
            spec, complete = await merged_spec(app.openapi(), app.state.upstreams)
            if not complete:
                return JSONResponse(spec)
            cache["spec"] = spec
        return JSONResponse(cache["spec"])

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # The page whose inline script the /docs Content-Security-Policy allows by its hash.
        return HTMLResponse(docs_html())

    if settings.web_dir:
        # The web app goes last, so /v1, /docs, /openapi.json, /healthz, /readyz and /metrics are
        # matched first. A mount answers only below its slash (/metrics/...): keep Starlette's
        # redirect of the bare path (/metrics -> /metrics/), which a catch-all would swallow.
        for mount in [route for route in app.routes if isinstance(route, Mount)]:
            app.add_route(mount.path, partial(_to_slash, mount.path + "/"), include_in_schema=False)
        app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    return app


async def _to_slash(path: str, request: Request) -> RedirectResponse:
    return RedirectResponse(request.url.replace(path=path))


def app() -> FastAPI:
    """Entry point for `uvicorn docstore_gateway.main:app --factory`."""
    return create_app(Settings())
