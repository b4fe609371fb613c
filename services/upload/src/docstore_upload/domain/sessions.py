"""An upload session's life, as pure rules: its states, when it may complete, what completing
or expiring it announces.

A session is stored as a document (`Session`, a dict: the fields of its `Grant` plus `status`,
`actor_id`, and for multipart `s3_upload_id`, `part_size`, `part_count`, `joined_at`; once
completed, `stored` holds the facts read from S3). It leaves `pending` once, to one of the
final states, whichever completion path gets there first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from docstore_events import UploadCompleted, UploadExpired, UploadInitiated, UploadsInitiated
from docstore_events.uploads import InitiatedUpload
from docstore_upload.domain.errors import UploadClosed
from docstore_upload.domain.grants import CurrentDocument, Grant

PENDING, COMPLETED, EXPIRED, ABORTED, REJECTED = "pending", "completed", "expired", "aborted", "rejected"
VERIFYING = "verifying"
"""Not stored: how a pending multipart upload whose parts S3 joined is shown while it is read back."""

Session = dict[str, Any]
"""An upload session as stored (see the module)."""

READ_BACK_BYTES_PER_SECOND = 32 * 1024 * 1024
"""A pessimistic rate for reading a joined object back: how long the watcher waits before
it assumes the process that joined the parts died while reading them."""


@dataclass(frozen=True)
class StoredObject:
    """An object's facts, read from S3 (never taken from the client)."""

    size: int
    etag: str
    sha256: str
    chunk_sha256s: tuple[str, ...] = ()
    """With a chunk map asked for: each chunk's sha256, computed from the bytes read back."""


@dataclass(frozen=True)
class CheckedObject:
    """What one HEAD says of an object (`ChecksumMode`): its size and ETag, and the sha256 S3
    checked its bytes against on write (None when it holds none)."""

    size: int
    etag: str
    sha256: str | None


@dataclass(frozen=True)
class StoredPart:
    number: int
    size: int
    etag: str


def shown_status(session: Session) -> str:
    """The status a client sees: `verifying` while a joined multipart upload is read back."""
    if session["status"] == PENDING and session.get("joined_at") is not None:
        return VERIFYING
    return str(session["status"])


def is_multipart(session: Session) -> bool:
    return bool(session.get("s3_upload_id"))


def owner_and_actor(session: Session) -> tuple[str, str]:
    """(owner, actor): whose the document is, and who asked for the grant (an editor, or the owner)."""
    owner = str(session["account_id"])
    return owner, str(session.get("actor_id") or owner)


def already_completed(session: Session) -> bool:
    """True when the session is completed (repeating a completion changes nothing); `UploadClosed`
    when it ended otherwise; False while it is pending."""
    if session["status"] == COMPLETED:
        return True
    if session["status"] != PENDING:
        raise UploadClosed(session["status"])
    return False


def open_multipart(session: Session) -> Session:
    """A pending multipart session, for resuming; `UploadClosed` once it ended."""
    if session["status"] != PENDING:
        raise UploadClosed(session["status"])
    return session


def right_may_be_withdrawn(session: Session) -> bool:
    """Whether completion must re-check the right the grant was issued under: a new version needs
    the document alive, an editor's grant the share still in place. A new document of the
    caller's own has nothing to revoke."""
    owner, actor = owner_and_actor(session)
    return session.get("base_version") is not None or actor != owner


def still_writable(current: CurrentDocument | None) -> bool:
    """What metadata answered the grant's actor: the document, alive (else the right is gone)."""
    return current is not None and not current.trashed


def missing_parts(session: Session, parts: Iterable[StoredPart]) -> list[int]:
    """Part numbers S3 does not hold yet, in order."""
    return sorted(set(range(1, session["part_count"] + 1)) - {p.number for p in parts})


def parts_to_sign(session: Session, stored: Iterable[StoredPart]) -> list[int]:
    """Part numbers a resuming client still has to send, in order."""
    have = {part.number for part in stored}
    return [n for n in range(1, session["part_count"] + 1) if n not in have]


def verify_lease(declared_size: int) -> timedelta:
    """How long the watcher leaves a joined multipart upload to whoever is reading it back."""
    return timedelta(seconds=30 + declared_size / READ_BACK_BYTES_PER_SECOND)


def being_read_back(session: Session, now: datetime) -> bool:
    """A multipart upload this service joined itself: the process that joined it is reading it
    back (an S3 notification is S3 announcing that very join), and the watcher takes over when
    its lease runs out. Checking it elsewhere too would read a large object back twice."""
    return bool(session.get("joined_at")) and bool(session["next_check_at"] > now)


BATCH_CLIENT_GRACE = timedelta(seconds=60)
"""How long after a batch grant its client is trusted to call `POST /uploads/batch/complete`
before the watcher and S3 notifications complete the upload themselves (they would otherwise
copy and read every small file back a second time, side by side with the client's batch)."""


def awaits_client(session: Session, now: datetime) -> bool:
    """A batch-granted form upload whose client is still expected to complete it (in a batch):
    an S3 notification of its form's write is left to the client, and the watcher looks only
    once `BATCH_CLIENT_GRACE` has passed (its `next_check_at`)."""
    return bool(session.get("batch")) and bool(session["next_check_at"] > now)


