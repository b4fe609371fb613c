"""The one handler for the gateway's refusals (`domain/errors.py`).

Registered for `GatewayError`, it is more specific than kit's `DomainError` handler, so the
gateway's answers keep their shape: `body()` (a problem for an error) with `headers()`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from docstore_gateway.domain.errors import GatewayError


def answer(error: GatewayError) -> JSONResponse:
    return JSONResponse(
        status_code=error.status, content=error.body(), headers=error.headers(), media_type=error.media_type()
    )


def install_error_handler(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return answer(exc)
