"""A service whose MongoDB goes away, on the real servers: it waits for MongoDB at start instead
of exiting, answers 503 with `Retry-After` and a problem while MongoDB is away (never a 500),
and answers again once it is back, with no restart.

MongoDB is reached through a TCP forwarder the test stops and starts (closing every connection
it carries, as a killed server would), so the shared server keeps running for the other tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pymongo.uri_parser import parse_uri

from docstore_devplatform.testing import eventually
from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.errors import PROBLEM_JSON, RETRY_AFTER_SECONDS
from docstore_kit.settings import ServiceSettings

pytestmark = pytest.mark.integration


class OutageSettings(ServiceSettings):
    service: ClassVar[str] = "outagetest"


class Forwarder:
    """127.0.0.1:`port` forwarded to `target`, until `stop()`: then the port refuses and every
    connection it carried is closed. `start()` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._carry, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self._writers -= {writer, upstream_writer}


def forwarded(mongo_url: str) -> Forwarder:
    host, port = parse_uri(mongo_url)["nodelist"][0]
    return Forwarder((host, port))


def outage_app(settings: OutageSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceRuntime(settings) as runtime:
            app.state.runtime = runtime
            yield

    def checks(app: FastAPI) -> dict[str, Any]:
        return app.state.runtime.checks()

    app = service_app(title="outage test", settings=settings, lifespan=lifespan, checks=checks)

    @app.get("/things")
    async def things() -> dict[str, int]:
        return {"count": await app.state.runtime.db.things.count_documents({})}

    return app


async def test_a_service_waits_for_mongodb_answers_503_while_it_is_away_and_recovers(
    isolated: dict[str, str],
) -> None:
    forwarder = forwarded(isolated["mongodb_url"])
    await forwarder.start()
    port = forwarder.port
    await forwarder.stop()  # MongoDB "down" before the service starts
    settings = OutageSettings(
        **{
            **isolated,
            # A short server selection, so each try fails in a second, not in the driver's 30.
            "mongodb_url": f"mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=1000",
        }
    )
    app = outage_app(settings)
    lifespan = app.router.lifespan_context(app)
    starting = asyncio.create_task(lifespan.__aenter__())
    try:
        # The start waits (it would have raised ServerSelectionTimeoutError after a second).
        done, _ = await asyncio.wait({starting}, timeout=3.0)
        assert not done, "the service gave up instead of waiting for MongoDB"
        await forwarder.start()
        await asyncio.wait_for(starting, timeout=60)
    except BaseException:
        starting.cancel()
        raise
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/things")).json() == {"count": 0}

            await forwarder.stop()  # MongoDB killed while the service runs
            away = await client.get("/things")
            assert away.status_code == 503
            assert away.headers["content-type"] == PROBLEM_JSON
            assert away.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            assert away.json() == {
                "type": "urn:docstore:problem:unavailable",
                "title": "Service unavailable",
                "status": 503,
                "detail": "cannot answer right now; try again",
            }
            assert (await client.get("/readyz")).status_code == 503

            await forwarder.start()  # back: the same process answers again

            async def answers() -> httpx.Response | None:
                response = await client.get("/things")
                return response if response.status_code == 200 else None

            back = await eventually(answers, timeout=60)
            assert back.json() == {"count": 0}
    finally:
        await forwarder.start()
        await lifespan.__aexit__(None, None, None)
        await forwarder.stop()


async def test_a_service_started_before_its_broker_waits_for_it(isolated: dict[str, str]) -> None:
    host, port = isolated["kafka_bootstrap_servers"].split(",")[0].rsplit(":", 1)
    forwarder = Forwarder((host, int(port)))
    await forwarder.start()
    await forwarder.stop()  # the broker "down": its bootstrap address refuses
    settings = OutageSettings(**{**isolated, "kafka_bootstrap_servers": f"127.0.0.1:{forwarder.port}"})
    app = outage_app(settings)
    lifespan = app.router.lifespan_context(app)
    starting = asyncio.create_task(lifespan.__aenter__())
    try:
        # It would have raised KafkaConnectionError at once.
        done, _ = await asyncio.wait({starting}, timeout=2.0)
        assert not done, "the service gave up instead of waiting for the broker"
        await forwarder.start()  # bootstrapped through it, the clients then reach the broker itself
        await asyncio.wait_for(starting, timeout=60)
    except BaseException:
        starting.cancel()
        raise
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/things")).json() == {"count": 0}
    finally:
        await lifespan.__aexit__(None, None, None)
        await forwarder.stop()
