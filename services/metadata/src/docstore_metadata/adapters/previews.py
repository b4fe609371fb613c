"""Previews in storage: a version row's preview state (MongoDB) and signed GET URLs for the
images (S3 answers them inline, with the image's type)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from docstore_metadata.adapters.repositories import DocumentRepository
from docstore_metadata.adapters.storage import ObjectStore


async def set_version_preview(
    documents: DocumentRepository, document_id: str, version: int, preview: Mapping[str, Any]
) -> None:
    """Store `preview` on one version row (in the repository's session, so in its transaction)."""
    await documents.versions.update_one(
        {"document_id": document_id, "version": version},
        {"$set": {"preview": dict(preview)}},
        session=documents.session,
    )


async def signed_preview_url(store: ObjectStore, *, bucket: str, key: str, content_type: str, expires_in: int) -> str:
    """A presigned GET of `bucket/key` signed for browsers (the store's public endpoint): shown
    inline as `content_type`, cacheable privately for as long as the URL lives. The bytes go from
    S3 to the browser, never through metadata."""
    url = await asyncio.to_thread(
        store.signer.generate_presigned_url,
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": "inline",
            "ResponseCacheControl": f"private, max-age={expires_in}",
        },
        ExpiresIn=expires_in,
    )
    return str(url)
