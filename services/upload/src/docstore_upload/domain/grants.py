"""Upload grants: what may be uploaded, under which key, until when. Pure rules."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from docstore_events import names
from docstore_kit.sizes import size_text
from docstore_upload.domain.errors import (
    BatchTooLarge,
    InvalidUpload,
    NoRoom,
    NotForBatch,
    OverQuota,
    Room,
    StaleBase,
    UploadNotFound,
)

__all__ = [  # the errors raised here, importable from here as before
    "InvalidUpload",
    "NoRoom",
]

# Content types DocStore accepts, by family; anything else is refused with a clear message.
CONTENT_TYPES = frozenset(
    {
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
    }
)


@contextmanager
def _invalid_upload() -> Iterator[None]:
    """Turns the shared rules' InvalidName into InvalidUpload (same message and field, a 422 answer)."""
    try:
        yield
    except names.InvalidName as error:
        raise InvalidUpload(str(error), field=error.field) from error


def check_filename(filename: str) -> str:
    """The file name, trimmed and NFC: the rule metadata applies too (`docstore_events.names`)."""
    with _invalid_upload():
        return names.check_name(filename, field="filename")


def check_content_type(content_type: str) -> str:
    value = content_type.strip().lower()
    if value not in CONTENT_TYPES:
        raise InvalidUpload(f"Files of type '{content_type}' can't be stored in DocStore.", field="content_type")
    return value


def check_tags(tags: list[str]) -> list[str]:
    """Tags trimmed, deduplicated and sorted (see `docstore_events.names.check_tags`)."""
    with _invalid_upload():
        return names.check_tags(tags)


NEGATIVE_SIZE = "A file's size can't be negative."
# An empty file is a file (a sync client keeps `.gitkeep`, `__init__.py`, a truncated log): size 0
# is granted like any other, without holding room in quota (there is none to hold; see `FREE`).


def check_size(size: int, room_bytes: int) -> None:
    if size < 0:
        raise InvalidUpload(NEGATIVE_SIZE, field="size")
    if size > room_bytes:
        raise NoRoom(size, room_bytes)


def object_key(*, region: str, account_id: str, document_id: str, upload_id: str) -> str:
    """Where a version's bytes live: the server picks every part, so keys never collide or escape.

    A form upload's form names this key only when its bytes are pinned (`Grant.pinned_sha256`:
    S3 accepts no other bytes); otherwise the form writes the staging key and completion copies
    the object here. So nothing handed out can change a version's bytes."""
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
    """Form uploads: the key the signed form writes (see `staging_key`); None for multipart and
    for a form whose bytes are pinned (`pinned_sha256`)."""
    pinned_sha256: str | None = None
    """A form upload whose bytes the signed policy pins to this sha256 (hex; `checksum_fields`):
    S3 refuses any other bytes, so the form writes the version's own key directly (no staging
    copy) and completion reads size and checksum back with one HEAD."""


def unpinned(grant: Grant) -> Grant:
    """The same grant with its form writing a staging key (no checksum pinned)."""
    if grant.pinned_sha256 is None:
        return grant
    return replace(grant, pinned_sha256=None, staging_key=staging_key(grant.key))


def checksum_fields(sha256_hex: str) -> dict[str, str]:
    """The form fields that make S3 check the posted bytes against `sha256_hex` (400 `BadDigest`
    otherwise); as exact-match policy conditions they cannot be removed or changed (403)."""
    digest = base64.b64encode(bytes.fromhex(sha256_hex)).decode()
    return {"x-amz-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": digest}


