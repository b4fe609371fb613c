"""Upload's completion: a stored object becomes `upload.completed`, once.

Completion arrives by whichever path fires first (the client's call, the browser's redirect,
the watcher finding the object, or an S3 notification) and every path goes through
`Completion.complete_row`, whose conditional state change (`sessions.finish`) makes the event
exactly-once.

A multipart upload's completion has two steps: the client's call has S3 join the parts and
returns (status "verifying"); reading the joined object back for its sha256 (seconds per
GiB) runs in the background, and the watcher takes over if this process dies meanwhile.
The WebDAV service, which hashed the body on its way, skips the second step: its sha256 is
recorded at once when S3's checksum of every part agrees with its own (`SentBytes`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog

from docstore_kit.errors import DomainError
from docstore_messaging.faults import crashpoint
from docstore_messaging.origin import kept_origin
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.consistency import completed_event_id
from docstore_upload.domain.errors import InvalidUpload, NoLongerAllowed, NotStoredYet, TooLarge, UploadNotFound
from docstore_upload.domain.sessions import (
    COMPLETED,
    PENDING,
    SentBytes,
    Session,
    StoredObject,
    StoredPart,
    already_completed,
    completed,
    is_multipart,
    is_pinned,
    may_take_sent,
    missing_parts,
    owner_and_actor,
    parts_as_sent,
    right_may_be_withdrawn,
    still_writable,
    stored_facts,
    verify_lease,
)
from docstore_upload.service_layer.common import CHUNK_MAP_CHECK_EVERY, Redirects, UploadContext
from docstore_upload.service_layer.endings import Endings

log = structlog.get_logger(__name__)

SHA_MISMATCH = "the assembled file's sha256 is not the one declared"
"""Why a delta upload is rejected when the object S3 joined is not the file the client described."""

PIN_IGNORED = "the stored file's sha256 is not the one its form allowed"
"""Why a pinned form upload is rejected if S3 stored other bytes than the form's checksum allows
(a store that ignores checksums; SeaweedFS and AWS S3 refuse them with 400 `BadDigest`)."""


class FinishedElsewhere(Exception):
    """`Completion.read_back` found the upload no longer pending: another path finished it."""

    def __init__(self, row: Session) -> None:
        super().__init__(row["_id"])
        self.row = row
        """The upload as it is now."""


class Completion:
    def __init__(
        self, context: UploadContext, endings: Endings, redirects: Redirects, *, record_wait_seconds: float = 0.0
    ) -> None:
        self.context = context
        self.endings = endings
        self.redirects = redirects
        self.record_wait_seconds = record_wait_seconds
        self._verifying: dict[str, asyncio.Task[None]] = {}

    async def find(self, account_id: str, upload_id: str) -> Session | None:
        """The upload if `account_id` asked for it (the owner, or an editor of a shared document)."""
        return await self.context.reads.sessions.get(account_id, upload_id)

    async def recorded(self, account_id: str, row: Session) -> bool:
        """Whether metadata already shows a completed upload's version to `account_id` (read-your-
        writes: the version is recorded when metadata consumes `upload.completed`, 0.1-0.3 s
        later). Asked every 50 ms for up to `record_wait_seconds`; False when it is not there by
        then, or metadata does not answer (the caller says when to ask again)."""
        if row["status"] != COMPLETED:
            return False
        base = row.get("base_version")
        clock = asyncio.get_running_loop().time
        deadline = clock() + self.record_wait_seconds
        while True:
            try:
                # Never longer than the wait promised, also when metadata hangs (its client's own
                # timeout is longer).
                found = await asyncio.wait_for(
                    self.context.metadata.document(account_id, row["document_id"]),
                    timeout=max(deadline - clock(), 0.05),
                )
            except (DomainError, TimeoutError):  # metadata unavailable or slow: not known to be recorded
                return False
            if found is not None and (base is None or found.current_version > base):
                return True
            if clock() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop reading joined objects back; the watcher finishes them after a restart."""
        for task in list(self._verifying.values()):
            task.cancel()
        await asyncio.gather(*self._verifying.values(), *self.context.background, return_exceptions=True)

    async def complete(self, account_id: str, upload_id: str, sent: SentBytes | None = None) -> Session:
        """The client says it is done. Repeated calls change nothing.

        A form upload is read back and recorded before this returns. A multipart upload
        returns once S3 has joined its parts, still pending with `joined_at` set; its facts
        are read back in the background and `upload.completed` follows. With `sent` (the WebDAV
        service's word, which the caller checked), it is recorded before this returns instead,
        when S3's checksums of the parts agree (`_record_as_sent`).
        """
        reads = self.context.reads
        row = await reads.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if not is_multipart(row) or row["status"] != PENDING:
            return await self.complete_row(row)
        await self.still_allowed(row)
        parts = await self._parts_to_join(row)
        # Leased before S3 joins the parts: S3 announces the join (a notification) before its
        # answer reaches this process, and a watcher may look meanwhile. Either would otherwise
        # find the object of a pending upload and read it back too, beside this process's own
        # read-back (1 GiB read twice at once, bench/README 2026-11-29).
        lease = verify_lease(row["declared_size"])
        joined = await self.context.uow.run(lambda tx: tx.repos.sessions.mark_joined(upload_id, lease))
        if joined is None:  # another path finished it meanwhile
            return await reads.sessions.by_id(upload_id) or row
        if parts is not None:
            await self.context.storage.finish_multipart(
                row["key"], row["s3_upload_id"], sorted(parts, key=lambda p: p.number)
            )
        if sent is not None and parts and may_take_sent(row) and parts_as_sent(parts, sent):
            recorded = await self._record_as_sent(row, parts, sent)
            if recorded is not None:
                return recorded
        self._verify_in_background(joined)
        return joined

    async def complete_from_redirect(self, upload_id: str, signature: str) -> Session:
        if not self.redirects.verify(upload_id, signature):
            raise UploadNotFound(upload_id)
        row = await self.context.reads.sessions.by_id(upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        return await self.complete_row(row)

    async def complete_row(self, row: Session) -> Session:
        """Every completion path ends here: read back, then recorded once."""
        if already_completed(row):
            return row
        try:
            stored = await self.read_back(row)
        except FinishedElsewhere as finished:
            already_completed(finished.row)  # `UploadClosed` when it ended otherwise
            return finished.row
        with kept_origin(row.get("origin")):  # a watcher's completion: the grant request's origin
            recorded = await self.context.uow.run(lambda tx: self.record(tx, row, stored))
        if recorded and row.get("staging_key"):
            # Off the caller's path: if it fails or the process dies, the late-write sweep deletes it.
            # Only the path that recorded the completion: another one (the client's call and the
            # watcher race) may delete it late, after a form re-posted there, which the late-write
            # sweep would have logged.
            self.context.in_background(self.context.storage.delete(row["staging_key"]))
        return await self.context.reads.sessions.by_id(row["_id"]) or row

    async def record(self, tx: Transaction[Repositories], row: Session, stored: StoredObject) -> bool:
        """The completion's state change and its `upload.completed`, in the caller's transaction;
        False when another path (redirect, watcher) completed it first."""
        fields: dict[str, Any] = {}
        if row.get("chunks") and stored.sha256 == row.get("declared_sha256"):
            # The map is kept for the next version's delta only when the bytes read back match it.
            fields["chunks_verified"] = list(stored.chunk_sha256s) == [h for _, _, h in row["chunks"]]
            if fields["chunks_verified"]:  # looked after by `Checks.sweep_chunk_maps` from then on
                fields["chunks_check_at"] = datetime.now(UTC) + CHUNK_MAP_CHECK_EVERY
        # The event's id is derived from the upload and kept on it: the consistency check can
        # publish it again under that id (`domain.consistency`).
        fields["completed_event_id"] = completed_event_id(row["_id"])
        if not await tx.repos.sessions.finish(row["_id"], COMPLETED, stored=stored_facts(stored), **fields):
            return False
        tx.emit(completed(row, stored, bucket=self.context.storage.bucket), event_id=fields["completed_event_id"])
        return True

    async def read_back(self, row: Session) -> StoredObject:
        """The first half of a completion (nothing recorded yet): the right re-checked; for a
        form upload, the staging object copied to the version's own key, which nothing handed
        out can write; then the facts read back from that key, so what is recorded is exactly
        what will be served. (Nothing staged yet: not arrived, so `stored` is None.)"""
        storage = self.context.storage
        await self.still_allowed(row)
        if row.get("staging_key"):
            crashpoint("upload.before_copy")
            # `row` may be stale (the client's call and the watcher race): once another path has
            # completed the upload, the staging key may hold a form re-posted since, which must
            # never reach the version's key. Looked at again just before the copy.
            current = await self.context.reads.sessions.by_id(row["_id"])
            if current is not None and current["status"] != PENDING:
                raise FinishedElsewhere(current)
            await storage.copy(row["staging_key"], row["key"])
        chunk_lengths = [int(length) for _, length, _ in row["chunks"]] if row.get("chunks") else None
        if is_pinned(row):
            stored = await self._pinned_facts(row)
            if stored is not None and chunk_lengths:  # the chunk map is checked against the bytes
                stored = await storage.stored(row["key"], chunk_lengths)
        else:
            stored = await storage.stored(row["key"], chunk_lengths)
        if stored is None:
            raise NotStoredYet(row["_id"])
        if stored.size > row["declared_size"]:
            await self.endings.reject(row, "more bytes arrived than were declared")
            raise TooLarge(row["declared_size"], stored.size)
        if row.get("delta_of") and stored.sha256 != row.get("declared_sha256"):
            # Part of this object was assembled by us from the client's map: it must be exactly
            # the file the client described, or nothing is recorded.
            await self.endings.reject(row, SHA_MISMATCH)
            raise InvalidUpload(f"Not stored: {SHA_MISMATCH}. Upload the file again.", field="sha256")
        return stored

    async def _pinned_facts(self, row: Session) -> StoredObject | None:
        """A pinned form upload's facts from one HEAD: the size, and the sha256 S3 checked the
        bytes against when it stored them (the store's word, not the client's). None when nothing
        is there yet. A store that kept no checksum, or another one, did not hold the form to its
        checksum, so it could not keep the bytes from changing either: the upload is rejected
        (nothing recorded) rather than trusted; `UPLOAD_PIN_CHECKSUMS=off` is for such a store."""
        checked = await self.context.storage.checked(row["key"])
        if checked is None:
            return None
        if checked.sha256 != row["pinned_sha256"]:
            await self.endings.reject(row, PIN_IGNORED)
            raise InvalidUpload(f"Not stored: {PIN_IGNORED}. Upload the file again.", field="sha256")
        # (The sha256 is S3's, just compared: the same string as the one pinned.)
        return StoredObject(size=checked.size, etag=checked.etag, sha256=row["pinned_sha256"])

    async def still_allowed(self, row: Session) -> None:
        """Re-check, at completion, the right the grant was issued under: a new version needs the
        document alive and, for an editor, the share still in place. Raises `NoLongerAllowed`
        after rejecting the upload; `MetadataUnavailable` leaves it pending for a later try."""
        if not right_may_be_withdrawn(row):
            return  # a new document of the caller's own: nothing to revoke
        _, actor = owner_and_actor(row)
        if still_writable(await self.context.metadata.document(actor, row["document_id"])):
            return
        await self.endings.reject(row, "the document was deleted or the share that allowed writing it was revoked")
        raise NoLongerAllowed()

    async def _record_as_sent(self, row: Session, parts: list[StoredPart], sent: SentBytes) -> Session | None:
        """The joined object recorded with the sender's sha256: its size and ETag from S3 (one
        HEAD), its bytes vouched for by the parts' checksums. None (read it back instead) when S3
        shows another size than the parts', or more than was declared."""
        head = await self.context.storage.head(row["key"])
        if head is None or head[0] != sum(part.size for part in parts) or head[0] > row["declared_size"]:
            return None
        stored = StoredObject(size=head[0], etag=head[1], sha256=sent.sha256)
        with kept_origin(row.get("origin")):
            await self.context.uow.run(lambda tx: self.record(tx, row, stored))
        return await self.context.reads.sessions.by_id(row["_id"]) or row

    async def _parts_to_join(self, row: Session) -> list[StoredPart] | None:
        """The parts S3 holds, once every one is there; None when an earlier call joined them."""
        storage = self.context.storage
        parts = await storage.stored_parts(row["key"], row["s3_upload_id"])
        if parts is None:
            # Joined by an earlier call (or gone: then there is nothing to read back).
            if not await storage.exists(row["key"]):
                raise NotStoredYet("S3 holds neither the parts nor the joined file")
            return None
        missing = missing_parts(row, parts)
        if missing:
            raise NotStoredYet(f"parts still missing: {missing[:20]}", missing_parts=missing[:20])
        if sum(p.size for p in parts) > row["declared_size"]:
            await self.endings.reject(row, "the parts hold more bytes than were declared")
            raise TooLarge(row["declared_size"])
        return parts

    def _verify_in_background(self, row: Session) -> None:
        if row["_id"] in self._verifying:
            return
        task = asyncio.create_task(self._verify(row))
        self._verifying[row["_id"]] = task
        task.add_done_callback(lambda _: self._verifying.pop(row["_id"], None))

    async def _verify(self, row: Session) -> None:
        crashpoint("upload.before_read_back")
        try:
            await self.complete_row(row)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The watcher checks it again once the lease set by `mark_joined` runs out.
            log.exception("upload_verify_failed", upload_id=row["_id"])
