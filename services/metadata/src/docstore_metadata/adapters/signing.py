"""Signed GET URLs for downloads: short-lived, with the original file name for the browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def sign_download(signer: Any, *, bucket: str, key: str, filename: str, expires_in: int) -> str:
    """A presigned GET of `bucket/key` that S3 answers with `Content-Disposition: attachment; filename*=...`."""
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return signer.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition},
        ExpiresIn=expires_in,
    )
