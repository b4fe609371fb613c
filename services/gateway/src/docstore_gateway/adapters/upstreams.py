"""Forwarding a request to the service the route table names, with the identity the gateway vouches for."""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry import propagate

from docstore_gateway.adapters.sessions import Caller
from docstore_kit.auth import InternalAuth

FORWARDED_HEADERS = ("content-type", "accept", "if-match", "if-none-match")
RETURNED_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control")


class UpstreamUnavailable(Exception):
    """The owning service did not answer."""


class Upstreams:
    def __init__(self, clients: dict[str, httpx.AsyncClient], auth: InternalAuth) -> None:
        self.clients = clients
        self.auth = auth

    async def forward(
        self, service: str, method: str, path: str, *, query: str, headers: dict[str, str], body: bytes,
        caller: Caller | None, as_service: bool = False,
    ) -> httpx.Response:
        """Send the request on with only safe headers, and the account the gateway vouches for:
        an identity token minted for this one service (`caller`), or the gateway's own
        service identity (`as_service`, for the login check), or none (public routes)."""
        outgoing = {name: value for name, value in headers.items() if name.lower() in FORWARDED_HEADERS}
        if caller:
            outgoing |= self.auth.headers(audience=service, subject=caller.account_id, role=caller.role)
        elif as_service:
            outgoing |= self.auth.headers(audience=service, subject=self.auth.service, role="service")
        propagate.inject(outgoing)
        try:
            return await self.clients[service].request(
                method, f"/{path}", params=httpx.QueryParams(query), headers=outgoing, content=body
            )
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(service) from error

    async def openapi(self, service: str) -> dict[str, Any] | None:
        try:
            response = await self.clients[service].get("/openapi.json")
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
