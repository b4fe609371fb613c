"""What upload does: hand out grants, and turn a stored object into `upload.completed`, once.

Completion arrives by whichever path fires first — the client's call, the browser's
redirect, or the watcher finding the object — and every path goes through `_complete`,
whose conditional state change makes the event exactly-once.

A multipart upload's completion has two steps: the client's call has S3 join the parts and
returns (status "verifying"); reading the joined object back for its sha256 — seconds per
GiB — runs in the background, and the watcher takes over if this process dies meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from docstore_events import UploadCompleted, UploadExpired, UploadInitiated
from docstore_events.faults import crashpoint
from docstore_events.runtime import EventRuntime
from docstore_kit import errors
from docstore_upload.adapters.metadata_client import MetadataClient
from docstore_upload.adapters.quota_client import QuotaClient
from docstore_upload.adapters.sessions import ABORTED, COMPLETED, EXPIRED, PENDING, REJECTED, UploadSessions
from docstore_upload.adapters.storage import Storage, StoredObject
from docstore_upload.domain.grants import (
    Grant,
    InvalidUpload,
    check_content_type,
    check_filename,
    check_path,
    NoRoom,
    check_tags,
    expiry,
    object_key,
    staging_key,
)
from docstore_upload.domain.multipart import part_count, part_size

log = structlog.get_logger(__name__)

SIGNATURE_LENGTH = 32
SIGNATURE = re.compile(f"[0-9a-f]{{{SIGNATURE_LENGTH}}}")
READ_BACK_BYTES_PER_SECOND = 32 * 1024 * 1024
"""A pessimistic rate for reading a joined object back: how long the watcher waits before
it assumes the process that joined the parts died while reading them."""


class UploadNotFound(errors.NotFound):
    """No such upload (or document to add a version to) for this account."""

    problem = "upload-not-found"

    def detail(self) -> str:
        # The message is the id looked for; the answer names neither kind nor id.
        return "upload or document not found"


class NotStoredYet(errors.Conflict):
    """Completion was asked for before the object (or every part) reached S3."""

    problem = "not-stored-yet"
    title = "Not stored yet"

    def detail(self) -> str:
        return f"the file has not fully arrived in storage yet ({self})"


class OverQuota(errors.Forbidden):
    """The account is flagged over its cap: no new grants until space is freed."""

    problem = "over-quota"
    title = "Over quota"


class StaleBase(errors.Conflict):
    """A new version was based on a version that is no longer the current one."""

    problem = "stale-base"
    title = "Stale base version"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"the document is at version {current_version}: download it and merge your change")
        self.current_version = current_version

    def detail(self) -> dict[str, object]:
        # Clients read `detail.current_version` (the shape this answer always had).
        return {"message": str(self), "current_version": self.current_version}

    def extra(self) -> dict[str, object]:
        return {"current_version": self.current_version}


class UploadClosed(errors.Conflict):
    """The upload expired, was aborted or was rejected; it cannot continue."""

    problem = "upload-closed"
    title = "Upload closed"


class TooLarge(errors.Invalid):
    """More bytes arrived than were declared and granted (422: the client broke its declaration)."""

    problem = "larger-than-declared"
    title = "Larger than declared"


class NoLongerAllowed(errors.Forbidden):
    """The grant outlived the right it was issued under: the document was deleted or trashed, or
    the share that let the caller write it was revoked. The upload is rejected, nothing recorded."""

    problem = "no-longer-allowed"
    title = "No longer allowed"


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


@dataclass(frozen=True)
class IssuedGrant:
    grant: Grant
    max_size: int
    form: dict[str, Any] | None = None
    part_size: int | None = None
    part_urls: dict[int, str] | None = None


@dataclass(frozen=True)
class Limits:
    grant_seconds: int
    multipart_threshold: int
    multipart_part: int
    multipart_seconds: int


class Uploads:
    def __init__(
        self,
        events: EventRuntime,
        sessions: UploadSessions,
        storage: Storage,
        quota: QuotaClient,
        metadata: MetadataClient,
        *,
        region: str,
        limits: Limits,
        redirect_base: str,
        redirect_secret: str,
    ) -> None:
        self.events = events
        self.sessions = sessions
        self.storage = storage
        self.quota = quota
        self.metadata = metadata
        self.region = region
        self.limits = limits
        self.redirect_base = redirect_base.rstrip("/")
        self._secret = redirect_secret.encode()
        self._verifying: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        """Stop reading joined objects back; the watcher finishes them after a restart."""
        for task in list(self._verifying.values()):
            task.cancel()
        await asyncio.gather(*self._verifying.values(), *self._background, return_exceptions=True)

    # --- grants ----------------------------------------------------------------------

    async def grant(self, account_id: str, request: GrantRequest) -> IssuedGrant:
        """Check the request and the room left, record the session, and sign the upload."""
        filename = check_filename(request.filename)
        content_type = check_content_type(request.content_type)
        tags = check_tags(list(request.tags))
        path = check_path(request.path)
        if request.size <= 0:
            raise InvalidUpload("size: must be a positive number of bytes")
        if request.expires_in is not None and not 1 <= request.expires_in <= self.limits.grant_seconds:
            raise InvalidUpload(f"expires_in: 1 to {self.limits.grant_seconds} seconds")
        # A new version of a document shared for editing is stored and counted as the owner's.
        document_id, owner_id = await self._document_for(account_id, request)

        multipart = request.size >= self.limits.multipart_threshold if request.multipart is None else request.multipart
        now = datetime.now(UTC)
        signed_for = request.expires_in or self.limits.grant_seconds
        upload_id = str(uuid.uuid4())
        key = object_key(region=self.region, account_id=owner_id, document_id=document_id, upload_id=upload_id)
        grant = Grant(
            upload_id=upload_id,
            account_id=owner_id,
            document_id=document_id,
            key=key,
            filename=filename,
            content_type=content_type,
            declared_size=request.size,
            title=request.title,
            tags=tags,
            path=path,
            expires_at=expiry(now, self.limits.multipart_seconds if multipart else signed_for),
            base_version=request.base_version,
            # Multipart part URLs die with the S3 upload when its parts are joined; a form lives
            # on until it expires, so it writes a key of its own that no version is served from.
            staging_key=None if multipart else staging_key(key),
        )
        # The room is held for this grant until it completes or expires, so grants issued side by
        # side never add up past the cap (quota decides atomically per account).
        reservation = await self.quota.reserve(owner_id, upload_id, request.size, grant.expires_at)
        if reservation.over_quota:
            raise OverQuota("this account is over its storage cap: free some space before uploading")
        if not reservation.granted:
            raise NoRoom(request.size, reservation.room_bytes)
        extra: dict[str, Any] = {"actor_id": account_id}
        if multipart:
            chosen = part_size(request.size, self.limits.multipart_part)
            extra |= {
                "s3_upload_id": await self.storage.start_multipart(grant),
                "part_size": chosen,
                "part_count": part_count(request.size, chosen),
            }

        async def write(session: AsyncClientSession) -> None:
            await self.sessions.add(grant, session, **extra)
            await self.events.outbox.add(
                UploadInitiated(
                    account_id=owner_id, upload_id=upload_id, document_id=document_id, key=grant.key,
                    declared_size=request.size, content_type=content_type, expires_at=grant.expires_at,
                ),
                session=session,
            )

        await self.events.transaction(write)
        if multipart:
            numbers = list(range(1, extra["part_count"] + 1))
            urls = self.storage.part_urls(grant.key, extra["s3_upload_id"], numbers, expires_in=signed_for)
            return IssuedGrant(grant=grant, max_size=request.size, part_size=extra["part_size"], part_urls=urls)
        # The form allows no more than declared: a client cannot send more than quota agreed to.
        redirect = self.redirect_url(upload_id) if request.browser else None
        form = self.storage.post_form(grant, max_size=request.size, expires_in=signed_for, redirect_url=redirect)
        return IssuedGrant(grant=grant, max_size=request.size, form=form)

    async def _document_for(self, account_id: str, request: GrantRequest) -> tuple[str, str]:
        """(document id, owner id): a fresh document of the caller's, or the existing document a new
        version is for, checked with metadata (the caller's own, or shared with them to edit)."""
        if request.document_id is None:
            if request.base_version is not None:
                raise InvalidUpload("base_version: only with document_id")
            return str(uuid.uuid4()), account_id
        if request.base_version is None or request.base_version < 1:
            raise InvalidUpload("base_version: required with document_id: the version your change starts from")
        current = await self.metadata.document(account_id, request.document_id)
        if current is None or current.trashed:
            raise UploadNotFound(request.document_id)
        if current.current_version != request.base_version:
            raise StaleBase(current.current_version)
        return current.document_id, current.owner_id

    # --- multipart -------------------------------------------------------------------

    async def parts(self, account_id: str, upload_id: str, *, expires_in: int | None = None) -> dict[str, Any]:
        """What a resuming client needs: parts S3 already has, and fresh URLs for the rest."""
        row = await self._open_multipart(account_id, upload_id)
        stored = await self.storage.stored_parts(row["key"], row["s3_upload_id"]) or []
        have = {part.number for part in stored}
        missing = [n for n in range(1, row["part_count"] + 1) if n not in have]
        urls = self.storage.part_urls(
            row["key"], row["s3_upload_id"], missing, expires_in=expires_in or self.limits.grant_seconds
        )
        return {"row": row, "stored": stored, "urls": urls}

    async def abort(self, account_id: str, upload_id: str) -> dict[str, Any]:
        row = await self.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if row["status"] != PENDING:
            return row
        if row.get("s3_upload_id"):
            await self.storage.abort_multipart(row["key"], row["s3_upload_id"])
        await self.events.transaction(lambda session: self.sessions.finish(upload_id, ABORTED, session))
        await self._discard(row)
        return await self.sessions.by_id(upload_id) or row

    async def _open_multipart(self, account_id: str, upload_id: str) -> dict[str, Any]:
        row = await self.sessions.get(account_id, upload_id)
        if row is None or not row.get("s3_upload_id"):
            raise UploadNotFound(upload_id)
        if row["status"] != PENDING:
            raise UploadClosed(f"this upload is {row['status']}")
        return row

    # --- completion ------------------------------------------------------------------

    async def complete(self, account_id: str, upload_id: str) -> dict[str, Any]:
        """The client says it is done. Repeated calls change nothing.

        A form upload is read back and recorded before this returns. A multipart upload
        returns once S3 has joined its parts, still pending with `joined_at` set; its facts
        are read back in the background and `upload.completed` follows.
        """
        row = await self.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if not row.get("s3_upload_id") or row["status"] != PENDING:
            return await self._complete(row)
        await self._still_allowed(row)
        await self._join_parts(row)
        lease = timedelta(seconds=30 + row["declared_size"] / READ_BACK_BYTES_PER_SECOND)
        joined = await self.sessions.mark_joined(upload_id, lease)
        if joined is None:  # another path finished it meanwhile
            return await self.sessions.by_id(upload_id) or row
        self._verify_in_background(joined)
        return joined

    def redirect_url(self, upload_id: str) -> str:
        """Where S3 sends a browser after its form upload; the signature stands in for a login."""
        return f"{self.redirect_base}/v1/uploads/{upload_id}/done/{self._sign(upload_id)}"

    async def complete_from_redirect(self, upload_id: str, signature: str) -> dict[str, Any]:
        # Only what `_sign` can produce is compared (as bytes: compare_digest refuses non-ASCII str).
        if not SIGNATURE.fullmatch(signature) or not hmac.compare_digest(
            self._sign(upload_id).encode(), signature.encode()
        ):
            raise UploadNotFound(upload_id)
        row = await self.sessions.by_id(upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        return await self._complete(row)

    def _sign(self, upload_id: str) -> str:
        return hmac.new(self._secret, upload_id.encode(), hashlib.sha256).hexdigest()[:SIGNATURE_LENGTH]

    async def _complete(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["status"] == COMPLETED:
            return row
        if row["status"] != PENDING:
            raise UploadClosed(f"this upload is {row['status']}")
        await self._still_allowed(row)
        if row.get("staging_key"):
            # A form upload: copy what the form wrote to the version's own key, which nothing
            # handed out can write. The facts below are read from that copy: what is recorded is
            # exactly what will be served. (Nothing staged yet: not arrived, so `stored` is None.)
            crashpoint("upload.before_copy")
            await self.storage.copy(row["staging_key"], row["key"])
        stored = await self.storage.stored(row["key"])
        if stored is None:
            raise NotStoredYet(row["_id"])
        if stored.size > row["declared_size"]:
            await self._reject(row, "more bytes arrived than were declared")
            raise TooLarge(f"{stored.size} bytes arrived but {row['declared_size']} were declared")
        await self.events.transaction(lambda session: self._record_completion(row, stored, session))
        if row.get("staging_key"):
            # Off the caller's path: if it fails or the process dies, the late-write sweep deletes it.
            self._in_background(self.storage.delete(row["staging_key"]))
        return await self.sessions.by_id(row["_id"]) or row

    def _in_background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _still_allowed(self, row: dict[str, Any]) -> None:
        """Re-check, at completion, the right the grant was issued under: a new version needs the
        document alive and, for an editor, the share still in place. Raises `NoLongerAllowed`
        after rejecting the upload; `MetadataUnavailable` leaves it pending for a later try."""
        is_new_version = row.get("base_version") is not None
        by_editor = row.get("actor_id", row["account_id"]) != row["account_id"]
        if not (is_new_version or by_editor):
            return  # a new document of the caller's own: nothing to revoke
        current = await self.metadata.document(row.get("actor_id", row["account_id"]), row["document_id"])
        if current is not None and not current.trashed:
            return
        await self._reject(row, "the document was deleted or the share that allowed writing it was revoked")
        raise NoLongerAllowed("this upload is no longer allowed: the document was deleted, or its share was revoked")

    async def _reject(self, row: dict[str, Any], reason: str) -> None:
        """End a pending upload as rejected and drop whatever it stored; nothing is recorded."""
        if row.get("s3_upload_id"):
            await self.storage.abort_multipart(row["key"], row["s3_upload_id"])
        rejected = await self.events.transaction(
            lambda session: self.sessions.finish(row["_id"], REJECTED, session, reason=reason)
        )
        if not rejected:
            return  # another path finished it first: its bytes are not ours to drop
        await self.storage.delete(row["key"])
        await self._discard(row)
        log.warning("upload_rejected", upload_id=row["_id"], account_id=row["account_id"], reason=reason)

    async def _discard(self, row: dict[str, Any]) -> None:
        """Drop the staging object and give the reserved room back (both best effort: the late-write
        sweep and quota's own expiry catch what is missed here)."""
        try:
            if row.get("staging_key"):
                await self.storage.delete(row["staging_key"])
            await self.quota.release(row["account_id"], row["_id"])
        except Exception:
            log.warning("upload_discard_incomplete", upload_id=row["_id"], exc_info=True)

    async def _join_parts(self, row: dict[str, Any]) -> None:
        parts = await self.storage.stored_parts(row["key"], row["s3_upload_id"])
        if parts is None:
            # Joined by an earlier call (or gone: then there is nothing to read back).
            if not await self.storage.exists(row["key"]):
                raise NotStoredYet("S3 holds neither the parts nor the joined file")
            return
        missing = sorted(set(range(1, row["part_count"] + 1)) - {p.number for p in parts})
        if missing:
            raise NotStoredYet(f"parts still missing: {missing[:20]}")
        if sum(p.size for p in parts) > row["declared_size"]:
            await self._reject(row, "the parts hold more bytes than were declared")
            raise TooLarge("the parts hold more bytes than were declared")
        await self.storage.finish_multipart(row["key"], row["s3_upload_id"], sorted(parts, key=lambda p: p.number))

    def _verify_in_background(self, row: dict[str, Any]) -> None:
        if row["_id"] in self._verifying:
            return
        task = asyncio.create_task(self._verify(row))
        self._verifying[row["_id"]] = task
        task.add_done_callback(lambda _: self._verifying.pop(row["_id"], None))

    async def _verify(self, row: dict[str, Any]) -> None:
        crashpoint("upload.before_read_back")
        try:
            await self._complete(row)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The watcher checks it again once the lease set by `mark_joined` runs out.
            log.exception("upload_verify_failed", upload_id=row["_id"])

    async def _record_completion(self, row: dict[str, Any], stored: StoredObject, session: AsyncClientSession) -> None:
        facts = {"size": stored.size, "etag": stored.etag, "sha256": stored.sha256}
        if not await self.sessions.finish(row["_id"], COMPLETED, session, stored=facts):
            return  # another path (redirect, watcher) completed it first
        await self.events.outbox.add(
            UploadCompleted(
                account_id=row["account_id"], upload_id=row["_id"], document_id=row["document_id"],
                bucket=self.storage.bucket, key=row["key"], filename=row["filename"],
                content_type=row["content_type"], size=stored.size, etag=stored.etag, sha256=stored.sha256,
                title=row.get("title"), tags=row.get("tags", []), path=row.get("path", "/"),
                base_version=row.get("base_version"),
                actor_id=row["actor_id"] if row.get("actor_id") != row["account_id"] else None,
            ),
            session=session,
        )

    # --- the watcher -----------------------------------------------------------------

    async def watch(self, interval: float) -> None:
        """Until cancelled: complete uploads whose object arrived, expire the ones that never will."""
        lease = timedelta(seconds=interval)
        while True:
            try:
                while await self.sweep_late_writes():
                    pass
                row = await self.sessions.claim_due(lease)
                if row is None:
                    await asyncio.sleep(interval)
                    continue
                await self.check(row)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("upload_watch_failed")
                await asyncio.sleep(interval)

    async def sweep_late_writes(self) -> bool:
        """Look once at the staging key of one finished form upload whose form has expired; an
        object there was written after the upload finished (a form re-posted): log it, delete it.
        It was never served: versions are read from their own keys. False when none was due."""
        row = await self.sessions.claim_late_check()
        if row is None:
            return False
        await self.late_write(row)
        return True

    async def late_write(self, row: dict[str, Any]) -> bool:
        """Delete what a form wrote after its upload finished; True when there was something."""
        if row["status"] == PENDING or not row.get("staging_key") or not await self.storage.exists(row["staging_key"]):
            return False
        log.warning("upload_late_write", upload_id=row["_id"], account_id=row["account_id"], status=row["status"])
        await self.storage.delete(row["staging_key"])
        return True

    async def check(self, row: dict[str, Any]) -> str:
        """One look at a pending upload: completed, expired, or still waiting."""
        multipart = bool(row.get("s3_upload_id"))
        # The object exists once a form upload arrived or S3 joined a multipart upload's parts
        # (also the final check at expiry); unjoined parts wait for the client's word.
        if await self.storage.exists(row["key"]) or (
            row.get("staging_key") and await self.storage.exists(row["staging_key"])
        ):
            await self._complete(row)
            return COMPLETED
        if datetime.now(UTC) < row["expires_at"]:
            return PENDING
        if multipart:
            await self.storage.abort_multipart(row["key"], row["s3_upload_id"])

        async def expire(session: AsyncClientSession) -> None:
            if await self.sessions.finish(row["_id"], EXPIRED, session):
                await self.events.outbox.add(
                    UploadExpired(
                        account_id=row["account_id"], upload_id=row["_id"], document_id=row["document_id"],
                        filename=row["filename"],
                    ),
                    session=session,
                )

        await self.events.transaction(expire)
        return EXPIRED
