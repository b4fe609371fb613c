"""S3 settings and client construction, for the services that read or sign S3 objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config
from pydantic import BaseModel, model_validator

SSE_HEADER = "x-amz-server-side-encryption"
SSE_KMS_KEY_HEADER = "x-amz-server-side-encryption-aws-kms-key-id"


@dataclass(frozen=True)
class ServerSideEncryption:
    """How S3 encrypts every object DocStore writes: SSE-S3 (`AES256`), SSE-KMS (`aws:kms`,
    with a key id or the account's `aws/s3` key), or `none` for S3-compatible stores that
    have no server-side encryption. One value gives the request parameters of each write
    (PutObject, CopyObject, CreateMultipartUpload) and the fields of a signed POST form,
    so no write path can forget or spell it differently."""

    algorithm: Literal["AES256", "aws:kms", "none"] = "AES256"
    kms_key_id: str = ""

    def __post_init__(self) -> None:
        if self.kms_key_id and self.algorithm != "aws:kms":
            raise ValueError("S3_SSE_KMS_KEY_ID is only used with S3_SERVER_SIDE_ENCRYPTION=aws:kms.")

    @property
    def enabled(self) -> bool:
        return self.algorithm != "none"

    def params(self) -> dict[str, str]:
        """boto3 keyword arguments for PutObject, CopyObject and CreateMultipartUpload (parts
        of a multipart upload inherit the encryption the upload was created with)."""
        if not self.enabled:
            return {}
        params: dict[str, str] = {"ServerSideEncryption": self.algorithm}
        if self.kms_key_id:
            params["SSEKMSKeyId"] = self.kms_key_id
        return params

    def form_fields(self) -> dict[str, str]:
        """Fields of a signed POST form. Each is also an exact-match policy condition (the
        caller adds one per field), so S3 refuses a form posted without them or with other values."""
        if not self.enabled:
            return {}
        fields: dict[str, str] = {SSE_HEADER: self.algorithm}
        if self.kms_key_id:
            fields[SSE_KMS_KEY_HEADER] = self.kms_key_id
        return fields


SSE_S3 = ServerSideEncryption("AES256")


class S3Settings(BaseModel):
    """Mixed into a service's settings. Credentials come from the standard AWS variables."""

    s3_endpoint_url: str = ""
    """Where the service reaches S3; empty means AWS itself."""
    s3_public_endpoint_url: str = ""
    """Where clients reach S3, used in signed URLs and forms; defaults to `s3_endpoint_url`."""
    s3_bucket: str = ""
    """The region's bucket; defaults to `docstore-<region>`."""
    aws_default_region: str = "us-west-2"
    s3_server_side_encryption: Literal["AES256", "aws:kms", "none"] = "AES256"
    """Encryption at rest of every object written: `AES256` (SSE-S3, S3-managed keys),
    `aws:kms` (SSE-KMS), or `none` (only for S3-compatible stores without SSE)."""
    s3_sse_kms_key_id: str = ""
    """With `aws:kms`: the KMS key (id, ARN or alias) objects are encrypted under; empty means
    the account's AWS-managed `aws/s3` key."""

    @model_validator(mode="after")
    def _check_encryption(self) -> S3Settings:
        self.server_side_encryption()  # a key id without aws:kms is a mistake: refuse to start
        return self

    def server_side_encryption(self) -> ServerSideEncryption:
        """The encryption every write asks S3 for (see `ServerSideEncryption`)."""
        return ServerSideEncryption(self.s3_server_side_encryption, self.s3_sse_kms_key_id.strip())

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
