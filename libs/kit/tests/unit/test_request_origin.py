"""The request-origin middleware: services trust the gateway's forwarded address, the gateway
trusts only the peer it sees; the origin is current while the route runs, and only then."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from docstore_kit.request_origin import RequestOriginMiddleware
from docstore_messaging.origin import current_origin


def app_seeing_origin(*, from_peer: bool) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestOriginMiddleware, from_peer=from_peer)

    @app.get("/origin")
    async def origin() -> dict[str, str | None]:
        found = current_origin.get()
        assert found is not None
        return {"address": found.client_address, "agent": found.user_agent}

    return app


async def call(app: FastAPI, headers: dict[str, str]) -> dict[str, str | None]:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/origin", headers=headers)
    assert response.status_code == 200
    body: dict[str, str | None] = response.json()
    return body


async def test_a_service_takes_the_address_the_gateway_forwarded_and_the_user_agent() -> None:
    got = await call(
        app_seeing_origin(from_peer=False),
        {"X-DocStore-Client-Address": "203.0.113.9", "User-Agent": "Mozilla/5.0 (X11) Firefox/140"},
    )
    assert got == {"address": "203.0.113.9", "agent": "Mozilla/5.0 (X11) Firefox/140"}


async def test_the_gateway_takes_the_peer_and_ignores_a_client_sent_address() -> None:
    got = await call(app_seeing_origin(from_peer=True), {"X-DocStore-Client-Address": "6.6.6.6", "User-Agent": "ua"})
    assert got == {"address": "192.0.2.10", "agent": "ua"}


async def test_the_origin_does_not_outlive_the_request() -> None:
    await call(app_seeing_origin(from_peer=False), {"X-DocStore-Client-Address": "203.0.113.9"})
    assert current_origin.get() is None
