"""A webhook receiver on a loopback port, for the tests and the bench of notify's webhooks.

A real HTTP/1.1 server (asyncio streams, one request per connection, as notify's sender never
reuses connections): it records each request (headers lower-cased, raw body, arrival time on the
monotonic clock) and answers `status` (a number, or a function of the request number) after
`delay` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """`time.monotonic()` when the body was read."""


@dataclass
class WebhookReceiver:
    status: int | Callable[[int], int] = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _port: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def ids(self) -> list[str]:
        return [r.headers.get("webhook-id", "") for r in self.requests]

    async def wait_for(self, check: Callable[[list[Received]], bool], timeout: float = 60.0) -> list[Received]:
        """Wait until `check(requests)` holds (no polling: woken by each arrival)."""
        async with asyncio.timeout(timeout):
            async with self._arrived:
                await self._arrived.wait_for(lambda: check(self.requests))
        return self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(method, path, headers, body, time.monotonic())
            async with self._arrived:
                self.requests.append(received)
                number = len(self.requests)
                self._arrived.notify_all()
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.status(number) if callable(self.status) else self.status
            writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
