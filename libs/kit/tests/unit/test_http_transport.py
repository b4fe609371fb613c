"""`ServiceClient` on real sockets (a server on a free port that counts its connections and the
requests it reads): `call` sends what httpx's `request` would and reads the whole answer (sized,
chunked, until the connection ends, compressed), over one kept-alive connection, on asyncio and
uvloop; a kept-alive connection the server closed is replaced and a lost request sent again only
when idempotent; failures are httpx's exceptions (timeouts, waiting for a pooled connection,
refusals, malformed answers); no header, path or query can inject a line; no cookie a service
sets is kept or sent with a later call; what `call` does not take goes through httpx; closing
the client closes its connections. `StreamClient` streams bodies both ways, and a body that ends
short of its length never leaves its connection to the next request."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from docstore_kit.http_transport import StreamClient, lean_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
PATIENCE = 30.0
"""How long a test waits for a condition (the machine is shared and loaded)."""


@dataclass
class Server:
    url: str
    connections: int = 0
    closed: int = 0
    requests: list[bytes] = field(default_factory=list)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(PATIENCE):
        while not condition():
            await asyncio.sleep(0.01)


def read_request_of(
    server: Server,
) -> Callable[[asyncio.StreamReader], Awaitable[tuple[bytes, dict[bytes, bytes], bytes] | None]]:
    async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes] | None:
        """One request off the connection: request line, headers (lower-case names), body; None at its end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        line, *rest = head[:-4].split(b"\r\n")
        server.requests.append(line)
        headers = {name.strip().lower(): value.strip() for name, value in (h.split(b":", 1) for h in rest)}
        body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
        return line, headers, body

    return read_request


def answer(status: int, body: bytes, *extra: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} X".encode(), f"content-length: {len(body)}".encode(), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


@asynccontextmanager
async def server(make: Callable[[Server], Handler]) -> AsyncIterator[Server]:
    """A server on a free port running `make(server)` per connection."""
    state = Server(url="")
    handler = make(state)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            state.closed += 1

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        listening.close()


def echo(state: Server) -> Handler:
    """Answers every request on the connection with what it received, as JSON."""
    read_request = read_request_of(state)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            line, headers, body = request
            seen = {"line": line.decode(), "headers": {k.decode(): v.decode() for k, v in headers.items()}}
            payload = json.dumps(seen | {"body": body.decode()}).encode()
            writer.write(answer(200, payload, b"content-type: application/json", b"x-served: yes"))
            await writer.drain()

    return handle


async def test_call_sends_what_request_would_and_reads_the_whole_answer() -> None:
    async with (
        server(echo) as srv,
        lean_client(base_url=srv.url + "/base/", headers={"x-api-key": "k"}, timeout=5) as client,
    ):
        query = str(httpx.QueryParams({"q": 'a "b" é&c', "n": 1}))
        got = await client.call("GET", "/search", query=query, headers={"User-Agent": "gw", "x-id": "t"})
        assert got.status == 200 and ("x-served", "yes") in got.headers
        seen = json.loads(got.content)
        assert seen["line"] == f"GET /base/search?{query} HTTP/1.1"
        assert seen["headers"]["x-api-key"] == "k" and seen["headers"]["x-id"] == "t"
        assert seen["headers"]["user-agent"] == "gw"  # the caller's, once: not also httpx's or aiohttp's
        assert seen["headers"]["host"] == srv.url.removeprefix("http://")
        assert "accept-encoding" not in seen["headers"] and "content-length" not in seen["headers"]
        plain = json.loads((await client.call("GET", "/x")).content)
        assert plain["headers"]["user-agent"].startswith("python-httpx/")  # the client's default
        posted = json.loads((await client.call("POST", "/notes", content=b'{"a":1}')).content)
        assert posted["line"] == "POST /base/notes HTTP/1.1" and posted["body"] == '{"a":1}'
        assert posted["headers"]["content-length"] == "7" and "content-type" not in posted["headers"]
        typed = await client.call("PUT", "/notes/1", headers={"Content-Type": "application/json"}, content=b"{}")
        assert json.loads(typed.content)["headers"]["content-type"] == "application/json"
        for _ in range(5):
            assert (await client.call("DELETE", "/notes/1")).status == 200
        assert srv.connections == 1  # one kept-alive connection for all nine


