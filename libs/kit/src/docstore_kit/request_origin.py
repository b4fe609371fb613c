"""The middleware that makes a request's origin (client address, user agent) current.

Behind the gateway a service takes the origin from the headers the gateway forwards
(`X-DocStore-Client-Address`, which the gateway sets from the peer it sees and never passes on
from a client, and `User-Agent`). The gateway itself, facing clients, takes the peer address the
server reports and ignores any such header. The outbox stamps the current origin on every event
written during the request (`docstore_messaging.origin`).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from docstore_messaging.origin import (
    CLIENT_ADDRESS_HEADER,
    USER_AGENT_HEADER,
    RequestOrigin,
    origin_from_headers,
    request_origin,
)


def _headers(scope: Scope) -> dict[str, str]:
    # ASGI header names are lower-case bytes; values are latin-1 per the HTTP spec.
    wanted = {CLIENT_ADDRESS_HEADER.encode(), USER_AGENT_HEADER.encode()}
    return {name.decode(): value.decode("latin-1") for name, value in scope.get("headers", ()) if name in wanted}


class RequestOriginMiddleware:
    """Pure ASGI (no task hop), so the ContextVar it sets is the one the route's code sees.

    `from_peer`: take the client address from the connection (the gateway), not from the
    forwarded header (every service behind it)."""

    def __init__(self, app: ASGIApp, *, from_peer: bool = False) -> None:
        self.app = app
        self.from_peer = from_peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if self.from_peer:
            client: Any = scope.get("client")
            headers[CLIENT_ADDRESS_HEADER] = str(client[0]) if client else ""
        origin: RequestOrigin = origin_from_headers(headers)
        with request_origin(origin):
            await self.app(scope, receive, send)
