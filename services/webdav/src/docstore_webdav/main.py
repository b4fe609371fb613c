"""The WebDAV app: the shared service app (`/healthz`, `/readyz`, `/metrics`) and, under
`/remote.php/`, WsgiDAV through a2wsgi (each request on a worker thread, bodies streamed both
ways)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from docstore_kit.app import service_app
from docstore_kit.observability import configure_logging_from, configure_observability
from docstore_webdav.api.dav import DavEntry
from docstore_webdav.api.redirect import GetRedirect
from docstore_webdav.bootstrap import bootstrap
from docstore_webdav.settings import Settings

DAV_PREFIX = "/remote.php/"
GATHER_BYTES = 1 << 20
"""A request body reaches WsgiDAV's thread in messages of at least this much (`gathered`)."""


def gathered(receive: Receive, at_least: int = GATHER_BYTES) -> Receive:
    """`receive`, with a body's messages joined until each holds `at_least` bytes (or the body
    ends). uvicorn stops reading a body once 64 KiB wait unread (its `HIGH_WATER_LIMIT`), so a
    1 GiB PUT came as 16,384 messages, and a2wsgi fetches each one for WsgiDAV's thread with a
    round trip through the event loop (`run_coroutine_threadsafe`): the body then moved at the
    pace of those round trips. Joined here, on the loop, it takes 1,024."""
    held: list[Message] = []

    async def receive_gathered() -> Message:
        if held:
            return held.pop()
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return message
        blocks, size, more = [message.get("body", b"")], len(message.get("body", b"")), True
        while more and size < at_least:
            following = await receive()
            if following["type"] != "http.request":  # the client went away: after what came
                held.append(following)
                break
            block = following.get("body", b"")
            blocks.append(block)
            size += len(block)
            more = bool(following.get("more_body"))
        return {"type": "http.request", "body": b"".join(blocks), "more_body": more}

    return receive_gathered


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
            await self.dav(scope, gathered(receive), send)
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
