"""Calls between services on a request's path: `ServiceClient`, an `httpx.AsyncClient` with `call`.

httpx's client and transport (URL merging, cookie, auth and redirect flows, Request/Response
objects, httpcore over h11 and anyio) cost about 1 ms of CPU per call on the 2-core machine, as
much as the rest of a request the gateway forwards. `call` sends the same request through
aiohttp instead (a maintained client: kept-alive connections, its C parser, its own checks that
no header or request line carries a control character), about a seventh of httpx's CPU per
call, and gives the whole answer back as an `Answer`. Everything else on the client (`get`,
`post`, `request`, streams, https) is plain httpx on its default transport.

`StreamClient` streams a GET of an absolute URL (S3's signed URLs) through aiohttp too: the
gateway passes a WebDAV GET's bytes from S3 on to the client with it.

Failures of `call` and `StreamClient` are httpx's exceptions (`ConnectError`, `ConnectTimeout`, `ReadTimeout`,
`RemoteProtocolError`, `LocalProtocolError`), so callers that catch `httpx.HTTPError` need no
change.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import httpx
from yarl import URL

TAKEN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods `call` sends through aiohttp; any other goes through httpx's `request`."""
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_SET_PER_CALL = frozenset({"host", "content-length", "transfer-encoding", "connection", "accept-encoding"})
"""Headers aiohttp writes itself (or that are left out: no compression between services); a
caller's own are refused, the client's defaults of these names are not sent."""
_NOT_IN_TARGETS = (" ", "\r", "\n", "\0", "#")
MAX_CONNECTIONS = 100
"""Connections of `call` per client at once (httpx's default); further calls wait for one, at
most the client's connect timeout (aiohttp counts the wait in it)."""
KEEPALIVE_SECONDS = 4.0
"""An idle connection is dropped after this long: under uvicorn's 5 s, so the server rarely
closes one just as it is reused (aiohttp sends an idempotent request once more if it does).
`limits=httpx.Limits(...)` sets both, as for httpx's own pool; `default_limits()` is the default
of every client made here, and the pool of any other size (`default_limits(max_connections=...)`)."""


def shared_ssl_context() -> ssl.SSLContext:
    """The SSL context httpx builds for `verify=True` (`SSL_CERT_FILE`, else `SSL_CERT_DIR`, else
    certifi's bundle), built once per process and trust setting. httpx builds a new one for every
    client, about 20 ms of CPU each (certifi's 150 roots are parsed again), paid by every client a
    service makes: at start, and per call where a client lives for one call. Pass it as `verify=`,
    or make clients with `async_client`/`sync_client`."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))


@functools.lru_cache(maxsize=4)
def _ssl_context(cert_file: str, cert_dir: str) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads the same two variables


def default_limits(*, max_connections: int = MAX_CONNECTIONS, max_keepalive_connections: int = 20) -> httpx.Limits:
    """httpx's default pool (100 connections, 20 kept alive, or the sizes given), with idle
    connections dropped after `KEEPALIVE_SECONDS` instead of httpx's 5 s. At 5 s, the same as
    uvicorn's, a connection reused after about 5 s idle can be closed by the server just as the
    request goes out, and the request fails with `RemoteProtocolError` without ever being answered.
    A client that needs a pool of its own size takes it from here, not from `httpx.Limits`."""
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )


def async_client(**options: Any) -> httpx.AsyncClient:
    """`httpx.AsyncClient(**options)` verifying TLS with `shared_ssl_context()` and with
    `default_limits()`, unless told otherwise."""
    options.setdefault("verify", shared_ssl_context())
    options.setdefault("limits", default_limits())
    return httpx.AsyncClient(**options)


def sync_client(**options: Any) -> httpx.Client:
    """`httpx.Client(**options)` verifying TLS with `shared_ssl_context()` and with
    `default_limits()`, unless told otherwise."""
    options.setdefault("verify", shared_ssl_context())
    options.setdefault("limits", default_limits())
    return httpx.Client(**options)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing a server sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


@dataclass(frozen=True)
class Answer:
    """A service's whole answer: status, headers (names in lower case), body (decoded)."""

    status: int
    headers: list[tuple[str, str]]
    content: bytes


class _LoopSession:
    """An aiohttp session made by `make` on first use inside the running loop, and again when the
    loop changed or the session was closed (an aiohttp session belongs to one loop)."""

    def __init__(self, make: Callable[[], aiohttp.ClientSession]) -> None:
        self._make = make
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session = self._make()
            self._loop = loop
        return self._session

    async def close(self) -> None:
        """Closes the session if it was made in this loop (another loop's cannot be awaited here)."""
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


class ServiceClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` for calls between services (`lean_client`) that keeps no cookie a
    service sets, with `call`: the same request through one aiohttp session per client, without
    httpx's request and response objects."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("verify", shared_ssl_context())
        options.setdefault("limits", default_limits())
        super().__init__(**options)
        # An httpx client stores every `Set-Cookie` it is answered in its jar and sends it on
        # every later request to that host; one client carries the calls of every user (the
        # gateway's), so a cookie set in answer to one user's request would go out with the
        # next user's. Reading them was also a fifth of the client's CPU per call. httpx has no
        # switch for it: the jar is replaced (`cookies=` would be copied into a plain one).
        self._cookies = _NoCookies()
        base = self.base_url
        # A transport or mounts handed in (an ASGI app in a test) must see every request.
        self._direct = base.scheme == "http" and "transport" not in options and not options.get("mounts")
        self._origin = f"http://{base.netloc.decode('ascii')}{base.raw_path.decode('ascii').rstrip('/')}"
        limits: httpx.Limits | None = options.get("limits")
        self._max_connections = (limits.max_connections if limits else None) or MAX_CONNECTIONS
        self._keepalive = (
            limits.keepalive_expiry if limits and limits.keepalive_expiry is not None else KEEPALIVE_SECONDS
        )
        self._session = _LoopSession(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        timeout = self.timeout
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive),
            # The same promise as `_NoCookies`: no cookie a service sets is kept or sent.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, connect=timeout.connect, sock_read=timeout.read),
            # No compression between services; no content type a caller did not give (aiohttp
            # would say application/octet-stream, and FastAPI reads such a body as no JSON).
            skip_auto_headers=("Accept-Encoding", "Content-Type"),
        )

    async def call(
        self, method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None, content: bytes = b""
    ) -> Answer:
        """`method` `path` (absolute, under the base URL, percent-encoded) with `query` (an
        encoded query string), the client's own headers and `headers`: the whole answer.
        Errors are httpx's. Through httpx's request (`request`) when the client has an auth or
        event hooks, for https, for a transport handed in, and for other methods."""
        direct = self._direct and self.auth is None and method in TAKEN_METHODS
        if not direct or any(self.event_hooks.values()):
            return await _through_httpx(self, method, path, query=query, headers=headers, content=content)
        target = path + ("?" + query if query else "")
        if not target.isascii() or any(bad in target for bad in _NOT_IN_TARGETS):
            raise httpx.LocalProtocolError("a path and query must be percent-encoded")
        sent = {name: value for name, value in self.headers.multi_items() if name not in _SET_PER_CALL}
        for name, value in (headers or {}).items():
            if (low := name.lower()) in _SET_PER_CALL or ":" in low:
                raise httpx.LocalProtocolError(f"a call may not set the header {name!r}")
            sent[low] = value
        body = content if content or method in _WITH_BODY else None
        with _httpx_errors(f"{method} {self._origin}{path}"):
            async with self._session.current().request(
                method, URL(self._origin + target, encoded=True), headers=sent, data=body, allow_redirects=False
            ) as answered_by:
                data = await answered_by.read()
                answered = [(name.lower(), value) for name, value in answered_by.headers.items()]
                return Answer(answered_by.status, answered, data)

    async def aclose(self) -> None:
        await self._session.close()
        await super().aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._session.close()
        await super().__aexit__(exc_type, exc_value, traceback)


@contextlib.contextmanager
def _httpx_errors(what: str) -> Iterator[None]:
    """aiohttp's failures raised as httpx's, so callers that catch `httpx.HTTPError` need no change."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as error:  # connecting, or waiting for a pooled connection
        raise httpx.ConnectTimeout(f"{what}: {error}") from error
    except aiohttp.ServerTimeoutError as error:  # no byte from the server for the read timeout
        raise httpx.ReadTimeout(f"{what}: {error}") from error
    except aiohttp.InvalidURL as error:
        raise httpx.LocalProtocolError(f"{what}: {error}") from error
    except aiohttp.ClientConnectorError as error:
        raise httpx.ConnectError(f"{what}: {error}") from error
    except aiohttp.ClientError as error:  # disconnected, a malformed answer, a broken body
        raise httpx.RemoteProtocolError(f"{what}: {error!r}") from error
    except ValueError as error:  # aiohttp's refusal of a control character in a header
        raise httpx.LocalProtocolError(f"{what}: {error}") from error


class Streamed:
    """An answer whose body is read as it arrives: `chunks()` yields it as the socket gives it
    (no re-cutting, no copy); `aclose()` lets the connection go, back to the pool when the body
    was read to its end. Failures while reading are httpx's exceptions."""

    def __init__(self, response: aiohttp.ClientResponse, what: str) -> None:
        self._response = response
        self._what = what
        self.status = response.status
        self.headers: dict[str, str] = {}
        """The answer's headers, names in lower case (a repeated one's values joined by commas, as
        httpx does)."""
        for name, value in response.headers.items():
            low = name.lower()
            self.headers[low] = f"{self.headers[low]}, {value}" if low in self.headers else value

    async def chunks(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._what):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:  # a body not read to its end cannot share the connection with the next request
            self._response.close()


class _ShortBody(Exception):
    """A body sent with a Content-Length ended before that many bytes."""


async def _whole(body: AsyncIterable[bytes], length: int | None, what: str) -> AsyncIterator[bytes]:
    """`body` as it is read; ending short of `length` raises, so aiohttp closes the connection.

    A server may answer on a request's head (the webdav service's 413, or 507 over quota), and the
    gateway passes that answer on with Starlette's StreamingResponse, which reads the same ASGI
    receive channel for a disconnect while it sends (ASGI 2.3, as uvicorn speaks it): the body
    still being sent loses chunks to it and ends short. A body that simply ends is one aiohttp
    thinks sent whole, and it keeps the connection for the next request, which the server then
    reads as the rest of this body: that request hangs (CI on 220b2ee). An exception from the
    body is what makes aiohttp drop the connection instead."""
    sent = 0
    async for chunk in body:
        sent += len(chunk)
        yield chunk
    if length is not None and sent < length:
        raise _ShortBody(f"{what}: the body ended after {sent} of its {length} bytes")


class StreamClient:
    """Requests to absolute URLs (S3's signed URLs, a service's WebDAV routes) whose bodies are
    passed on as they arrive, both ways, through aiohttp: for a 1 GiB body read, about a third
    of the CPU of httpx's `aiter_raw` (aiohttp's C parser hands on what each read gave; httpx's
    h11 copies every 64 KiB read through its buffer); for one sent, about half. The URL goes out
    exactly as given (a signature covers its encoding). `read_timeout` None: no limit."""

    def __init__(
        self, *, connect_timeout: float = 5.0, read_timeout: float | None = 60.0, max_connections: int = 100
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._max_connections = max_connections
        self._session = _LoopSession(self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS, ssl=shared_ssl_context()
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=self._timeout,
            auto_decompress=False,  # the bytes as stored, passed on unchanged
            skip_auto_headers=("Accept-Encoding",),
        )

    async def get(self, url: str, headers: dict[str, str] | None = None) -> Streamed:
        """`GET url` with `headers`; the answer once its headers arrived. `aclose()` it."""
        return await self.request("GET", url, headers)

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: AsyncIterable[bytes] | None = None
    ) -> Streamed:
        """`method url` with exactly `headers` (no User-Agent or Content-Type of aiohttp's own) and
        `body` sent as it is read: with the Content-Length of `headers`, else chunked. The answer
        once its headers arrived; `aclose()` it."""
        what = f"{method} {url.partition('?')[0]}"  # never the query: a signed URL's is a credential
        length = next((value for name, value in (headers or {}).items() if name.lower() == "content-length"), None)
        with _httpx_errors(what):
            response = await self._session.current().request(
                method,
                URL(url, encoded=True),
                headers=headers or {},
                data=None if body is None else _whole(body, int(length) if length else None, what),
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Content-Type"),
            )
        return Streamed(response, what)

    async def aclose(self) -> None:
        await self._session.close()


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    content: bytes = b"",
) -> Answer:
    """`ServiceClient.call` on any httpx client: a `ServiceClient`'s own `call`, and for another
    (a client a test hands in, on an in-process app's ASGI transport) the same request through
    httpx, the answer in the same shape."""
    if isinstance(client, ServiceClient):
        return await client.call(method, path, query=query, headers=headers, content=content)
    return await _through_httpx(client, method, path, query=query, headers=headers, content=content)


async def _through_httpx(
    client: httpx.AsyncClient, method: str, path: str, *, query: str, headers: dict[str, str] | None, content: bytes
) -> Answer:
    response = await client.request(method, path, params=httpx.QueryParams(query), headers=headers, content=content)
    return Answer(response.status_code, list(response.headers.multi_items()), response.content)


def lean_client(**options: Any) -> ServiceClient:
    """A `ServiceClient(**options)`: an `httpx.AsyncClient` keeping no cookie a service sets,
    with `call` through aiohttp."""
    return ServiceClient(**options)
