"""Settings of the upload service (env: UPLOAD_<NAME>, then <NAME>)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from docstore_kit.s3 import S3Settings
from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings, S3Settings):
    service = "upload"

    port: int = 8082
    quota_url: str = "http://127.0.0.1:8083"
    metadata_url: str = "http://127.0.0.1:8081"
    complete_record_wait_seconds: float = Field(2.0, ge=0, le=10)
    """`POST /uploads/{id}/complete` of a form upload waits up to this long for metadata to show
    the new version (it records it from `upload.completed`, 0.1-0.3 s later), so the owner can
    read it as soon as the answer comes (`recorded: true`); past it, `recorded: false` and
    `Retry-After: 1`. 0: never wait."""
    grant_seconds: int = 15 * 60
    """How long a signed form or a batch of part URLs stays valid."""
    multipart_threshold_bytes: int = 100 * 1024 * 1024
    """Files from this size up get multipart part URLs instead of a form."""
    multipart_part_bytes: int = 16 * 1024 * 1024
    """Preferred part size; larger when a file would need more than 10,000 parts."""
    multipart_seconds: int = 24 * 3600
    """How long an unfinished multipart upload may be resumed before it is aborted."""
    watch_interval_seconds: float = 10.0
    """How often the upload watcher looks for objects that arrived and grants that expired."""
    gateway_url: str = "http://127.0.0.1:8080"
    """Where browsers reach the gateway (its public URL); S3 redirects them there after a form upload."""
    redirect_secret: str = "dev-secret"
    """Signs the completion links S3 redirects browsers to."""
    pin_checksums: bool = True
    """A batch item that declares its sha256 gets a form pinned to those bytes (S3 checks
    `x-amz-checksum-sha256` and refuses others), which writes the version's key directly:
    completion is one HEAD instead of a copy, a read-back and a delete. Off (`UPLOAD_PIN_CHECKSUMS=off`)
    for a store that does not check checksums: every form then writes a staging key."""
    s3_events_topic: str = ""
    """Kafka topic on which the S3 store publishes its bucket notifications (SeaweedFS filer
    events; the dev platform uses `docstore.s3-events`), taken as hints to check an upload at
    once. The whole name, no topic prefix. Empty: off (the client's call, the browser redirect
    and the watcher still complete every upload)."""

    credentials: Literal["seaweedfs", "sts", "off"] = "off"
    """Temporary upload credentials (`POST /uploads/credentials`): `seaweedfs` makes a prefix-scoped
    identity with SeaweedFS's IAM API on the S3 endpoint (the local store), `sts` calls AWS STS
    `AssumeRole` with a session policy (`credentials_role_arn`), `off` answers 404."""
    credentials_minutes: int = Field(default=15, ge=1, le=60)
    """How long issued credentials last (on AWS at least 15: STS's shortest session)."""
    credentials_role_arn: str = ""
    """With `sts`: the role assumed (its trust policy names upload's own role; services/upload/README.md)."""
    credentials_external_id: str = ""
    """With `sts`: the `ExternalId` the role's trust policy asks for, if any."""
    credentials_max_live: int = Field(default=5, ge=1)
    """Unexpired credentials one account may hold at once (each is an identity in the store)."""

    secret_fields = ("redirect_secret",)
