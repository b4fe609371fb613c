"""A lean HTTP/1.1 transport for httpx, for the calls between services on a request's path.

httpx's default transport (httpcore over h11 and anyio: locks, trace hooks, a pure-Python parser,
events per message) cost about 1 ms of CPU per call on the 2-core machine, as much as the rest of
a request the gateway forwards. `LeanTransport` keeps httpx's client (URL, headers, auth,
timeouts, redirects, the `httpx.Response` every caller reads) and replaces only the wire:
keep-alive connections as asyncio protocols, the request written in one `write`, the response
parsed by httptools (llhttp, the parser uvicorn serves with).

It takes plain `http://` requests whose body is already in memory (every request the gateway
forwards, every search the indexer sends) with the usual methods; anything else (`https://`, a
streamed body, HEAD, CONNECT ...) goes to httpx's own transport, as before. Failures are httpx's
exceptions (`ConnectError`, `ConnectTimeout`, `ReadTimeout`, `RemoteProtocolError`), so callers
that catch `httpx.HTTPError` need no change.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

import httptools
import httpx

TAKEN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "OPTIONS"})
_FORBIDDEN_IN_HEADERS = (b"\r", b"\n", b"\0")


class Disconnected(httpx.RemoteProtocolError):
    """The server closed the connection before a whole response; `nothing_received`: not one byte
    of it (a kept-alive connection the server closed just as it was reused)."""

    def __init__(self, message: str, *, nothing_received: bool) -> None:
        super().__init__(message)
        self.nothing_received = nothing_received


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, its response parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser: httptools.HttpResponseParser | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._received = False
        self._headers_done = False
        self._complete = False
        self._keep_alive = False
        self._reads = 0

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self._received = True
        self._reads += 1
        if self._parser is None:  # bytes no request asked for: this connection cannot be trusted again
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed response: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and self._until_close():
            self._complete = True  # a body delimited by the end of the connection
            self._waiter.set_result(None)
        else:
            message = "server disconnected without sending a complete response"
            self._fail(Disconnected(message, nothing_received=not self._received))

    # httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()  # llhttp forgets it once the message ends
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._headers, self._body, self._headers_done = [], [], False
            return
        self._complete = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ------------------------------------------------------------------------------------

    def _until_close(self) -> bool:
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def _check_read(self, reads: int, timeout: float) -> None:
        """The read timeout, as httpx means it: this long without a byte from the server."""
        if self._reads == reads:
            self._fail(httpx.ReadTimeout(f"no data from the server for {timeout} s"))
            self.close()
        else:
            self._timer = self.loop.call_later(timeout, self._check_read, self._reads, timeout)

    async def exchange(
        self, message: bytes, timeout: float | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Send one request (head and body in `message`) and read its whole response: status,
        headers, body, and whether the connection may carry another request."""
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._status, self._headers, self._body = 0, [], []
        self._received = self._headers_done = self._complete = self._keep_alive = False
        waiter = self._waiter = self.loop.create_future()
        if timeout is not None:
            self._timer = self.loop.call_later(timeout, self._check_read, self._reads, timeout)
        try:
            self.transport.write(message)
            await waiter
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            keep = self._complete and self._keep_alive and not self.closed
            self._parser = None
            self._waiter = None
            if not keep:  # failed, cancelled, or the server asked to close: never reused
                self.close()
        return self._status, self._headers, b"".join(self._body), keep

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """Kept-alive HTTP/1.1 connections per host and port, at most `max_connections` at once
    (further requests wait, as httpx's pool does) and `max_idle` kept between requests.

    A request on a kept-alive connection that the server had just closed (not one byte of an
    answer) is sent once more on a new connection when its method is idempotent."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_idle: int = 20,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_idle = max_idle
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._fallback = fallback or httpx.AsyncHTTPTransport()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        taken = url.scheme == "http" and request.method in TAKEN_METHODS
        if not (taken and isinstance(request.stream, httpx.ByteStream)):
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        status, headers, body = await self.exchange(
            (url.host, url.port or 80),
            request.method,
            _message(request),
            connect_timeout=timeouts.get("connect"),
            read_timeout=timeouts.get("read"),
        )
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(body), extensions={"http_version": b"HTTP/1.1"}
        )

    async def exchange(
        self,
        key: tuple[str, int],
        method: str,
        message: bytes,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Send `message` (a whole request to `key`, host and port) on a kept-alive connection
        and read its answer: status, headers, body."""
        async with self._slots:
            connection, reused = self._idle_connection(key), True
            if connection is None:
                connection, reused = await self._connect(key, connect_timeout), False
            try:
                status, headers, body, keep = await connection.exchange(message, read_timeout)
            except Disconnected as lost:
                if not (reused and lost.nothing_received and method in IDEMPOTENT_METHODS):
                    raise
                connection = await self._connect(key, connect_timeout)
                status, headers, body, keep = await connection.exchange(message, read_timeout)
            if keep:
                self._keep(key, connection)
        return status, headers, body

    def _idle_connection(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to have timed out
            if not connection.closed:
                return connection
        return None

    def _keep(self, key: tuple[str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(key, deque())
        if self._closed or len(idle) >= self.max_idle:
            connection.close()
        else:
            idle.append(connection)

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(lambda: _Connection(loop), key[0], key[1])
        except TimeoutError as error:
            raise httpx.ConnectTimeout(f"connecting to {key[0]}:{key[1]} took over {timeout} s") from error
        except OSError as error:
            raise httpx.ConnectError(f"cannot connect to {key[0]}:{key[1]}: {error}") from error
        return connection

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        await self._fallback.aclose()


def _message(request: httpx.Request) -> bytes:
    """The request's head and body as one buffer. Header values with CR, LF or NUL are refused
    (h11 refuses them too): no value can start a header or a request of its own."""
    parts = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if any(bad in value or bad in name for bad in _FORBIDDEN_IN_HEADERS):
            raise httpx.LocalProtocolError("illegal character in a header")
        parts += (name, b": ", value, b"\r\n")
    parts += (b"\r\n", request.content)
    return b"".join(parts)


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


class ServiceClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` for calls between services (`lean_client`), with `call`: the same
    request without httpx's request and response objects (URL merging, header and cookie
    handling, auth and redirect flows: about as much CPU as the transport itself)."""

    def __init__(self, **options: Any) -> None:
        self._lean = LeanTransport()
        super().__init__(transport=self._lean, **options)
        # An httpx client stores every `Set-Cookie` it is answered in its jar and sends it on
        # every later request to that host; one client carries the calls of every user (the
        # gateway's), so a cookie set in answer to one user's request would go out with the
        # next user's. Reading them was also a fifth of the client's CPU per call. httpx has no
        # switch for it: the jar is replaced (`cookies=` would be copied into a plain one).
        self._cookies = _NoCookies()
        base = self.base_url
        self._plain = base.scheme == "http"
        self._key = (base.host, base.port or 80)
        self._host = base.netloc
        self._prefix = base.raw_path.rstrip(b"/")

    async def call(
        self, method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None, content: bytes = b""
    ) -> Answer:
        """`method` `path` (absolute, under the base URL, percent-encoded) with `query` (an
        encoded query string), the client's own headers and `headers`: the whole answer.
        Errors are httpx's. Through httpx's request (`request`) when the client has an auth or
        event hooks, for https, and for other methods."""
        direct = self._plain and self.auth is None and method in TAKEN_METHODS
        if not direct or any(self.event_hooks.values()):
            response = await self.request(
                method, path, params=httpx.QueryParams(query), headers=headers, content=content
            )
            return Answer(response.status_code, list(response.headers.multi_items()), response.content)
        try:
            target = self._prefix + path.encode("ascii") + (b"?" + query.encode("ascii") if query else b"")
        except UnicodeEncodeError:
            raise httpx.LocalProtocolError("a path and query must be percent-encoded") from None
        if any(bad in target for bad in _NOT_IN_TARGETS):
            raise httpx.LocalProtocolError("a path and query must be percent-encoded")
        given = {name.lower(): value for name, value in (headers or {}).items()}
        parts = [method.encode(), b" ", target, b" HTTP/1.1\r\nhost: ", self._host, b"\r\n"]
        for name, value in self.headers.raw:
            if (low := name.lower()) not in _SET_PER_CALL and low.decode("latin-1") not in given:
                parts += (name, b": ", value, b"\r\n")
        for key, text in given.items():
            name, value = key.encode("latin-1"), text.encode("latin-1")
            if name in _SET_PER_CALL or not _safe(name, value):
                raise httpx.LocalProtocolError("illegal header")
            parts += (name, b": ", value, b"\r\n")
        if content or method in ("POST", "PUT", "PATCH"):
            parts += (b"content-length: ", str(len(content)).encode(), b"\r\n")
        parts += (b"\r\n", content)
        timeout = self.timeout
        status, raw, body = await self._lean.exchange(
            self._key, method, b"".join(parts), connect_timeout=timeout.connect, read_timeout=timeout.read
        )
        answer = Answer(
            status, [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw], body
        )
        if any(name == "content-encoding" for name, _ in answer.headers):  # not asked for; decoded all the same
            decoded = httpx.Response(status, headers=raw, stream=httpx.ByteStream(body))
            return Answer(status, answer.headers, decoded.read())
        return answer


_SET_PER_CALL = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection", b"accept-encoding"})
"""Headers `ServiceClient.call` writes itself (or leaves out: no compression between services);
a caller's own are refused."""
_NOT_IN_TARGETS = (b" ", b"\r", b"\n", b"\0", b"#")


def _safe(name: bytes, value: bytes) -> bool:
    return not any(bad in value or bad in name for bad in _FORBIDDEN_IN_HEADERS) and b":" not in name


def lean_client(**options: Any) -> ServiceClient:
    """A `ServiceClient(**options)`: `httpx.AsyncClient` on a `LeanTransport` (https and streamed
    bodies through httpx's own transport), keeping no cookie a service sets, with `call`."""
    return ServiceClient(**options)
