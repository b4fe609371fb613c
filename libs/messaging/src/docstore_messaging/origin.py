"""Where a request came from (the client's address and user agent), carried with its events.

The gateway sees the client's peer address and forwards it to the services as
`X-DocStore-Client-Address` (dropping any such header a client sent), with the client's
`User-Agent`. `docstore_kit.app`'s middleware puts both into `current_origin` for the
request; the outbox stamps them on every record written while it is set, as the CloudEvents
extension attributes `clientaddress` and `useragent` (Kafka headers `ce_clientaddress`,
`ce_useragent`). Consumers read them from `Envelope.extra_headers` (`origin_of`). Events
themselves gain no address fields: the origin is a fact about the request, not the change.

A ContextVar rather than a parameter: the use cases, unit of work and outbox stay unaware of
HTTP, and each request (each asyncio task) sees only its own origin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

CLIENT_ADDRESS_HEADER = "x-docstore-client-address"
"""The header the gateway sets from the peer it sees (lower case, as ASGI and httpx give names)."""
USER_AGENT_HEADER = "user-agent"
CE_CLIENT_ADDRESS = "ce_clientaddress"
CE_USER_AGENT = "ce_useragent"

MAX_ADDRESS_CHARS = 64
"""An IPv6 address with a zone fits; anything longer is not an address."""
MAX_USER_AGENT_CHARS = 512
"""User agents are free text chosen by the client: bounded, so an event header stays small."""


@dataclass(frozen=True)
class RequestOrigin:
    """Who is calling, as far as the network tells: the client's address and user agent."""

    client_address: str | None = None
    user_agent: str | None = None

    def headers(self) -> dict[str, str]:
        """The CloudEvents extension headers for this origin (only those that are known)."""
        found = {}
        if self.client_address:
            found[CE_CLIENT_ADDRESS] = self.client_address
        if self.user_agent:
            found[CE_USER_AGENT] = self.user_agent
        return found


current_origin: ContextVar[RequestOrigin | None] = ContextVar("docstore_request_origin", default=None)


def _clean(value: str | None, limit: int) -> str | None:
    # Header values reach Kafka headers and audit records: printable text only, bounded.
    if not value:
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()[:limit]
    return text or None


def origin_from_headers(headers: Mapping[str, str]) -> RequestOrigin:
    """The origin a service reads from a forwarded request's headers (names in lower case)."""
    return RequestOrigin(
        client_address=_clean(headers.get(CLIENT_ADDRESS_HEADER), MAX_ADDRESS_CHARS),
        user_agent=_clean(headers.get(USER_AGENT_HEADER), MAX_USER_AGENT_CHARS),
    )


def origin_headers() -> dict[str, str]:
    """The extension headers of the origin current in this context (empty outside a request)."""
    origin = current_origin.get()
    return origin.headers() if origin else {}


def origin_of(extra_headers: Mapping[str, str]) -> RequestOrigin:
    """The origin a consumer reads back from an envelope's `extra_headers`."""
    return RequestOrigin(
        client_address=_clean(extra_headers.get(CE_CLIENT_ADDRESS), MAX_ADDRESS_CHARS),
        user_agent=_clean(extra_headers.get(CE_USER_AGENT), MAX_USER_AGENT_CHARS),
    )


@contextmanager
def request_origin(origin: RequestOrigin | None) -> Iterator[None]:
    """Make `origin` current for the block (the middleware's, and tests')."""
    token = current_origin.set(origin)
    try:
        yield
    finally:
        current_origin.reset(token)


@contextmanager
def kept_origin(kept: Mapping[str, str] | None) -> Iterator[None]:
    """Make an origin kept with work that finishes later (an upload's session holds the
    `origin_headers()` of the request that began it) current for the block, unless a request's
    own is (the client finishing its upload itself is the better witness)."""
    if current_origin.get() is not None or not kept:
        yield
        return
    with request_origin(origin_of(kept)):
        yield
