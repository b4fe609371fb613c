"""`/healthz`, `/readyz` and `/metrics` for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

ReadinessCheck = Callable[[], Awaitable[object]]


async def _run_check(check: ReadinessCheck, timeout: float) -> str:
    try:
        result = await asyncio.wait_for(check(), timeout=timeout)
    except Exception as error:  # a readiness probe reports, it never raises
        return f"failed: {type(error).__name__}: {error}"[:300]
    return "ok" if result is not False else "failed"


def install_health(app: FastAPI, checks: Callable[[], Mapping[str, ReadinessCheck]], *, timeout: float = 3.0) -> None:
    """Add liveness, readiness (running each dependency check) and Prometheus routes to `app`.

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
    app.mount("/metrics", make_asgi_app())
