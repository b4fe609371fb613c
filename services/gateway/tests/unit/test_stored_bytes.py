"""A WebDAV GET's bytes read from S3 (`adapters/stored_bytes.py`): exactly the bytes named, else
503 (S3 refusing, failing, answering another length, or not there at all)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from docstore_gateway.adapters.stored_bytes import StoredBytes
from docstore_gateway.domain.errors import UpstreamUnavailable
from docstore_kit.http_transport import StreamClient


@asynccontextmanager
async def s3_answering(head: bytes, body: bytes) -> AsyncIterator[str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + f"\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/bucket/key?X-Amz-Signature=x"
    finally:
        listening.close()


async def test_the_named_bytes_are_passed_on() -> None:
    stored = StoredBytes(StreamClient(connect_timeout=2))
    try:
        async with s3_answering(b"HTTP/1.1 206 Partial Content", b"two") as url:
            body = await stored.open(url, "bytes=8-10", 3)
            assert b"".join([chunk async for chunk in body]) == b"two"
    finally:
        await stored.aclose()


@pytest.mark.parametrize(
    ("head", "body"),
    [
        (b"HTTP/1.1 403 Forbidden", b"<Error>expired</Error>"),
        (b"HTTP/1.1 503 Slow Down", b""),
        (b"HTTP/1.1 206 Partial Content", b"twoo"),  # not the length named
    ],
)
async def test_anything_else_is_unavailable(head: bytes, body: bytes) -> None:
    stored = StoredBytes(StreamClient(connect_timeout=2))
    try:
        async with s3_answering(head, body) as url:
            with pytest.raises(UpstreamUnavailable):
                await stored.open(url, "bytes=8-10", 3)
        with pytest.raises(UpstreamUnavailable):  # nothing listens there any more
            await stored.open(url, "bytes=8-10", 3)
    finally:
        await stored.aclose()