def is_pinned(session: Session) -> bool:
    """A form upload whose form writes the version's key itself, S3 accepting only the bytes
    whose sha256 the grant pinned (no staging key, no copy)."""
    return bool(session.get("pinned_sha256")) and not session.get("staging_key") and not is_multipart(session)


def own_copy(session: Session, key: str) -> bool:
    """A write to a form upload's version key: only a completion's own copy writes there (forms
    write the staging key), and that completion records it, so a notice of it has nothing to add."""
    return bool(session.get("staging_key")) and key == session["key"]


def may_hold_late_write(session: Session) -> bool:
    """A finished form upload whose form may still write until it expires, where nothing may
    stay: its staging key, or a pinned form's own key when the upload ended without a version
    (expired, aborted, rejected). A completed pinned upload's key holds its version, and its
    form can only write those same bytes there again (S3 refuses others): nothing to look at."""
    if session["status"] == PENDING:
        return False
    if session.get("staging_key"):
        return True
    return is_pinned(session) and session["status"] != COMPLETED


def late_write_key(session: Session) -> str:
    """The key `may_hold_late_write` looks at."""
    return str(session.get("staging_key") or session["key"])


def expired(session: Session, now: datetime) -> bool:
    return bool(now >= session["expires_at"])


def stored_facts(stored: StoredObject) -> dict[str, Any]:
    return {"size": stored.size, "etag": stored.etag, "sha256": stored.sha256}


def initiated(grant: Grant) -> UploadInitiated:
    return UploadInitiated(
        account_id=grant.account_id,
        upload_id=grant.upload_id,
        document_id=grant.document_id,
        key=grant.key,
        declared_size=grant.declared_size,
        content_type=grant.content_type,
        expires_at=grant.expires_at,
    )


def batch_initiated(grants: list[Grant]) -> list[UploadsInitiated]:
    """The events of one batch grant: one per owner (a batch may upload into folders shared by
    others), its grants in order."""
    by_owner: dict[str, list[Grant]] = {}
    for grant in grants:
        by_owner.setdefault(grant.account_id, []).append(grant)
    return [
        UploadsInitiated(
            account_id=owner,
            uploads=[
                InitiatedUpload(
                    upload_id=grant.upload_id,
                    document_id=grant.document_id,
                    declared_size=grant.declared_size,
                    content_type=grant.content_type,
                    expires_at=grant.expires_at,
                )
                for grant in owned
            ],
        )
        for owner, owned in by_owner.items()
    ]


def completed(session: Session, stored: StoredObject, *, bucket: str) -> UploadCompleted:
    """`upload.completed` for a session, with the facts read from its object."""
    owner, actor = owner_and_actor(session)
    return UploadCompleted(
        account_id=owner,
        upload_id=session["_id"],
        document_id=session["document_id"],
        bucket=bucket,
        key=session["key"],
        filename=session["filename"],
        content_type=session["content_type"],
        size=stored.size,
        etag=stored.etag,
        sha256=stored.sha256,
        title=session.get("title"),
        tags=session.get("tags", []),
        path=session.get("path", "/"),
        base_version=session.get("base_version"),
        actor_id=session["actor_id"] if session.get("actor_id") != owner else None,
    )


def expired_event(session: Session) -> UploadExpired:
    return UploadExpired(
        account_id=session["account_id"],
        upload_id=session["_id"],
        document_id=session["document_id"],
        filename=session["filename"],
    )


SENDING_SERVICE = "webdav"
"""The one service whose word on the bytes of a multipart upload is taken (`SentBytes`): bodies
pass through it (WebDAV clients send them to the server), so it hashes them as they go."""


@dataclass(frozen=True)
class SentBytes:
    """What the WebDAV service says of the body it sent into a multipart upload: the sha256 of the
    whole body and each part's MD5, in part order. Taken instead of reading the joined object back
    only while S3's own checksum of every part (its ETag, the part's MD5) says it stored exactly
    those parts (`parts_as_sent`)."""

    sha256: str
    part_md5s: tuple[str, ...]


def parts_as_sent(parts: list[StoredPart], sent: SentBytes) -> bool:
    """Whether S3 holds the parts the sender hashed, no more and no other: parts 1..n, each part's
    ETag the MD5 sent for it. A part written again by anyone else, or a store whose part ETags are
    not MD5s (SSE-KMS on AWS), fails this, and the object is read back as for every other upload."""
    if not parts or len(parts) != len(sent.part_md5s):
        return False
    in_order = sorted(parts, key=lambda part: part.number)
    return all(
        part.number == number and part.etag.strip('"').lower() == md5.lower()
        for number, (part, md5) in enumerate(zip(in_order, sent.part_md5s, strict=True), start=1)
    )


def may_take_sent(session: Session) -> bool:
    """Whether an upload's sha256 may come from its sender: a multipart upload, not a delta (part
    of it was assembled here from an earlier version), not one with a chunk map (each chunk's
    sha256 needs the bytes)."""
    return is_multipart(session) and not session.get("delta_of") and not session.get("chunks")
