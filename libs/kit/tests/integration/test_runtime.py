"""ServiceRuntime and service_app on the real servers: the MongoDB client, the event runtime and
background work start and stop together, readiness probes both dependencies, the consumer runs
while the runtime is entered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pymongo.errors import InvalidOperation

from docstore_devplatform.testing import EventPublisher, eventually
from docstore_events import Envelope, QuotaExceeded
from docstore_kit import errors
from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.auth import InternalAuth
from docstore_kit.settings import ServiceSettings

pytestmark = pytest.mark.integration


class KitSettings(ServiceSettings):
    service: ClassVar[str] = "kittest"


class Missing(errors.NotFound):
    problem = "missing"
    title = "Not here"


async def test_background_work_runs_while_entered_and_stops_with_the_client(isolated: dict[str, str]) -> None:
    runtime = ServiceRuntime(KitSettings(**isolated))
    started, stopped = asyncio.Event(), asyncio.Event()

    async def sweeper() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    runtime.background("sweeper", sweeper)
    async with runtime:
        await asyncio.wait_for(started.wait(), timeout=60)
        checks = runtime.checks()
        assert set(checks) == {"mongodb", "kafka"}
        assert (await checks["mongodb"]())["ok"] == 1.0
        assert await eventually(checks["kafka"], timeout=60)
        assert runtime.db.name == isolated["mongodb_database"]
    assert stopped.is_set()
    with pytest.raises(InvalidOperation):
        await runtime.db.command("ping")


async def test_subscribers_consume_while_the_runtime_is_entered(
    isolated: dict[str, str], publisher: EventPublisher
) -> None:
    runtime = ServiceRuntime(KitSettings(**isolated))
    seen: list[Envelope[QuotaExceeded]] = []

    async def on_exceeded(envelope: Envelope[QuotaExceeded]) -> None:
        seen.append(envelope)

    runtime.events.subscribe(QuotaExceeded, on_exceeded)
    async with runtime:
        record = await publisher.send(QuotaExceeded(account_id="a1", used_bytes=2, cap_bytes=1, plan="free"))
        await eventually(lambda: asyncio.sleep(0, result=bool(seen)), timeout=90)
    assert [envelope.id for envelope in seen] == [record.id]
    assert seen[0].data.account_id == "a1"


async def test_service_app_serves_health_errors_and_identity(isolated: dict[str, str]) -> None:
    settings = KitSettings(**isolated)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(settings) as runtime:
            app.state.runtime = runtime
            yield

    def checks(app: FastAPI) -> dict[str, Any]:
        return app.state.runtime.checks()

    app = service_app(title="kit test", settings=settings, lifespan=lifespan, checks=checks)

    @app.get("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        raise Missing(f"no thing {thing}")

    assert isinstance(app.state.internal_auth, InternalAuth)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def ready() -> httpx.Response | None:
                response = await client.get("/readyz")
                return response if response.status_code == 200 else None

            response = await eventually(ready, timeout=60)
            assert response.json() == {"status": "ready", "checks": {"mongodb": "ok", "kafka": "ok"}}

            missing = await client.get("/things/x")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")
            assert missing.json()["detail"] == "no thing x"
