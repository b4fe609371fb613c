"""What `service_app` spends per request besides the route: one server span (no internal spans
per ASGI message), and a garbage collector that no longer walks what start-up left alive
(`freeze_gc`), once per process."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from docstore_kit.app import GC_GEN0_THRESHOLD, service_app
from docstore_kit.settings import ServiceSettings


class _Settings(ServiceSettings):
    service: ClassVar[str] = "kit-costs-test"


def _app(*, freeze_gc: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = service_app(title="Costs", settings=_Settings(), lifespan=lifespan, checks=lambda _: {}, freeze_gc=freeze_gc)

    @app.get("/things")
    async def things() -> list[str]:
        return ["a"]

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path)


async def test_a_request_makes_one_server_span_and_no_span_per_message(spans: InMemorySpanExporter) -> None:
    assert (await get(_app(), "/things")).status_code == 200
    finished = [span for span in spans.get_finished_spans() if "/things" in span.name]
    assert [span.kind for span in finished] == [trace.SpanKind.SERVER], [span.name for span in finished]
    assert finished[0].attributes is not None and finished[0].attributes.get("http.status_code") == 200


@pytest.fixture
def gc_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("gc_restored")
async def test_freeze_gc_settles_the_collector_once_started_and_once_per_process() -> None:
    gc.unfreeze()
    app = _app(freeze_gc=True)
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD
        assert (await get(app, "/things")).status_code == 200
        # A second app started in the same process (a test's) leaves the collector as it is.
        gc.set_threshold(1234)
        second = _app(freeze_gc=True)
        async with second.router.lifespan_context(second):
            assert gc.get_freeze_count() <= frozen  # (frozen objects still die by reference count)
            assert gc.get_threshold()[0] == 1234


@pytest.mark.usefixtures("gc_restored")
async def test_without_freeze_gc_the_collector_is_left_alone() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    app = _app()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
