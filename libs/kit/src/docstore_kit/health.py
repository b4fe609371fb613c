"""`/healthz`, `/readyz` and `/metrics` for every service.

Metrics are Prometheus text from the process's default registry: the request histograms that
`install_metrics` records, the event metrics (`docstore_messaging.metrics`) and each service's own.
With `metrics_port` 0 the app answers `GET /metrics` itself; with a port, a listener of its own
serves them there (started with the lifespan) and the app has no `/metrics` at all, so an
ingress that routes only the app's port can never expose them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest, start_http_server
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info
from starlette.requests import Request
from starlette.responses import Response

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[object]]

METRICS_PATH = "/metrics"

REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status code",
    ["handler", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
"""One histogram per process (module level): prometheus-fastapi-instrumentator's own metric
functions register theirs per app and record nothing for a second app in the same process."""


async def _run_check(check: ReadinessCheck, timeout: float) -> str:
    try:
        result = await asyncio.wait_for(check(), timeout=timeout)
    except Exception as error:  # a readiness probe reports, it never raises
        return f"failed: {type(error).__name__}: {error}"[:300]
    return "ok" if result is not False else "failed"


def install_health(app: FastAPI, checks: Callable[[], Mapping[str, ReadinessCheck]], *, timeout: float = 3.0) -> None:
    """Add liveness and readiness (running each dependency check) routes to `app`.

    `checks` is called per request, so it can read clients the lifespan created.
    """
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: every real dependency answers")
    async def readyz() -> JSONResponse:
        named = dict(checks())
        results = await asyncio.gather(*(_run_check(check, timeout) for check in named.values()))
        report = dict(zip(named, results, strict=True))
        ready = all(value == "ok" for value in report.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report}, status_code=200 if ready else 503
        )

    app.include_router(router)


def _observe(info: Info) -> None:
    REQUEST_SECONDS.labels(info.modified_handler, info.method, info.modified_status).observe(info.modified_duration)


async def metrics_endpoint(_: Request) -> Response:
    """The process's metrics in Prometheus' text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, settings: Any) -> None:
    """Time every request of `app` (by route template, so `/documents/{document_id}` is one
    series, and exact status code) and serve the process's metrics.

    `settings.metrics_port` 0: `GET /metrics` on the app, answered directly (200, no redirect).
    A port: a separate listener on `settings.host` and that port, started when the lifespan
    starts and stopped when it ends; the app then has no `/metrics` route.
    """
    Instrumentator(
        should_group_status_codes=False,
        # A path no route matches (a scanner's guesses) is one series, not one per path.
        should_group_untemplated=True,
        excluded_handlers=[f"^{METRICS_PATH}$"],
    ).add(_observe).instrument(app)
    port = int(getattr(settings, "metrics_port", 0) or 0)
    if port <= 0:
        app.add_route(METRICS_PATH, metrics_endpoint, methods=["GET"], include_in_schema=False)
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_with_metrics_listener(app: Any) -> AsyncIterator[Any]:
        # Started here, not at import or build time: tests build many apps in one process.
        server, thread = start_http_server(port, addr=settings.host, registry=REGISTRY)
        log.info("metrics_listener_started", host=settings.host, port=port)
        try:
            async with inner(app) as state:
                yield state
        finally:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
            thread.join(timeout=5)

    app.router.lifespan_context = lifespan_with_metrics_listener
