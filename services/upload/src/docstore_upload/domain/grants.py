"""Upload grants: what may be uploaded, under which key, until when. Pure rules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from docstore_events import names
from docstore_kit import errors

# Content types DocStore accepts, by family; anything else is refused with a clear message.
CONTENT_TYPES = frozenset({
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/rtf",
    "application/zip",
    "application/json",
    "application/octet-stream",
    "message/rfc822",
    "text/plain",
    "text/markdown",
    "text/html",
    "text/csv",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/tiff",
    "image/webp",
    "image/heic",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "audio/mpeg",
})


class InvalidUpload(errors.Invalid, ValueError):
    """An upload request that breaks a rule; the message says which."""

    problem = "invalid-upload"
    title = "Invalid upload"


@contextmanager
def _invalid_upload() -> Iterator[None]:
    """Turns the shared rules' InvalidName into InvalidUpload (same message, a 422 answer)."""
    try:
        yield
    except names.InvalidName as error:
        raise InvalidUpload(str(error)) from error


def check_filename(filename: str) -> str:
    """The file name, trimmed and NFC: the rule metadata applies too (`docstore_events.names`)."""
    with _invalid_upload():
        return names.check_name(filename, field="filename")


def check_content_type(content_type: str) -> str:
    value = content_type.strip().lower()
    if value not in CONTENT_TYPES:
        raise InvalidUpload(f"content_type: {content_type!r} is not a supported type")
    return value


def check_tags(tags: list[str]) -> list[str]:
    """Tags trimmed, deduplicated and sorted (see `docstore_events.names.check_tags`)."""
    with _invalid_upload():
        return names.check_tags(tags)


def check_size(size: int, room_bytes: int) -> None:
    if size <= 0:
        raise InvalidUpload("size: must be a positive number of bytes")
    if size > room_bytes:
        raise NoRoom(size, room_bytes)


class NoRoom(errors.TooLarge):
    """The declared size does not fit in what the account has left."""

    problem = "no-room"
    title = "Not enough room"

    def __init__(self, size: int, room: int) -> None:
        super().__init__(f"not enough storage: this file needs {size} bytes and {room} bytes are left")
        self.size = size
        self.room = room


def object_key(*, region: str, account_id: str, document_id: str, upload_id: str) -> str:
    """Where a version's bytes live: the server picks every part, so keys never collide or escape.

    No signed form or URL ever names this key for a form upload: the form writes the staging
    key, and completion copies the object here. So nothing handed out can change a version."""
    return f"{region}/{account_id}/{document_id}/{upload_id}"


STAGING_PREFIX = "staging/"


def staging_key(final_key: str) -> str:
    """Where a signed form writes: a key of the grant's own, outside every account's prefix (so
    usage reconciliation never counts it), read only once, at completion."""
    return STAGING_PREFIX + final_key


@dataclass(frozen=True)
class Grant:
    upload_id: str
    account_id: str
    document_id: str
    key: str
    filename: str
    content_type: str
    declared_size: int
    title: str | None
    tags: list[str]
    path: str
    expires_at: datetime
    base_version: int | None = None
    staging_key: str | None = None
    """Form uploads: the key the signed form writes (see `staging_key`); None for multipart."""


def expiry(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)


def check_path(path: str) -> str:
    """A folder path: absolute, '/'-separated, no '.' or '..' segments, no control characters."""
    with _invalid_upload():
        return names.check_path(path)
