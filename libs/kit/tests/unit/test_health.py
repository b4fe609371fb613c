"""`/healthz`, `/readyz` and `/metrics`: readiness runs every check, reports each by name, and
answers 503 when one fails, raises or hangs (a probe reports, it never raises)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from docstore_kit.health import ReadinessCheck, install_health, install_metrics


def app_with(checks: Mapping[str, ReadinessCheck], *, timeout: float = 3.0) -> FastAPI:
    app = FastAPI()
    install_health(app, lambda: checks, timeout=timeout)
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", follow_redirects=True) as client:
        return await client.get(path)


async def ok() -> object:
    return {"ok": 1}


async def refuses() -> object:
    return False


async def raises() -> object:
    raise ConnectionError("no route to host")


async def hangs() -> object:
    await asyncio.Event().wait()
    return True


async def test_liveness_needs_no_dependency() -> None:
    response = await get(app_with({"mongodb": raises}), "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_every_check_answers() -> None:
    response = await get(app_with({"mongodb": ok, "kafka": ok}), "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"mongodb": "ok", "kafka": "ok"}}


async def test_not_ready_names_the_failing_checks() -> None:
    response = await get(app_with({"mongodb": ok, "kafka": refuses, "s3": raises}), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {
        "mongodb": "ok",
        "kafka": "failed",
        "s3": "failed: ConnectionError: no route to host",
    }


async def test_a_hanging_check_times_out_instead_of_hanging_the_probe() -> None:
    response = await get(app_with({"typesense": hangs}, timeout=0.05), "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["typesense"].startswith("failed: TimeoutError")


async def test_checks_are_read_per_request() -> None:
    checks: dict[str, ReadinessCheck] = {}
    app = FastAPI()
    install_health(app, lambda: checks)
    assert (await get(app, "/readyz")).json() == {"status": "ready", "checks": {}}
    checks["mongodb"] = refuses  # e.g. a client the lifespan built after the app
    assert (await get(app, "/readyz")).status_code == 503


async def test_metrics_answer_200_directly_with_a_histogram_per_route_template() -> None:
    app = app_with({})
    install_metrics(app, SimpleNamespace(metrics_port=0, host="127.0.0.1"))

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    labels = {"handler": "/things/{thing_id}", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/things/a")).status_code == 200
        assert (await client.get("/things/b")).status_code == 200
        response = await client.get("/metrics")  # no redirect to follow
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    buckets = [line for line in response.text.splitlines() if line.startswith("http_request_duration_seconds_bucket")]
    assert any('handler="/things/{thing_id}"' in line and 'status="200"' in line for line in buckets)
    assert REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) == before + 2
    assert "/things/a" not in response.text  # one series per template, not per path
