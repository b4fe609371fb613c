"""The FastAPI app every service starts from: error shape, health, metrics and tracing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pymongo import AsyncMongoClient

from docstore_events.runtime import EventRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.errors import install_error_handlers
from docstore_kit.health import ReadinessCheck, install_health
from docstore_kit.settings import mongodb_client_options

VERSION = "0.1.0"


def mongo_client(settings: Any) -> AsyncMongoClient[Any]:
    """The service's MongoDB client (PyMongo's async API, timezone-aware datetimes). Create it
    inside the lifespan: it connects on first use."""
    return AsyncMongoClient(settings.mongodb_url, tz_aware=True, **mongodb_client_options(settings))


class ServiceRuntime:
    """A service's MongoDB client, its database and its event runtime, as one unit.

    Build it inside the lifespan, register subscribers on `events`, then `async with` it:
    the broker, consumer and outbox relay run inside the block and stop, with the MongoDB
    client, when it ends.
    """

    def __init__(self, settings: Any, **event_options: Any) -> None:
        self.mongo = mongo_client(settings)
        self.db = self.mongo[settings.mongodb_database]
        self.events = EventRuntime.for_service(settings, self.db, **event_options)
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def background(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work()` (a loop such as a watcher or sweeper) while the runtime is entered:
        started after the consumer, cancelled before it stops."""
        self._background.append((name, work))

    async def __aenter__(self) -> ServiceRuntime:
        await self.events.start()
        self._tasks = [asyncio.create_task(work(), name=name) for name, work in self._background]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.events.stop()
        finally:
            await self.mongo.close()

    def checks(self) -> dict[str, ReadinessCheck]:
        """Readiness of MongoDB and Kafka, for `service_app(checks=...)`."""
        return {"mongodb": lambda: self.mongo.admin.command("ping"), "kafka": self.events.ready}


def service_app(
    *,
    title: str,
    settings: Any,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    checks: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    **fastapi_options: Any,
) -> FastAPI:
    """A FastAPI app with the shared error handlers, `/healthz`, `/readyz`, `/metrics` and
    server spans that continue the caller's trace. `checks(app)` names the dependencies
    `/readyz` probes; it runs per request, after the lifespan has built the clients.

    `app.state.internal_auth` (built from `settings`, no I/O) verifies the identity token on
    every authenticated route and signs this service's calls to the others."""
    app = FastAPI(title=title, version=VERSION, lifespan=lifespan, **fastapi_options)
    app.state.internal_auth = InternalAuth.from_settings(settings)
    install_error_handlers(app)
    install_health(app, lambda: checks(app))
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return app
