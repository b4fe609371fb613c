"""Reading uploaded objects from S3 (boto3 is synchronous: calls run in a worker thread)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from botocore.exceptions import ClientError

CHUNK = 1024 * 1024


class ObjectMissing(Exception):
    """The object named by an event is not (or no longer) in S3."""


class RecentReads:
    """Whole small objects read lately, each kept for its other reader: a version's bytes are
    read by its text extraction and by its preview, usually within a second or two, and the
    second read then costs no GET (a request S3 charges for, and a boto3 call's CPU).

    Safe because a version's key is never written twice (upload's `object_key` names each
    upload's own key, and nothing handed out can change its bytes). An entry is taken by the
    read that uses it, and dropped past `seconds` or beyond `max_bytes` (oldest first)."""

    def __init__(self, *, max_bytes: int = 16 * 1024 * 1024, max_object: int = 1024 * 1024, seconds: float = 60.0):
        self.max_bytes = max_bytes
        self.max_object = max_object
        self.seconds = seconds
        self._kept: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._size = 0

    def take(self, bucket: str, key: str) -> bytes | None:
        self._expire(time.monotonic())
        kept = self._kept.pop((bucket, key), None)
        if kept is None:
            return None
        self._size -= len(kept[1])
        return kept[1]

    def keep(self, bucket: str, key: str, data: bytes) -> None:
        if len(data) > self.max_object or (bucket, key) in self._kept:
            return
        now = time.monotonic()
        self._expire(now)
        self._kept[(bucket, key)] = (now, data)
        self._size += len(data)
        while self._size > self.max_bytes:
            _, (_, dropped) = self._kept.popitem(last=False)
            self._size -= len(dropped)

    def _expire(self, now: float) -> None:
        while self._kept:
            key, (at, data) = next(iter(self._kept.items()))
            if now - at <= self.seconds:
                return
            del self._kept[key]
            self._size -= len(data)


class ObjectStore:
    def __init__(self, client: Any, *, recent: RecentReads | None = None) -> None:
        self.client = client
        self.recent = recent
        """Shared with the other `ObjectStore` of the process (extraction's and previews')."""

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes:
        """Up to `limit` bytes of the object (a ranged GET, so a huge object costs nothing);
        a whole object another reader of the process just read is taken from `recent`."""
        if self.recent is not None and (whole := self.recent.take(bucket, key)) is not None:
            return whole[:limit]
        data = await asyncio.to_thread(self._read, bucket, key, limit)
        if self.recent is not None and len(data) < limit:  # fewer bytes than asked: the whole object
            self.recent.keep(bucket, key, data)
        return data

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