def sha256_from_checksum(checksum: str) -> str | None:
    """The hex sha256 of S3's base64 `ChecksumSHA256` (None when it is not one)."""
    try:
        raw = base64.b64decode(checksum, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def form_policy(
    grant: Grant, *, max_size: int, encryption_fields: dict[str, str], redirect_url: str | None = None
) -> tuple[dict[str, str], list[Any]]:
    """The fields of a signed POST form for this grant, and its policy conditions.

    Every field is also an exact-match condition: S3 refuses a form posted with any of them
    removed or changed. That includes the server-side encryption fields
    (`docstore_kit.s3.ServerSideEncryption.form_fields`), so an upload that does not ask S3
    to encrypt the object at rest is refused by S3 itself. API clients get `201` back from
    S3; browsers (`redirect_url`) are sent on to a page that records the completion. A grant
    with `pinned_sha256` adds the checksum fields: S3 stores nothing but those exact bytes.
    Metadata without a value (no title, no tags) is left out, never sent empty.
    """
    metadata = {
        "x-amz-meta-upload-id": grant.upload_id,
        "x-amz-meta-filename": quote(grant.filename),
        "x-amz-meta-title": quote(grant.title or ""),
        "x-amz-meta-tags": quote(",".join(grant.tags)),
    }
    fields = {
        "Content-Type": grant.content_type,
        # No empty value: a presigned PUT signs each of these as a header, and curl, like many
        # HTTP clients, does not send a header whose value is empty (`-H "x-amz-meta-title:"`
        # removes it): the signature would never match (issue 33). Nothing reads them back empty.
        **{name: value for name, value in metadata.items() if value},
        **encryption_fields,
        **(checksum_fields(grant.pinned_sha256) if grant.pinned_sha256 else {}),
    }
    if redirect_url:
        fields["success_action_redirect"] = redirect_url
    else:
        fields["success_action_status"] = "201"
    conditions: list[Any] = [{name: value} for name, value in fields.items()]
    conditions.append(["content-length-range", 0, max_size])
    return fields, conditions


def expiry(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)


def check_path(path: str) -> str:
    """A folder path: absolute, '/'-separated, no '.' or '..' segments, no control characters."""
    with _invalid_upload():
        return names.check_path(path)


# --- a grant request, checked --------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    grant_seconds: int
    multipart_threshold: int
    multipart_part: int
    multipart_seconds: int


@dataclass(frozen=True)
class GrantRequest:
    filename: str
    size: int
    content_type: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    path: str = "/"
    document_id: str | None = None
    base_version: int | None = None
    browser: bool = False
    multipart: bool | None = None
    expires_in: int | None = None
    sha256: str | None = None
    """The client's word for the file's sha256: used only to find bytes the account already
    stores (dedupe) and, for a delta upload, as the sha256 the assembled object must have."""
    chunks: tuple[Any, ...] = ()
    """The file's content-defined chunks (`domain.delta.Chunk`), for delta uploads."""
    put: bool = False
    """A batch item with its sha256: a presigned PUT pinned to those bytes instead of a form."""

    def multipart_for(self, limits: Limits) -> bool:
        """Multipart when asked for, else from the threshold size up."""
        return self.size >= limits.multipart_threshold if self.multipart is None else self.multipart

    def signed_for(self, limits: Limits) -> int:
        """Seconds the form or part URLs stay valid."""
        return self.expires_in or limits.grant_seconds


def check_request(request: GrantRequest, limits: Limits) -> GrantRequest:
    """The request with its name, type, tags and path normalised; `InvalidUpload` for the first
    rule it breaks (in this order: filename, content type, tags, path, size, expiry, version)."""
    checked = replace(
        request,
        filename=check_filename(request.filename),
        content_type=check_content_type(request.content_type),
        tags=tuple(check_tags(list(request.tags))),
        path=check_path(request.path),
    )
    if request.size < 0:
        raise InvalidUpload(NEGATIVE_SIZE, field="size")
    if request.sha256 is not None:
        sha = request.sha256.lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise InvalidUpload("A sha256 is 64 hex digits.", field="sha256")
        checked = replace(checked, sha256=sha)
    if request.expires_in is not None and not 1 <= request.expires_in <= limits.grant_seconds:
        raise InvalidUpload(
            f"An upload link can stay valid for 1 to {limits.grant_seconds} seconds.", field="expires_in"
        )
    if request.document_id is None:
        if request.base_version is not None:
            raise InvalidUpload(
                "A base version is only given when uploading a new version of an existing document.",
                field="base_version",
            )
    elif request.base_version is None or request.base_version < 1:
        raise InvalidUpload("To upload a new version, say which version your change starts from.", field="base_version")
    return checked


@dataclass(frozen=True)
class CurrentDocument:
    """An existing document as metadata answers it to a caller who may write it."""

    document_id: str
    owner_id: str
    current_version: int
    name: str
    path: str
    trashed: bool
    current_bucket: str | None = None
    current_key: str | None = None
    """The current version's object: what a delta upload copies unchanged ranges from."""
    current_size: int | None = None
    current_sha256: str | None = None


@dataclass(frozen=True)
class StoredBytes:
    """A version of the account's own documents holding some bytes (metadata's dedupe answer)."""

    bucket: str
    key: str
    size: int
    sha256: str


def check_base(current: CurrentDocument | None, request: GrantRequest) -> CurrentDocument:
    """The document a new version is for: there, not in the trash, and still at the base version."""
    if current is None or current.trashed:
        raise UploadNotFound(request.document_id)
    if current.current_version != request.base_version:
        raise StaleBase(current.current_version)
    return current


@dataclass(frozen=True)
class Reservation:
    """Quota's answer to a reservation: granted or not, and the room left beside the others."""

    granted: bool
    room_bytes: int
    cap_bytes: int
    over_quota: bool
    plan: str
    upgrade_plan: str | None = None
    """The next plan up, whose cap is larger (None on the largest plan, or from an older quota)."""
    upgrade_cap_bytes: int | None = None

    def room(self) -> Room:
        """The account's plan and upgrade, as a refusal tells them."""
        return Room(self.plan, self.cap_bytes, self.upgrade_plan, self.upgrade_cap_bytes)


FREE = Reservation(granted=True, room_bytes=0, cap_bytes=0, over_quota=False, plan="")
"""What an empty file's grant holds in quota: nothing (quota holds only sizes above 0)."""


def check_reservation(reservation: Reservation, size: int) -> None:
    """Refuse the grant unless quota held its room (`OverQuota` first: it is not about this file)."""
    if reservation.over_quota:
        raise OverQuota(reservation.room())
    if not reservation.granted:
        raise NoRoom(size, reservation.room_bytes, reservation.room())


def new_grant(
    request: GrantRequest,
    *,
    upload_id: str,
    document_id: str,
    owner_id: str,
    region: str,
    limits: Limits,
    now: datetime,
    pin: bool = False,
) -> Grant:
    """The grant for a checked request: its key, and the staging key a form writes instead.
    With `pin` and a declared sha256, a form upload is pinned to those bytes and writes its key
    directly (see `Grant.pinned_sha256`)."""
    multipart = request.multipart_for(limits)
    pinned = request.sha256 if pin and not multipart and request.sha256 else None
    key = object_key(region=region, account_id=owner_id, document_id=document_id, upload_id=upload_id)
    return Grant(
        upload_id=upload_id,
        account_id=owner_id,
        document_id=document_id,
        key=key,
        filename=request.filename,
        content_type=request.content_type,
        declared_size=request.size,
        title=request.title,
        tags=list(request.tags),
        path=request.path,
        expires_at=expiry(now, limits.multipart_seconds if multipart else request.signed_for(limits)),
        base_version=request.base_version,
        # Multipart part URLs die with the S3 upload when its parts are joined; a form lives
        # on until it expires, so it writes a key of its own that no version is served from,
        # unless S3 itself allows it no other bytes than those declared (pinned).
        staging_key=None if multipart or pinned else staging_key(key),
        pinned_sha256=pinned,
    )


MAX_BATCH = 100
"""Most items one batch grant or batch completion carries (quota takes as many per call)."""


def check_batch(count: int) -> None:
    """Refuse an empty batch or one above `MAX_BATCH` (the message says what to do)."""
    if count < 1:
        raise BatchTooLarge("Choose at least one file to upload.")
    if count > MAX_BATCH:
        raise BatchTooLarge(
            f"You can upload at most {MAX_BATCH} files at once ({count} chosen). Upload them in smaller groups."
        )


def check_batch_item(request: GrantRequest, limits: Limits) -> GrantRequest:
    """A checked request that a batch grant takes: a form upload (multipart goes one by one)."""
    request = check_request(request, limits)
    if request.multipart_for(limits):
        raise NotForBatch(
            f"Files of {size_text(limits.multipart_threshold)} or more are sent in parts, one at a time: "
            "upload this file on its own."
        )
    return request
