"""A WebDAV GET's bytes read from S3 (`docstore_kit.handoff`): the signed URL and range the webdav
service named, streamed through aiohttp (`StreamClient`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from docstore_gateway.domain.errors import UpstreamUnavailable
from docstore_kit.http_transport import StreamClient, Streamed


class StoredBytes:
    """Opens the bytes a service named; S3 failing, or answering other bytes than those, is 503."""

    def __init__(self, client: StreamClient) -> None:
        self.client = client

    async def open(self, url: str, byte_range: str, length: int) -> AsyncIterator[bytes]:
        """The `length` bytes of `byte_range` of the object at `url`, as they arrive (the
        connection is let go when the iterator ends or is closed)."""
        try:
            stored = await self.client.get(url, {"Range": byte_range})
        except httpx.HTTPError as error:
            raise UpstreamUnavailable("storage") from error
        if stored.status not in (200, 206) or stored.headers.get("content-length") != str(length):
            await stored.aclose()
            raise UpstreamUnavailable("storage")
        return _relay(stored)

    async def aclose(self) -> None:
        await self.client.aclose()


async def _relay(stored: Streamed) -> AsyncIterator[bytes]:
    try:
        async for chunk in stored.chunks():
            yield chunk
    finally:
        await stored.aclose()
