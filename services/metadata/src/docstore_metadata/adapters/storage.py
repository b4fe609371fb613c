"""S3, as metadata uses it: delete objects no version needs, sign download URLs."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote


class ObjectStore:
    """`client` deletes (the service's S3 endpoint); `signer` signs URLs for browsers (the public one)."""

    def __init__(self, client: Any, signer: Any) -> None:
        self.client = client
        self.signer = signer

    async def delete(self, bucket: str, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=bucket, Key=key)

    async def download_url(self, *, bucket: str, key: str, filename: str, expires_in: int) -> str:
        """A presigned GET of `bucket/key` that S3 answers with `Content-Disposition: attachment; filename*=...`."""
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        url = await asyncio.to_thread(
            self.signer.generate_presigned_url,
            "get_object",
            Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition},
            ExpiresIn=expires_in,
        )
        return str(url)
