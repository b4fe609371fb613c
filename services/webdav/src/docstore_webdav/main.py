"""The WebDAV app: the shared service app (`/healthz`, `/readyz`, `/metrics`) and, under
`/remote.php/`, WsgiDAV through a2wsgi (each request on a worker thread, bodies streamed both
ways)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from docstore_kit.app import service_app
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_webdav.api.dav import DavEntry
from docstore_webdav.api.redirect import GetRedirect
from docstore_webdav.bootstrap import bootstrap
from docstore_webdav.settings import Settings

DAV_PREFIX = "/remote.php/"


class DavDispatch:
    """`/remote.php/...` to WsgiDAV, everything else to the service app."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.dav: Any = WSGIMiddleware(self._wsgi, workers=settings.upload_threads)  # type: ignore[arg-type]

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app.state.entry(environ, start_response)  # type: ignore[no-any-return]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(DAV_PREFIX):
            if getattr(self.app.state, "entry", None) is None:
                await send({"type": "http.response.start", "status": 503, "headers": [(b"retry-after", b"1")]})
                await send({"type": "http.response.body", "body": b"starting\n"})
                return
            await self.dav(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_observability(settings)
        services = bootstrap(settings)
        app.state.services = services
        dav = GetRedirect(services.dav, services.provider, settings.redirect_user_agents)
        app.state.entry = DavEntry(dav, services.auth, services.backend, max_xml_bytes=settings.max_propfind_bytes)
        try:
            yield
        finally:
            services.close()

    def checks(app: FastAPI) -> dict[str, Any]:
        async def mongo() -> Any:
            import asyncio

            return await asyncio.to_thread(app.state.services.mongo.admin.command, "ping")

        return {"mongodb": mongo}

    return service_app(settings=settings, title="DocStore WebDAV", lifespan=lifespan, checks=checks)


def app() -> Any:
    """Entry point for `uvicorn docstore_webdav.main:app --factory`."""
    settings = Settings()
    configure_logging_from(settings)
    fastapi_app = create_app(settings)
    return DavDispatch(fastapi_app, settings)
