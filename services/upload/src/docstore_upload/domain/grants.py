"""Upload grants: what may be uploaded, under which key, until when. Pure rules."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

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
MAX_FILENAME = 255
MAX_TAGS = 50
MAX_TAG = 64


class InvalidUpload(errors.Invalid, ValueError):
    """An upload request that breaks a rule; the message says which."""

    problem = "invalid-upload"
    title = "Invalid upload"


def check_filename(filename: str) -> str:
    name = unicodedata.normalize("NFC", filename.strip())
    if not name:
        raise InvalidUpload("filename: must not be empty")
    if len(name) > MAX_FILENAME:
        raise InvalidUpload(f"filename: at most {MAX_FILENAME} characters")
    if "/" in name or "\\" in name:
        raise InvalidUpload("filename: must not contain '/' or '\\' (use `path` for folders)")
    if name in (".", "..") or ".." in name.split("."):
        raise InvalidUpload("filename: must not be '.' or '..'")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidUpload("filename: must not contain control characters")
    return name


def check_content_type(content_type: str) -> str:
    value = content_type.strip().lower()
    if value not in CONTENT_TYPES:
        raise InvalidUpload(f"content_type: {content_type!r} is not a supported type")
    return value


def check_tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidUpload(f"tags: at most {MAX_TAGS}")
    cleaned = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG or any(unicodedata.category(ch) == "Cc" for ch in tag):
            raise InvalidUpload(f"tags: each tag is 1 to {MAX_TAG} printable characters")
        cleaned.append(tag)
    return sorted(set(cleaned))


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


MAX_PATH = 1024


def check_path(path: str) -> str:
    """A folder path: absolute, '/'-separated, no '.' or '..' segments, no control characters."""
    value = path.strip() or "/"
    if not value.startswith("/"):
        raise InvalidUpload("path: must start with '/'")
    if len(value) > MAX_PATH:
        raise InvalidUpload(f"path: at most {MAX_PATH} characters")
    segments = [s for s in value.split("/") if s]
    if any(s in (".", "..") for s in segments) or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidUpload("path: must not contain '.' or '..' segments or control characters")
    return "/" + "/".join(segments)
