"""The bucket: signed POST forms, and the facts of a stored object (read from S3, never the client)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from docstore_upload.domain.grants import Grant

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str
    sha256: str


class Storage:
    def __init__(self, client: Any, signer: Any, bucket: str) -> None:
        self.client = client  # talks to S3
        self.signer = signer  # signs for the endpoint clients use
        self.bucket = bucket

    def post_form(self, grant: Grant, *, max_size: int, expires_in: int) -> dict[str, Any]:
        """A signed S3 POST form for exactly this key, content type, metadata and size range."""
        fields = {
            "Content-Type": grant.content_type,
            "success_action_status": "201",
            "x-amz-meta-upload-id": grant.upload_id,
            "x-amz-meta-filename": quote(grant.filename),
            "x-amz-meta-title": quote(grant.title or ""),
            "x-amz-meta-tags": quote(",".join(grant.tags)),
        }
        conditions: list[Any] = [{name: value} for name, value in fields.items()]
        conditions.append(["content-length-range", 1, max_size])
        return self.signer.generate_presigned_post(
            Bucket=self.bucket, Key=grant.key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )

    async def stored(self, key: str) -> StoredObject | None:
        """Size, ETag and sha256 of the object at `key`, or None when it is not there yet."""
        return await asyncio.to_thread(self._stored, key)

    def _stored(self, key: str) -> StoredObject | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        digest = hashlib.sha256()
        body = response["Body"]
        for chunk in iter(lambda: body.read(CHUNK), b""):
            digest.update(chunk)
        return StoredObject(
            size=response["ContentLength"], etag=response["ETag"].strip('"'), sha256=digest.hexdigest()
        )

    async def ready(self) -> bool:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        return True
