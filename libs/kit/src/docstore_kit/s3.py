"""S3 settings and client construction, for the services that read or sign S3 objects."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from pydantic import BaseModel


class S3Settings(BaseModel):
    """Mixed into a service's settings. Credentials come from the standard AWS variables."""

    s3_endpoint_url: str = ""
    """Where the service reaches S3; empty means AWS itself."""
    s3_public_endpoint_url: str = ""
    """Where clients reach S3, used in signed URLs and forms; defaults to `s3_endpoint_url`."""
    s3_bucket: str = ""
    """The region's bucket; defaults to `docstore-<region>`."""
    aws_default_region: str = "us-west-2"

    def bucket_name(self, region: str) -> str:
        return self.s3_bucket or f"docstore-{region}"


def make_s3_client(settings: S3Settings, *, public: bool = False) -> Any:
    """A boto3 S3 client (path-style, SigV4). `public=True` signs for the clients' endpoint."""
    endpoint = (settings.s3_public_endpoint_url or settings.s3_endpoint_url) if public else settings.s3_endpoint_url
    return boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=settings.aws_default_region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
