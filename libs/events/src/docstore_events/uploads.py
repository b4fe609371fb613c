"""Events about uploads. All are emitted by `upload`, which owns upload sessions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from docstore_events.base import Event


class UploadInitiated(Event):
    """Emitted by `upload` when it hands out a grant (a signed form or part URLs)."""

    type = "upload.initiated"

    upload_id: str
    document_id: str
    key: str
    declared_size: int
    content_type: str
    expires_at: datetime


class InitiatedUpload(BaseModel):
    """One grant of an `upload.batch-initiated`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    upload_id: str
    document_id: str
    declared_size: int
    content_type: str
    expires_at: datetime


class UploadsInitiated(Event):
    """Emitted by `upload` once per batch grant (`POST /uploads/batch`) and owner: the grants it
    handed out in that request, in order. One record for up to 100 files instead of one
    `upload.initiated` each (issue 35); a single grant still emits `upload.initiated`."""

    type = "upload.batch-initiated"

    uploads: list[InitiatedUpload]


class UploadCompleted(Event):
    """Emitted by `upload` exactly once per upload, when the object is in S3.

    Size, ETag and sha256 were read from S3, never taken from the client.
    `metadata` records a version, `quota` adds the bytes, `indexer` extracts text.
    """

    type = "upload.completed"

    upload_id: str
    document_id: str
    bucket: str
    key: str
    filename: str
    content_type: str
    size: int
    etag: str
    sha256: str
    title: str | None = None
    tags: list[str] = []
    path: str = "/"
    base_version: int | None = None
    actor_id: str | None = None
    """Who uploaded, when not the owner (`account_id`): an account the document is shared with."""


class UploadExpired(Event):
    """Emitted by `upload` when a grant expired with no object in S3."""

    type = "upload.expired"

    upload_id: str
    document_id: str
    filename: str


class UploadCredentialsIssued(Event):
    """Emitted by `upload` when it hands an account temporary S3 credentials
    (`POST /uploads/credentials`). Never the secret: the access key id names them in S3's logs."""

    type = "upload.credentials-issued"

    credential_id: str
    access_key_id: str
    bucket: str
    prefix: str
    """The only keys the credentials may write (the account's staging prefix)."""
    expires_at: datetime
    store: str
    """Who made them: `seaweedfs` (an identity) or `sts` (an assumed-role session)."""


class UploadCredentialsExpired(Event):
    """Emitted by `upload`'s sweeper once temporary credentials expired and were ended (the
    identity deleted), with how many objects written under the prefix outside any pending
    upload it deleted then."""

    type = "upload.credentials-expired"

    credential_id: str
    access_key_id: str | None = None
    strays_deleted: int = 0
