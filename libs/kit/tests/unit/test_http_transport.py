"""`LeanTransport` on real sockets: answers as httpx's own transport gives them (status, headers,
body: sized, chunked, or until the connection ends), one kept-alive connection for many requests,
a kept-alive connection the server closed is replaced (sent again only when idempotent), httpx's
exceptions for timeouts and refusals, no header can inject a line, and what it does not take goes
to httpx's own transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from docstore_kit.http_transport import LeanTransport, lean_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes] | None:
    """One request off the connection: request line, headers (lower-case names), body; None at its end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *rest = head[:-4].split(b"\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (h.split(b":", 1) for h in rest)}
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return line, headers, body


def answer(status: int, body: bytes, *extra: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} X".encode(), f"content-length: {len(body)}".encode(), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server on a free port: its base URL and a list that counts its connections."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        listening.close()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request on the connection with what it received, as JSON."""
    while (request := await read_request(reader)) is not None:
        line, headers, body = request
        seen = {"line": line.decode(), "headers": {k.decode(): v.decode() for k, v in headers.items()}}
        payload = json.dumps(seen | {"body": body.decode()}).encode()
        writer.write(answer(200, payload, b"content-type: application/json", b"x-served: yes"))
        await writer.drain()


async def test_requests_and_answers_as_httpx_sends_and_reads_them() -> None:
    async with server(echo) as (url, connections), lean_client(base_url=url, timeout=5) as client:
        got = await client.get("/search", params={"q": "a b&c", "tag": ["x", "y"]}, headers={"x-id": "t"})
        assert got.status_code == 200 and got.headers["x-served"] == "yes"
        seen = got.json()
        assert seen["line"] == "GET /search?q=a+b%26c&tag=x&tag=y HTTP/1.1"
        assert seen["headers"]["x-id"] == "t" and seen["headers"]["host"] == url.removeprefix("http://")
        posted = await client.post("/notes", json={"text": "é"})
        assert posted.json()["line"] == "POST /notes HTTP/1.1" and json.loads(posted.json()["body"]) == {"text": "é"}
        for _ in range(5):
            assert (await client.delete("/notes/1")).status_code == 200
        assert len(connections) == 1  # one kept-alive connection for all seven


def test_on_uvloop_as_the_services_run() -> None:
    import uvloop

    async def calls() -> list[int]:
        async with server(echo) as (url, connections), lean_client(base_url=url, timeout=5) as client:
            statuses = [(await client.get("/", params={"i": i})).status_code for i in range(3)]
            return [*statuses, len(connections)]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(calls()) == [200, 200, 200, 1]


async def test_chunked_and_until_close_bodies() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        await writer.drain()

    async with server(chunked) as (url, connections), lean_client(base_url=url) as client:
        assert [(await client.get("/")).text for _ in range(3)] == ["hello world"] * 3
        assert len(connections) == 1
    async with server(until_close) as (url, connections), lean_client(base_url=url) as client:
        assert [(await client.get("/")).text for _ in range(2)] == ["all of it"] * 2
        assert len(connections) == 2  # such a connection is never reused


async def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    async def one_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(200, b"ok"))
        await writer.drain()

    async with server(one_per_connection) as (url, connections), lean_client(base_url=url) as client:
        assert (await client.get("/")).text == "ok"
        await asyncio.sleep(0)  # the server's close arrives while the connection is idle
        assert (await client.get("/")).text == "ok"
        assert len(connections) == 2


async def test_a_request_lost_on_a_reused_connection_is_sent_again_only_when_idempotent() -> None:
    async def drops_the_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await read_request(reader) is not None:
            writer.write(answer(200, b"first"))
            await writer.drain()
        await read_request(reader)  # read, then hang up without an answer (a keep-alive timeout's race)

    async with server(drops_the_second) as (url, connections), lean_client(base_url=url) as client:
        assert (await client.get("/")).text == "first"
        assert (await client.get("/")).text == "first"  # sent again on a new connection
        assert len(connections) == 2
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/", content=b"once")  # never sent twice
        assert len(connections) == 2


async def test_timeouts_and_refusals_are_httpx_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with server(silent) as (url, _), lean_client(base_url=url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/")
    async with server(echo) as (url, _):
        pass  # closed: nothing listens on that port now
    async with lean_client(base_url=url, timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/")


async def test_a_malformed_answer_is_a_protocol_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with server(garbage) as (url, _), lean_client(base_url=url, timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/")


async def test_no_header_value_can_start_a_line_of_its_own() -> None:
    async with server(echo) as (url, connections), lean_client(base_url=url) as client:
        for bad in ("a\r\nx-admin: yes", "a\nb", "a\rb", "a\0b"):
            with pytest.raises(httpx.LocalProtocolError):
                await client.get("/", headers={"x-value": bad})
        assert not connections


async def test_what_it_does_not_take_goes_to_httpx_own_transport() -> None:
    seen: list[str] = []

    def fallback(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        return httpx.Response(204)

    async def body() -> AsyncIterator[bytes]:
        yield b"streamed"

    transport = LeanTransport(fallback=httpx.MockTransport(fallback))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("https://example.test/x")).status_code == 204
        assert (await client.head("http://example.test/y")).status_code == 204
        assert (await client.post("http://example.test/z", content=body())).status_code == 204
    assert seen == ["GET https://example.test/x", "HEAD http://example.test/y", "POST http://example.test/z"]


async def test_a_cookie_a_service_sets_never_goes_out_with_a_later_call() -> None:
    async def sets_a_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            _, headers, _ = request
            writer.write(answer(200, headers.get(b"cookie", b"none"), b"set-cookie: session=for-user-a; Path=/"))
            await writer.drain()

    async with server(sets_a_cookie) as (url, _), lean_client(base_url=url) as client:
        assert (await client.get("/as/user-a")).text == "none"
        assert (await client.get("/as/user-b")).text == "none"  # httpx's own jar would send session=for-user-a
        assert not client.cookies


async def test_call_sends_what_request_would_and_reads_the_whole_answer() -> None:
    async with (
        server(echo) as (url, connections),
        lean_client(base_url=url + "/base/", headers={"x-api-key": "k"}, timeout=5) as client,
    ):
        query = str(httpx.QueryParams({"q": 'a "b" é&c', "n": 1}))
        got = await client.call("GET", "/search", query=query, headers={"User-Agent": "gw", "x-id": "t"})
        assert got.status == 200 and ("x-served", "yes") in got.headers
        seen = json.loads(got.content)
        assert seen["line"] == f"GET /base/search?{query} HTTP/1.1"
        assert seen["headers"]["x-api-key"] == "k" and seen["headers"]["x-id"] == "t"
        assert seen["headers"]["user-agent"] == "gw"  # the caller's, once: not also httpx's own
        assert seen["headers"]["host"] == url.removeprefix("http://")
        assert "accept-encoding" not in seen["headers"] and "content-length" not in seen["headers"]
        posted = json.loads((await client.call("POST", "/notes", content=b'{"a":1}')).content)
        assert posted["line"] == "POST /base/notes HTTP/1.1" and posted["body"] == '{"a":1}'
        assert posted["headers"]["content-length"] == "7"
        assert len(connections) == 1


async def test_call_refuses_what_could_split_a_request() -> None:
    async with server(echo) as (url, connections), lean_client(base_url=url) as client:
        for path, query in (("/a b", ""), ("/a\r\nx: y", ""), ("/é", ""), ("/a", "q=1 HTTP/1.1\r\nx: y")):
            with pytest.raises(httpx.LocalProtocolError):
                await client.call("GET", path, query=query)
        for headers in ({"x-a": "b\r\nx-admin: yes"}, {"x-a\r\nx-admin": "yes"}, {"host": "elsewhere"}):
            with pytest.raises(httpx.LocalProtocolError):
                await client.call("GET", "/", headers=headers)
        assert not connections


async def test_call_decodes_a_compressed_answer_and_goes_through_httpx_with_an_auth() -> None:
    import gzip

    async def compressed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            body = gzip.compress(json.dumps({k.decode(): v.decode() for k, v in request[1].items()}).encode())
            writer.write(answer(200, body, b"content-encoding: gzip"))
            await writer.drain()

    class Stamp(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
            request.headers["x-stamp"] = "yes"
            yield request

    async with server(compressed) as (url, _):
        async with lean_client(base_url=url) as client:
            assert json.loads((await client.call("GET", "/")).content)["host"] == url.removeprefix("http://")
        async with lean_client(base_url=url, auth=Stamp()) as client:
            assert json.loads((await client.call("GET", "/")).content)["x-stamp"] == "yes"
