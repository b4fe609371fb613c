"""Reading uploaded objects from S3 (boto3 is synchronous: calls run in a worker thread)."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.exceptions import ClientError

CHUNK = 1024 * 1024


class ObjectMissing(Exception):
    """The object named by an event is not (or no longer) in S3."""


class ObjectStore:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes:
        """Up to `limit` bytes of the object (a ranged GET, so a huge object costs nothing)."""
        return await asyncio.to_thread(self._read, bucket, key, limit)

    def _get(self, bucket: str, key: str, limit: int) -> Any:
        """The GetObject answer for the first `limit` bytes (a ranged GET), or `ObjectMissing`."""
        try:
            return self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max(0, limit - 1)}")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissing(f"s3://{bucket}/{key} not found") from error
            raise

    def _read(self, bucket: str, key: str, limit: int) -> bytes:
        response = self._get(bucket, key, limit)
        with response["Body"] as body:
            data: bytes = body.read(limit)
            return data

    async def download(self, bucket: str, key: str, path: str, *, limit: int) -> int:
        """Up to `limit` bytes of the object streamed into the file `path` (1 MiB at a time:
        a large video never sits in memory); how many bytes were written."""
        return await asyncio.to_thread(self._download, bucket, key, path, limit)

    def _download(self, bucket: str, key: str, path: str, limit: int) -> int:
        response = self._get(bucket, key, limit)
        written = 0
        with response["Body"] as body, open(path, "wb") as out:
            while written < limit:
                chunk: bytes = body.read(min(CHUNK, limit - written))
                if not chunk:
                    break
                out.write(chunk)
                written += len(chunk)
        return written
