"""Which service answers which public path, and forwarding a request there."""

from __future__ import annotations

import re
from typing import Any

import httpx
from opentelemetry import propagate

from docstore_gateway.adapters.sessions import Caller
from docstore_kit.auth import InternalAuth

# First segment of the public path (after /v1) -> the service that owns it.
ROUTES: dict[str, str] = {
    "accounts": "metadata",
    "account": "metadata",
    "documents": "metadata",
    "uploads": "upload",
    "usage": "quota",
    "search": "indexer",
    "notifications": "notify",
    "changes": "metadata",
    "sync": "metadata",
    "shared": "metadata",
    "admin": "quota",
}
# First segments only accounts with the admin role may reach.
ADMIN_ONLY = frozenset({"admin"})
# Routes anyone may call without a token: sign-up, the page S3 sends a browser to after a
# form upload, and a mail's unsubscribe link (both links carry a signature instead).
PUBLIC: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"accounts")),
    ("GET", re.compile(r"uploads/[^/]+/done/[^/]+")),
    ("GET", re.compile(r"notifications/unsubscribe/[^/]+")),
)
FORWARDED_HEADERS = ("content-type", "accept", "if-match", "if-none-match")
RETURNED_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control")


class UpstreamUnavailable(Exception):
    """The owning service did not answer."""


def is_public(method: str, path: str) -> bool:
    """Whether `method path` (path without `/v1/`) needs no bearer token."""
    return any(method.upper() == m and pattern.fullmatch(path.strip("/")) for m, pattern in PUBLIC)


def admin_only(path: str) -> bool:
    return path.split("/", 1)[0] in ADMIN_ONLY


def owner_of(path: str) -> str | None:
    """The service owning a public path like `documents/123`, or None for an unknown path."""
    return ROUTES.get(path.split("/", 1)[0])


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
