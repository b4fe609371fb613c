"""Metrics of a running service app on the real servers: `/metrics` answers 200 on the app with
request histograms, handler durations and consumer lag; with `metrics_port` they are served by a
listener of their own, started and stopped with the lifespan, and the app has no `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI

from docstore_devplatform.ports import free_ports
from docstore_devplatform.testing import EventPublisher, eventually
from docstore_events import Envelope, QuotaExceeded
from docstore_kit.app import ServiceRuntime, service_app
from docstore_kit.settings import ServiceSettings

pytestmark = pytest.mark.integration


class MetricsSettings(ServiceSettings):
    service: ClassVar[str] = "metricstest"


def build(settings: MetricsSettings, seen: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = ServiceRuntime(settings)

        async def on_exceeded(envelope: Envelope[QuotaExceeded]) -> None:
            seen.append(envelope.id)

        runtime.events.subscribe(QuotaExceeded, on_exceeded)
        async with runtime:
            app.state.runtime = runtime
            yield

    def checks(app: FastAPI) -> dict[str, Any]:
        return app.state.runtime.checks()

    app = service_app(title="metrics test", settings=settings, lifespan=lifespan, checks=checks)

    @app.get("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        return {"thing": thing}

    return app


def samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name)]


async def test_metrics_on_the_app_after_a_request_and_an_event(
    isolated: dict[str, str], publisher: EventPublisher
) -> None:
    settings = MetricsSettings(**isolated)
    seen: list[str] = []
    app = build(settings, seen)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/things/one")).status_code == 200
            await publisher.send(QuotaExceeded(account_id="m1", used_bytes=2, cap_bytes=1, plan="free"))
            await eventually(lambda: asyncio.sleep(0, result=bool(seen)), timeout=90)
            group = f'group="{isolated["kafka_topic_prefix"]}metricstest"'

            async def scraped() -> str | None:
                response = await client.get("/metrics")
                assert response.status_code == 200  # directly: no redirect to /metrics/
                lag = samples(response.text, "docstore_consumer_lag_messages{")
                # The lag is sampled every few seconds: wait for a sample of the event's topic.
                wanted = [line for line in lag if group in line and QuotaExceeded.topic("") in line]
                return response.text if wanted else None

            text = await eventually(scraped, timeout=90)
    assert any('handler="/things/{thing}"' in line for line in samples(text, "http_request_duration_seconds_bucket"))
    assert any(
        'event_type="quota.exceeded"' in line and "metricstest" in line
        for line in samples(text, "docstore_event_handler_duration_seconds_count")
    )
    assert samples(text, "docstore_outbox_pending_rows")
    assert samples(text, "docstore_events_consumed_total{")


async def test_metrics_port_serves_them_on_their_own_listener_and_not_on_the_app(isolated: dict[str, str]) -> None:
    [port] = free_ports(1)
    settings = MetricsSettings(**isolated, metrics_port=port)
    app = build(settings, [])
    url = f"http://127.0.0.1:{port}/metrics"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/things/two")).status_code == 200
            assert (await client.get("/metrics")).status_code == 404
        async with httpx.AsyncClient(timeout=10) as outside:
            response = await outside.get(url)
        assert response.status_code == 200
        assert any('handler="/things/{thing}"' in line for line in samples(response.text, "http_request_duration"))
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(timeout=5) as outside:
            await outside.get(url)
