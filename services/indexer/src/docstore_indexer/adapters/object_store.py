"""Reading uploaded objects from S3 (boto3 is synchronous: calls run in a worker thread)."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.exceptions import ClientError


class ObjectMissing(Exception):
    """The object named by an event is not (or no longer) in S3."""


class ObjectStore:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes:
        """Up to `limit` bytes of the object (a ranged GET, so a huge object costs nothing)."""
        return await asyncio.to_thread(self._read, bucket, key, limit)

    def _read(self, bucket: str, key: str, limit: int) -> bytes:
        try:
            response = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max(0, limit - 1)}")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissing(f"s3://{bucket}/{key} not found") from error
            raise
        with response["Body"] as body:
            data: bytes = body.read(limit)
            return data