async def test_the_rest_of_the_client_is_httpx() -> None:
    async with server(echo) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        got = await client.get("/search", params={"q": "a b&c", "tag": ["x", "y"]}, headers={"x-id": "t"})
        assert isinstance(got, httpx.Response) and got.headers["x-served"] == "yes"
        assert got.json()["line"] == "GET /search?q=a+b%26c&tag=x&tag=y HTTP/1.1"
        posted = await client.post("/notes", json={"text": "é"})
        assert json.loads(posted.json()["body"]) == {"text": "é"}


def test_on_uvloop_as_the_services_run() -> None:
    import uvloop

    async def calls() -> list[int]:
        async with server(echo) as srv, lean_client(base_url=srv.url, timeout=5) as client:
            statuses = [(await client.call("GET", "/", query=f"i={i}")).status for i in range(3)]
            return [*statuses, srv.connections]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(calls()) == [200, 200, 200, 1]


async def test_chunked_until_close_and_compressed_answers() -> None:
    def chunked(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await read_request_of(state)(reader) is not None:
                writer.write(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                )

        return handle

    def until_close(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request_of(state)(reader)
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
            await writer.drain()

        return handle

    def compressed(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await read_request_of(state)(reader) is not None:
                writer.write(answer(200, gzip.compress(b"unpacked"), b"content-encoding: gzip"))
                await writer.drain()

        return handle

    async with server(chunked) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        assert [(await client.call("GET", "/")).content for _ in range(3)] == [b"hello world"] * 3
        assert srv.connections == 1
    async with server(until_close) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        assert [(await client.call("GET", "/")).content for _ in range(2)] == [b"all of it"] * 2
        assert srv.connections == 2  # such a connection is never reused
    async with server(compressed) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        assert (await client.call("GET", "/")).content == b"unpacked"


async def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    def one_per_connection(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request_of(state)(reader)
            writer.write(answer(200, b"ok"))
            await writer.drain()

        return handle

    async with server(one_per_connection) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        assert (await client.call("GET", "/")).content == b"ok"
        await until(lambda: srv.closed == 1)  # the server's close arrives while the connection is idle
        assert (await client.call("GET", "/")).content == b"ok"
        assert srv.connections == 2 and len(srv.requests) == 2


async def test_a_request_lost_on_a_reused_connection_is_sent_again_only_when_idempotent() -> None:
    def drops_the_second(state: Server) -> Handler:
        read_request = read_request_of(state)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if await read_request(reader) is not None:
                writer.write(answer(200, b"first"))
                await writer.drain()
            await read_request(reader)  # read, then hang up without an answer (a keep-alive timeout's race)

        return handle

    async with server(drops_the_second) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        assert (await client.call("GET", "/")).content == b"first"
        assert (await client.call("GET", "/")).content == b"first"  # sent again on a new connection
        assert srv.connections == 2 and len(srv.requests) == 3
        with pytest.raises(httpx.RemoteProtocolError):
            await client.call("POST", "/", content=b"once")  # never sent twice
        assert srv.connections == 2 and len(srv.requests) == 4


def silent(state: Server) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_of(state)(reader)
        await reader.read()  # never answers; ends when the client hangs up

    return handle


async def test_timeouts_and_refusals_are_httpx_errors() -> None:
    async with server(silent) as srv, lean_client(base_url=srv.url, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.call("GET", "/")
    async with server(echo) as srv:
        pass  # closed: nothing listens on that port now
    async with lean_client(base_url=srv.url, timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.call("GET", "/")


async def test_waiting_for_a_pooled_connection_is_bounded_by_the_connect_timeout() -> None:
    timeout = httpx.Timeout(PATIENCE, connect=0.3)
    async with (
        server(silent) as srv,
        lean_client(base_url=srv.url, timeout=timeout, limits=httpx.Limits(max_connections=1)) as client,
    ):
        first = asyncio.create_task(client.call("GET", "/first"))
        await until(lambda: len(srv.requests) == 1)  # the one connection is taken
        with pytest.raises(httpx.ConnectTimeout):
            await client.call("GET", "/second")
        assert srv.connections == 1
        first.cancel()


async def test_a_malformed_answer_is_a_protocol_error() -> None:
    def garbage(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request_of(state)(reader)
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            await writer.drain()
            await reader.read()

        return handle

    async with server(garbage) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.call("GET", "/")


async def test_no_header_path_or_query_can_start_a_line_of_its_own() -> None:
    async with server(echo) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        for path, query in (("/a b", ""), ("/a\r\nx: y", ""), ("/é", ""), ("/a", "q=1 HTTP/1.1\r\nx: y")):
            with pytest.raises(httpx.LocalProtocolError):
                await client.call("GET", path, query=query)
        bad_headers = [{"x-value": bad} for bad in ("a\r\nx-admin: yes", "a\nb", "a\rb", "a\0b")]
        bad_headers += [{"x-a\r\nx-admin": "yes"}, {"x-a:b": "c"}, {"host": "elsewhere"}, {"Content-Length": "0"}]
        for headers in bad_headers:
            with pytest.raises(httpx.LocalProtocolError):
                await client.call("GET", "/", headers=headers)
            with pytest.raises(httpx.LocalProtocolError):
                await client.call("POST", "/", headers=headers, content=b"x")
        assert srv.requests == []  # not one of them reached the server
        assert json.loads((await client.call("GET", "/ok")).content)["line"] == "GET /ok HTTP/1.1"


async def test_a_cookie_a_service_sets_never_goes_out_with_a_later_call() -> None:
    def sets_a_cookie(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while (request := await read_request_of(state)(reader)) is not None:
                _, headers, _ = request
                writer.write(answer(200, headers.get(b"cookie", b"none"), b"set-cookie: session=for-user-a; Path=/"))
                await writer.drain()

        return handle

    async with server(sets_a_cookie) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        first = await client.call("GET", "/as/user-a")
        assert first.content == b"none" and ("set-cookie", "session=for-user-a; Path=/") in first.headers
        assert (await client.call("GET", "/as/user-b")).content == b"none"  # a jar would send session=for-user-a
        assert (await client.get("/as/user-a")).text == "none"
        assert (await client.get("/as/user-b")).text == "none"  # httpx's own jar would send it
        assert (await client.call("GET", "/as/user-c")).content == b"none"
        assert not client.cookies


async def test_what_call_does_not_take_goes_through_httpx() -> None:
    seen: list[str] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url} {request.headers.get('x-stamp', '-')}")
        return httpx.Response(204, headers={"x-by": "httpx"})

    class Stamp(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            request.headers["x-stamp"] = "yes"
            yield request

    mock = httpx.MockTransport(recorded)
    async with lean_client(base_url="http://in-process.test", transport=mock) as client:  # an ASGI app's, in tests
        assert (await client.call("GET", "/a", query="q=1")).headers == [("x-by", "httpx")]
    async with lean_client(base_url="https://example.test", transport=mock) as client:
        assert (await client.call("HEAD", "/b")).status == 204
    async with server(echo) as srv:
        async with lean_client(base_url=srv.url, auth=Stamp(), timeout=5) as client:
            assert json.loads((await client.call("GET", "/c")).content)["headers"]["x-stamp"] == "yes"
        hooked: list[str] = []

        async def hook(request: httpx.Request) -> None:
            hooked.append(request.url.path)

        async with lean_client(base_url=srv.url, event_hooks={"request": [hook]}, timeout=5) as client:
            assert (await client.call("GET", "/d")).status == 200
        assert hooked == ["/d"]
    assert seen == ["GET http://in-process.test/a?q=1 -", "HEAD https://example.test/b -"]


async def test_closing_the_client_closes_its_connections() -> None:
    kept = httpx.Limits(keepalive_expiry=10 * PATIENCE)  # no idle connection expires on its own here
    async with server(echo) as srv:
        client = lean_client(base_url=srv.url, timeout=5, limits=kept)
        assert (await client.call("GET", "/")).status == 200
        assert srv.closed == 0  # kept alive
        await client.aclose()
        await until(lambda: srv.closed == 1)
        async with lean_client(base_url=srv.url, timeout=5, limits=kept) as client:
            assert (await client.call("GET", "/")).status == 200
        await until(lambda: srv.closed == 2)


async def test_a_redirect_is_the_answer_not_followed() -> None:
    def redirects(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await read_request_of(state)(reader) is not None:
                writer.write(answer(302, b"", b"location: /elsewhere"))
                await writer.drain()

        return handle

    async with server(redirects) as srv, lean_client(base_url=srv.url, timeout=5) as client:
        got = await client.call("GET", "/here")
        assert got.status == 302 and ("location", "/elsewhere") in got.headers
        assert srv.requests == [b"GET /here HTTP/1.1"]


def test_clients_share_one_ssl_context_per_trust_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from docstore_kit.http_transport import async_client, shared_ssl_context, sync_client

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = shared_ssl_context()
    assert shared_ssl_context() is first
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # another trust setting: a context of its own
    assert shared_ssl_context() is not first
    monkeypatch.delenv("SSL_CERT_FILE")
    own = ssl.create_default_context()
    with sync_client(verify=own) as told, sync_client() as untold:
        assert told._transport._pool._ssl_context is own  # type: ignore[attr-defined]
        assert untold._transport._pool._ssl_context is first  # type: ignore[attr-defined]
    assert isinstance(async_client(), httpx.AsyncClient)


async def test_every_client_drops_an_idle_connection_before_uvicorn_would() -> None:
    """A pooled connection idle for uvicorn's keep-alive (5 s) can be closed by the server just as
    a request goes out on it; that request is never answered (`RemoteProtocolError`). httpx's
    own default expiry is those same 5 s."""
    import uvicorn

    from docstore_kit.http_transport import async_client, sync_client

    uvicorn_keep_alive = uvicorn.Config("any:app").timeout_keep_alive  # no service sets its own
    assert httpx.Client()._transport._pool._keepalive_expiry >= uvicorn_keep_alive  # type: ignore[attr-defined]
    own = httpx.Limits(keepalive_expiry=1.0)
    async with async_client() as plain, lean_client() as lean, lean_client(limits=own) as told:
        for client in (plain, lean):
            assert client._transport._pool._keepalive_expiry < uvicorn_keep_alive  # type: ignore[attr-defined]
        assert told._transport._pool._keepalive_expiry == 1.0  # type: ignore[attr-defined]
    with sync_client() as blocking:
        assert blocking._transport._pool._keepalive_expiry < uvicorn_keep_alive  # type: ignore[attr-defined]


async def test_a_stream_passes_the_body_on_as_it_arrives_and_the_url_as_given() -> None:
    """`StreamClient`: the signed URL goes out byte for byte (its encoding is signed), the body is
    read block by block while the server still sends it, a connection whose body was read whole
    is used again, one left half-read is not, and a failure names the URL without its query."""
    release = asyncio.Event()

    def slow_body(state: Server) -> Handler:
        read_request = read_request_of(state)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await read_request(reader) is not None:
                writer.write(b"HTTP/1.1 206 X\r\ncontent-length: 8\r\ncontent-range: bytes 2-9/10\r\n\r\nfour")
                await writer.drain()
                await release.wait()
                writer.write(b"more")
                await writer.drain()

        return handle

    reader = StreamClient(connect_timeout=2, read_timeout=PATIENCE)
    try:
        async with server(slow_body) as srv:
            signed = srv.url + "/b/k%2Fey?X-Amz-Signature=s%3D&X-Amz-Expires=60"
            stored = await reader.get(signed, {"Range": "bytes=2-9"})
            assert stored.status == 206 and stored.headers["content-range"] == "bytes 2-9/10"
            chunks = stored.chunks()
            assert await anext(chunks) == b"four"  # before the rest is even sent
            release.set()
            assert b"".join([chunk async for chunk in chunks]) == b"more"
            await stored.aclose()
            assert srv.requests[0] == b"GET /b/k%2Fey?X-Amz-Signature=s%3D&X-Amz-Expires=60 HTTP/1.1"
            release.clear()
            again = await reader.get(signed)
            await again.aclose()  # half sent, not read: its connection is closed, not pooled
            release.set()
            third = await reader.get(signed)
            assert b"".join([chunk async for chunk in third.chunks()]) == b"fourmore"
            await third.aclose()
            assert srv.connections == 2 and len(srv.requests) == 3
    finally:
        await reader.aclose()
    fresh = StreamClient(connect_timeout=2)
    try:
        with pytest.raises(httpx.ConnectError) as refused:  # nothing listens there now
            await fresh.get(signed)
        assert "X-Amz-Signature" not in str(refused.value)
    finally:
        await fresh.aclose()


async def test_a_stream_sends_a_body_as_it_is_read_with_only_the_headers_given() -> None:
    """`StreamClient.request`: a body goes out while it is still being read (the server has its
    first block before the second is made), with the Content-Length given or else chunked, and
    with no User-Agent or Content-Type of aiohttp's own; a repeated answer header's values are
    joined, as httpx joins them."""
    first_arrived = asyncio.Event()
    seen: list[tuple[dict[bytes, bytes], bytes]] = []

    def receiver(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *rest = head[:-4].split(b"\r\n")
                state.requests.append(line)
                headers = {name.strip().lower(): value.strip() for name, value in (h.split(b":", 1) for h in rest)}
                if b"content-length" in headers:
                    body = await reader.readexactly(5)
                    first_arrived.set()
                    body += await reader.readexactly(int(headers[b"content-length"]) - 5)
                else:
                    raw = await reader.readuntil(b"0\r\n\r\n")
                    body = b"".join(raw.split(b"\r\n")[1::2])
                seen.append((headers, body))
                writer.write(b"HTTP/1.1 201 X\r\ncontent-length: 0\r\ndav: 1\r\ndav: 2\r\n\r\n")
                await writer.drain()

        return handle

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.wait_for(first_arrived.wait(), PATIENCE)  # sent before this block is made
        yield b"-second"

    client = StreamClient(connect_timeout=2, read_timeout=None)
    try:
        async with server(receiver) as srv:
            sized = await client.request("PUT", srv.url + "/d/a%20b", {"content-length": "12"}, body())
            await sized.aclose()
            first_arrived.set()
            chunked = await client.request("PUT", srv.url + "/d/c", {"x-oc-mtime": "7"}, body())
            await chunked.aclose()
    finally:
        await client.aclose()
    assert sized.status == 201 and sized.headers["dav"] == "1, 2"
    assert srv.requests == [b"PUT /d/a%20b HTTP/1.1", b"PUT /d/c HTTP/1.1"]
    (sized_headers, sized_body), (chunked_headers, chunked_body) = seen
    assert sized_body == chunked_body == b"first-second"
    assert sized_headers[b"content-length"] == b"12" and b"transfer-encoding" not in sized_headers
    assert chunked_headers[b"transfer-encoding"] == b"chunked" and chunked_headers[b"x-oc-mtime"] == b"7"
    for headers, _ in seen:
        assert b"user-agent" not in headers and b"content-type" not in headers


async def test_a_body_ending_short_of_its_length_never_leaves_its_connection_to_the_next_request() -> None:
    """A server may answer on a request's head, before its body (the webdav service's 413 for an
    XML body over its limit, 507 for a PUT over quota). The gateway passes such an answer on with
    Starlette's StreamingResponse, which reads the same ASGI receive channel for a disconnect
    while it sends, so the body still being sent loses chunks to it and ends short of its
    Content-Length. That connection must close: kept for the next request, the server reads that
    request as the rest of this body and the request hangs (tests/security/test_webdav.py, CI on
    220b2ee). One connection in the pool, so the next request must wait for that one."""
    after_the_answer: list[bytes] = []

    def answers_on_the_head(state: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            state.requests.append(head.split(b"\r\n", 1)[0])
            if head.startswith(b"PUT"):
                writer.write(b"HTTP/1.1 413 X\r\ncontent-length: 9\r\n\r\n")
                await writer.drain()
                await body_ended.wait()  # its end comes after the short body ended
                writer.write(b"too large")
            else:
                writer.write(answer(200, b"next"))
            await writer.drain()
            after_the_answer.append(await reader.read())  # until the client hangs up

        return handle

    answered, body_ended = asyncio.Event(), asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"0123456789"
        await answered.wait()  # the other 90 bytes went to another reader of the same channel
        body_ended.set()

    client = StreamClient(connect_timeout=PATIENCE, read_timeout=PATIENCE, max_connections=1)
    try:
        async with server(answers_on_the_head) as srv:
            refused = await client.request("PUT", srv.url + "/big", {"content-length": "100"}, body())
            answered.set()
            assert refused.status == 413 and [chunk async for chunk in refused.chunks()] == [b"too large"]
            await refused.aclose()
            following = await client.request("GET", srv.url + "/next")
            assert following.status == 200 and [chunk async for chunk in following.chunks()] == [b"next"]
            await following.aclose()
    finally:
        await client.aclose()
    assert srv.requests == [b"PUT /big HTTP/1.1", b"GET /next HTTP/1.1"] and srv.connections == 2
    await until(lambda: len(after_the_answer) == 2)
    assert after_the_answer[0] == b"0123456789"  # the short body, then the connection's end
