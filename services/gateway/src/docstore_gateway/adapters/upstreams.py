"""The services behind the gateway, over HTTP: forwarding a request with the identity the
gateway vouches for, the login's credential check, and each service's OpenAPI document."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
from opentelemetry import propagate
from prometheus_client import Histogram

from docstore_gateway.adapters.answers import (
    app_password_answer,
    credentials_answer,
    link_answer,
    redeem_answer,
    second_factor_answer,
)
from docstore_gateway.domain.answers import (
    AppPasswordAnswer,
    CredentialsAnswer,
    LinkAnswer,
    RedeemAnswer,
    SecondFactorAnswer,
    UpstreamAnswer,
)
from docstore_gateway.domain.errors import UpstreamUnavailable
from docstore_gateway.domain.routing import IDENTITY
from docstore_gateway.domain.sessions import Caller
from docstore_kit.auth import InternalAuth
from docstore_kit.http_transport import call
from docstore_messaging.origin import current_origin

FORWARDED_HEADERS = ("content-type", "accept", "if-match", "if-none-match", "user-agent")
CLIENT_ADDRESS = "x-docstore-client-address"
"""The client's address as the gateway saw it (audit trail, `docstore_messaging.origin`); never a
client's own: it is not in FORWARDED_HEADERS, so one a client sent is dropped."""
RETURNED_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control")
ACCOUNTS = IDENTITY
"""The service that checks passwords, second factors and app passwords (the owner of identity)."""
LINKS = "links"
"""The service that resolves and redeems public share links (the share page)."""

upstream_seconds = Histogram(
    "docstore_gateway_upstream_duration_seconds",
    "Time of a request the gateway sent to a service, by service, method and status "
    "(`unavailable`: no answer). The gateway's own histogram has one route for all it forwards.",
    ["upstream", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class Upstreams:
    def __init__(
        self,
        clients: dict[str, httpx.AsyncClient],
        auth: InternalAuth,
        held_clients: dict[str, httpx.AsyncClient] | None = None,
    ) -> None:
        self.clients = clients
        self.auth = auth
        self.held_clients = held_clients or {}
        """Per service with long polls: a client (and connection pool) of their own, so held
        requests never take the connections every other request needs."""

    async def forward(
        self,
        service: str,
        method: str,
        path: str,
        *,
        query: str,
        headers: dict[str, str],
        body: bytes,
        caller: Caller | None,
        as_service: bool = False,
        client_address: str | None = None,
        held: bool = False,
    ) -> UpstreamAnswer:
        """Send the request on with only safe headers, and the account the gateway vouches for:
        an identity token minted for this one service (`caller`), or the gateway's own
        service identity (`as_service`, for the login check), or none (public routes)."""
        outgoing = {name: value for name, value in headers.items() if name.lower() in FORWARDED_HEADERS}
        # The client's origin (the peer the gateway saw, its user agent) goes with every call,
        # the login's credential check included, so the events it causes name it (audit trail).
        origin = current_origin.get()
        address = client_address or (origin.client_address if origin else None)
        if address:
            outgoing[CLIENT_ADDRESS] = address
        if origin and origin.user_agent and not any(name.lower() == "user-agent" for name in outgoing):
            outgoing["user-agent"] = origin.user_agent
        if caller:
            outgoing |= self.auth.headers(audience=service, subject=caller.account_id, role=caller.role)
        elif as_service:
            outgoing |= self.auth.headers(audience=service, subject=self.auth.service, role="service")
        propagate.inject(outgoing)
        started = time.perf_counter()
        try:
            answer = await call(
                (self.held_clients.get(service) if held else None) or self.clients[service],
                method,
                f"/{path}",
                query=str(httpx.QueryParams(query)),
                headers=outgoing,
                content=body,
            )
        except httpx.HTTPError as error:
            upstream_seconds.labels(service, method, "unavailable").observe(time.perf_counter() - started)
            raise UpstreamUnavailable(service) from error
        upstream_seconds.labels(service, method, str(answer.status)).observe(time.perf_counter() - started)
        returned: dict[str, str] = {}
        for name, value in answer.headers:
            if (name := name.lower()) in RETURNED_HEADERS:  # a repeated header: its values joined, as httpx does
                returned[name] = f"{returned[name]}, {value}" if name in returned else value
        return UpstreamAnswer(answer.status, answer.content, returned)

    async def _ask(self, path: str, payload: dict[str, Any], service: str = ACCOUNTS) -> UpstreamAnswer:
        """POST `payload` to `service`'s internal `path` (the accounts service's unless named), as
        the gateway itself (service identity). Credentials and tokens travel in the body only, never
        in a path or query."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return await self.forward(
            service,
            "POST",
            path,
            query="",
            headers={"content-type": "application/json"},
            body=body.encode(),
            caller=None,
            as_service=True,
        )

    async def verify_credentials(self, username: str, password: str) -> CredentialsAnswer:
        """The accounts service's answer to a username and password (the login's first step)."""
        answer = await self._ask("internal/credentials/verify", {"username": username, "password": password})
        return credentials_answer(answer)

    async def verify_second_factor(self, account_id: str, code: str) -> SecondFactorAnswer:
        """The accounts service's answer to a second-factor code for the account (the login's
        second step)."""
        answer = await self._ask(f"internal/accounts/{quote(account_id, safe='')}/mfa/verify", {"code": code})
        return second_factor_answer(answer)

    async def verify_app_password(self, username: str, password: str) -> AppPasswordAnswer:
        """The accounts service's answer to a username and app password (HTTP Basic at the edge)."""
        answer = await self._ask("internal/app-passwords/verify", {"username": username, "password": password})
        return app_password_answer(answer)

    async def resolve_link(self, token: str) -> LinkAnswer:
        """What a public link's page shows (counts nothing); UpstreamUnavailable when the links
        service does not answer or fails."""
        return link_answer(await self._ask("internal/links/resolve", {"token": token}, LINKS))

    async def redeem_link(self, token: str, password: str | None) -> RedeemAnswer:
        """Every check, one download counted, a signed URL; UpstreamUnavailable as `resolve_link`."""
        return redeem_answer(await self._ask("internal/links/redeem", {"token": token, "password": password}, LINKS))

    async def openapi(self, service: str) -> dict[str, Any] | None:
        try:
            response = await self.clients[service].get("/openapi.json")
            response.raise_for_status()
            spec: dict[str, Any] = response.json()
            return spec
        except (httpx.HTTPError, ValueError):
            return None

    async def aclose(self) -> None:
        for client in {id(c): c for c in [*self.clients.values(), *self.held_clients.values()]}.values():
            await client.aclose()
