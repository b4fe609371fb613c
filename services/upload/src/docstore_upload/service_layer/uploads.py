"""Upload's use cases: hand out grants, and turn a stored object into `upload.completed`, once.

Completion arrives by whichever path fires first (the client's call, the browser's redirect,
the watcher finding the object, or an S3 notification) and every path goes through
`_complete`, whose conditional state change (`sessions.finish`) makes the event exactly-once.

A multipart upload's completion has two steps: the client's call has S3 join the parts and
returns (status "verifying"); reading the joined object back for its sha256 (seconds per
GiB) runs in the background, and the watcher takes over if this process dies meanwhile.

Every state change runs in the unit of work (`uow.run`), its event with it; reads that need
no consistency with a write go through `reads` (the repositories outside any transaction).
S3, quota and metadata are ports (`service_layer.ports`), called outside transactions, before
or after them: a transaction may be run again, a call to S3 must not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

from docstore_events import names
from docstore_events.faults import crashpoint
from docstore_events.tracing import continue_trace, current_traceparent, link_to
from docstore_events.unit_of_work import Transaction, UnitOfWork
from docstore_kit.errors import DomainError, Unavailable
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.consistency import completed_event_id
from docstore_upload.domain.delta import DELTA_FROM, Chunk, Part, check_chunks, copied_bytes, plan_parts
from docstore_upload.domain.errors import (
    DECLINED,
    CompletionFailed,
    InvalidUpload,
    NameTaken,
    NoLongerAllowed,
    NotStoredYet,
    TooLarge,
    UploadNotFound,
)
from docstore_upload.domain.grants import (
    FREE,
    CurrentDocument,
    Grant,
    GrantRequest,
    Limits,
    Reservation,
    StoredBytes,
    check_base,
    check_batch,
    check_batch_item,
    check_request,
    check_reservation,
    new_grant,
    unpinned,
)
from docstore_upload.domain.multipart import part_count, part_size
from docstore_upload.domain.sessions import (
    ABORTED,
    BATCH_CLIENT_GRACE,
    COMPLETED,
    EXPIRED,
    PENDING,
    REJECTED,
    Session,
    StoredObject,
    StoredPart,
    already_completed,
    awaits_client,
    batch_initiated,
    being_read_back,
    completed,
    expired,
    expired_event,
    initiated,
    is_multipart,
    is_pinned,
    late_write_key,
    may_hold_late_write,
    missing_parts,
    open_multipart,
    own_copy,
    owner_and_actor,
    parts_to_sign,
    right_may_be_withdrawn,
    still_writable,
    stored_facts,
    verify_lease,
)
from docstore_upload.domain.signatures import RedirectSigner
from docstore_upload.service_layer.ports import Documents, ObjectStore, Quota

log = structlog.get_logger(__name__)

T = TypeVar("T")

BATCH_S3_CONCURRENCY = 16
"""A batch completion's items copied and read back from S3 at once."""

LATE_WRITE = "late-write"

AWAITING_KEYS = 100_000
"""At most this many batch grants' keys are remembered as awaiting their client (`Uploads._await_client`)."""
"""`object_written`'s outcome when the write was a form's, after its upload finished (deleted)."""


@dataclass(frozen=True)
class IssuedGrant:
    grant: Grant
    max_size: int
    form: dict[str, Any] | None = None
    put: dict[str, Any] | None = None
    """A pinned batch item asked for as a PUT: `url` and the `headers` to send with the bytes."""
    part_size: int | None = None
    part_urls: dict[int, str] | None = None
    deduplicated: bool = False
    """The account already stored these bytes: the version's object was copied server-side and
    the upload is completed; nothing is to be sent."""
    layout: dict[int, tuple[int, int]] | None = None
    """Multipart: each part's (offset, length) in the file (a delta upload's parts differ in size)."""
    part_count: int | None = None
    copied_bytes: int = 0
    """A delta upload: bytes of the file copied server-side from the previous version."""


DEDUPE_IN_BACKGROUND_FROM = 8 * 1024 * 1024
"""A dedupe copy of this size and up runs after the grant's answer (`deduplicated: true` with the
upload still pending): a copy of many GiB inside the request would outlast the gateway's upstream
timeout. The client follows `GET /uploads/{id}` to `completed` (`aborted`: the bytes went away
meanwhile, it sends them). Smaller copies (the batch route's too) finish before the answer."""

CHUNK_MAP_CHECK_EVERY = timedelta(hours=1)
"""How often the object of a kept chunk map is looked for: once its version is purged (the object
deleted), the map goes too (`sweep_chunk_maps`)."""

SHA_MISMATCH = "the assembled file's sha256 is not the one declared"
"""Why a delta upload is rejected when the object S3 joined is not the file the client described."""

PIN_IGNORED = "the stored file's sha256 is not the one its form allowed"
"""Why a pinned form upload is rejected if S3 stored other bytes than the form's checksum allows
(a store that ignores checksums; SeaweedFS and AWS S3 refuse them with 400 `BadDigest`)."""


async def _no_reservations() -> dict[str, Reservation]:
    return {}


async def _none() -> None:
    return None


def uniform_layout(size: int, part: int, count: int) -> dict[int, tuple[int, int]]:
    """(offset, length) of each part of an upload cut into equal parts (the last shorter)."""
    return {n: ((n - 1) * part, min(part, size - (n - 1) * part)) for n in range(1, count + 1)}


def session_layout(row: Session) -> dict[int, tuple[int, int]]:
    """A multipart session's parts as (offset, length): stored for a delta upload, else uniform."""
    if row.get("layout"):
        return {int(n): (int(o), int(length)) for n, o, length in row["layout"]}
    return uniform_layout(row["declared_size"], row["part_size"], row["part_count"])


@dataclass(frozen=True)
class ResumableParts:
    """What a resuming client needs: the session, the parts S3 has, fresh URLs for the rest."""

    session: Session
    stored: list[StoredPart]
    urls: dict[int, str]


class Uploads:
    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        storage: ObjectStore,
        quota: Quota,
        metadata: Documents,
        *,
        region: str,
        limits: Limits,
        redirect_base: str,
        redirect_secret: str,
        pin_checksums: bool = True,
        record_wait_seconds: float = 0.0,
    ) -> None:
        self.record_wait_seconds = record_wait_seconds
        self.uow = uow
        self.reads = reads
        self.storage = storage
        self.quota = quota
        self.metadata = metadata
        self.region = region
        self.limits = limits
        self.redirect_base = redirect_base.rstrip("/")
        self.signer = RedirectSigner(redirect_secret)
        self.pin_checksums = pin_checksums
        self._awaiting_client: dict[str, tuple[str, datetime]] = {}
        """Key a batch grant's client writes -> (upload id, until when its client completes it):
        S3's notification of that write is not looked up meanwhile (see `object_written`)."""
        self._awaiting_keys: dict[str, str] = {}
        """Upload id -> its key in `_awaiting_client`."""
        self._verifying: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()

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
                    self.metadata.document(account_id, row["document_id"]), timeout=max(deadline - clock(), 0.05)
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
        await asyncio.gather(*self._verifying.values(), *self._background, return_exceptions=True)

    # --- reading -----------------------------------------------------------------------

    async def find(self, account_id: str, upload_id: str) -> Session | None:
        """The upload if `account_id` asked for it (the owner, or an editor of a shared document)."""
        return await self.reads.sessions.get(account_id, upload_id)

    # --- grants ----------------------------------------------------------------------

    async def _names_held(self, account_id: str, places: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (folder, name) places a live document holds, to refuse a new document there at
        once (409). While metadata does not answer, none: uploads go on without it, and the
        completion, which metadata records when it is back, gives a clashing new document a
        conflict-copy name instead (the name rule holds either way; only the early 409 is lost)."""
        try:
            return await self.metadata.taken(account_id, places)
        except Unavailable as error:
            log.warning("names_unchecked_metadata_unavailable", account_id=account_id, error=str(error)[:200])
            return set()

    async def _keep_both_name(self, account_id: str, path: str, name: str) -> str | None:
        """The first of `name 2` ... `name 20` free in the folder (one question), for the 409's
        "keep both" choice; None when none is (the person then chooses a name)."""
        candidates = [names.numbered(name, n) for n in range(2, 21)]
        held = await self._names_held(account_id, [(path, c) for c in candidates])
        return next((c for c in candidates if (path, c) not in held), None)

    async def grant(self, account_id: str, request: GrantRequest) -> IssuedGrant:
        """Check the request and the room left, record the session, and sign the upload."""
        request = check_request(request, self.limits)
        if request.chunks:
            request = replace(request, chunks=check_chunks(request.chunks, request.size))
        # A new version of a document shared for editing is stored and counted as the owner's.
        current = await self._current_for(account_id, request)
        if current is None and await self._names_held(account_id, [(request.path, request.filename)]):
            # One live document per name in a folder: a second would be a silent duplicate.
            raise NameTaken(
                request.path,
                request.filename,
                keep_both_name=await self._keep_both_name(account_id, request.path, request.filename),
            )
        document_id, owner_id = (current.document_id, current.owner_id) if current else (str(uuid.uuid4()), account_id)
        if request.sha256 and owner_id == account_id:
            # Only for the caller's own documents: an editor of a shared document must not learn,
            # by the answer, whether the owner stores some bytes (see metadata's `stored_bytes`).
            deduplicated = await self._deduplicate(account_id, request, document_id)
            if deduplicated is not None:
                return deduplicated
        if current is not None and request.chunks and request.sha256 and request.size >= DELTA_FROM:
            delta = await self._delta(account_id, request, current)
            if delta is not None:
                return delta
        multipart = request.multipart_for(self.limits)
        signed_for = request.signed_for(self.limits)
        upload_id = str(uuid.uuid4())
        grant = new_grant(
            request,
            upload_id=upload_id,
            document_id=document_id,
            owner_id=owner_id,
            region=self.region,
            limits=self.limits,
            now=datetime.now(UTC),
        )
        # The room is held for this grant until it completes or expires, so grants issued side by
        # side never add up past the cap (quota decides atomically per account).
        reserved = (
            await self.quota.reserve(owner_id, upload_id, request.size, grant.expires_at) if request.size else FREE
        )
        check_reservation(reserved, request.size)
        # The watcher that completes or expires it later continues this request's trace.
        extra: dict[str, Any] = {"actor_id": account_id, "traceparent": current_traceparent()}
        if multipart:
            chosen = part_size(request.size, self.limits.multipart_part)
            extra |= {
                "s3_upload_id": await self.storage.start_multipart(grant),
                "part_size": chosen,
                "part_count": part_count(request.size, chosen),
            }
        if request.chunks and request.sha256:
            # Kept with the session; marked verified at completion if the bytes match it, and
            # then what the next version's delta upload is planned against.
            extra["chunks"] = [[c.offset, c.length, c.sha256] for c in request.chunks]
            extra["declared_sha256"] = request.sha256

        async def record(tx: Transaction[Repositories]) -> None:
            await tx.repos.sessions.add(grant, **extra)
            tx.emit(initiated(grant))

        await self.uow.run(record)
        if multipart:
            numbers = list(range(1, extra["part_count"] + 1))
            urls = self.storage.part_urls(grant.key, extra["s3_upload_id"], numbers, expires_in=signed_for)
            return IssuedGrant(
                grant=grant,
                max_size=request.size,
                part_size=extra["part_size"],
                part_urls=urls,
                layout=uniform_layout(request.size, extra["part_size"], extra["part_count"]),
                part_count=extra["part_count"],
            )
        # The form allows no more than declared: a client cannot send more than quota agreed to.
        redirect = self.redirect_url(upload_id) if request.browser else None
        form = self.storage.post_form(grant, max_size=request.size, expires_in=signed_for, redirect_url=redirect)
        return IssuedGrant(grant=grant, max_size=request.size, form=form)

    async def grant_many(self, account_id: str, requests: list[GrantRequest]) -> list[IssuedGrant | DomainError]:
        """Many form grants in one go, one result per request, in order: a grant, or the refusal
        of that item alone (bad name, no room, a multipart-sized file...). The room is reserved
        with one quota call per owner, decided in order for the batch's total; the sessions and
        their `upload.initiated` are recorded in one transaction. Quota unreachable fails the
        whole batch (503), as it fails a single grant."""
        check_batch(len(requests))
        results: list[IssuedGrant | DomainError | None] = [None] * len(requests)
        now = datetime.now(UTC)

        async def plan(index: int, request: GrantRequest) -> tuple[int, GrantRequest, Grant] | None:
            try:
                request = check_batch_item(request, self.limits)
                document_id, owner_id = await self._document_for(account_id, request)
            except DomainError as error:
                results[index] = error
                return None
            grant = new_grant(
                request,
                upload_id=str(uuid.uuid4()),
                document_id=document_id,
                owner_id=owner_id,
                region=self.region,
                limits=self.limits,
                now=now,
                # An item with its sha256: its form carries it, S3 takes no other bytes, and the
                # form writes the version's key (no staging copy; completion is one HEAD).
                pin=self.pin_checksums,
            )
            return index, request, grant

        planned = [p for p in await asyncio.gather(*(plan(i, r) for i, r in enumerate(requests))) if p is not None]
        # One live document per name in a folder: new documents whose name is held (by a live
        # document, or by an earlier item of this batch) are refused, one question for the batch.
        new = [(request.path, request.filename) for _, request, _ in planned if request.document_id is None]
        held = await self._names_held(account_id, new) if new else set()
        kept: list[tuple[int, GrantRequest, Grant]] = []
        for index, request, grant in planned:
            place = (request.path, request.filename)
            if request.document_id is None:
                if place in held:
                    results[index] = NameTaken(*place)
                    continue
                held.add(place)
            kept.append((index, request, grant))
        planned = kept
        # Dedupe (the caller's own documents only, as in `grant`): bytes the account already stores.
        # Metadata is asked only about the sha256s that an upload of this region completed into
        # the account's documents (one query here): a version's bytes in this bucket were all
        # recorded by it, so the others cannot be found there, and a batch of new files costs no
        # lookup per file. (A hit is still only a hint: metadata says whether a version has them.)
        wanted = list({r.sha256 for _, r, g in planned if r.sha256 and g.account_id == account_id})
        known = await self.reads.sessions.completed_sha256s(account_id, wanted) if wanted else set()
        lookups = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def stored_bytes(sha256: str) -> StoredBytes | None:
            async with lookups:
                return await self.metadata.stored_bytes(account_id, sha256)

        found = await asyncio.gather(
            *(
                stored_bytes(request.sha256) if request.sha256 in known and grant.account_id == account_id else _none()
                for _, request, grant in planned
            )
        )
        sources: dict[str, StoredBytes] = {
            grant.upload_id: source
            for (_, request, grant), source in zip(planned, found, strict=True)
            if source is not None and source.bucket == self.storage.bucket and source.size == request.size
        }
        # A deduplicated item's object is S3's copy of the source, which carries no checksum of
        # its own: it keeps a staging key (never written) and the copy's completion as before.
        planned = [
            (index, request, unpinned(grant) if grant.upload_id in sources else grant)
            for index, request, grant in planned
        ]
        by_owner: dict[str, list[tuple[int, GrantRequest, Grant]]] = {}
        for item in planned:
            by_owner.setdefault(item[2].account_id, []).append(item)
        held_room = [
            [(grant.upload_id, request.size, grant.expires_at) for _, request, grant in items if request.size]
            for items in by_owner.values()
        ]
        answers = await asyncio.gather(
            *(
                self.quota.reserve_many(owner, room) if room else _no_reservations()
                for owner, room in zip(by_owner, held_room, strict=True)
            )
        )
        granted: list[tuple[int, GrantRequest, Grant]] = []
        for items, reservations in zip(by_owner.values(), answers, strict=True):
            for index, request, grant in items:
                try:
                    check_reservation(reservations[grant.upload_id] if request.size else FREE, request.size)
                except DomainError as error:
                    results[index] = error
                    continue
                granted.append((index, request, grant))

        async def record(tx: Transaction[Repositories]) -> None:
            # The client completes these in a batch: S3 notifications and the watcher leave them to
            # it for a while (`awaits_client`) instead of reading every file back a second time.
            extra = {
                "actor_id": account_id,
                "batch": True,
                "next_check_at": now + BATCH_CLIENT_GRACE,
                "traceparent": current_traceparent(),
            }
            await tx.repos.sessions.add_many(
                [
                    (
                        grant,
                        extra
                        | ({"deduplicated_from": sources[grant.upload_id].key} if grant.upload_id in sources else {}),
                    )
                    for _, _, grant in granted
                ]
            )
            # One event per owner for the whole batch, not one per file (issue 35).
            for event in batch_initiated([grant for _, _, grant in granted]):
                tx.emit(event)

        if granted:
            await self.uow.run(record)
            self._await_client(
                [(grant.upload_id, grant.staging_key or grant.key) for _, _, grant in granted],
                now + BATCH_CLIENT_GRACE,
            )
        deduplicated = await self._copy_many(
            [grant.upload_id for _, _, grant in granted if grant.upload_id in sources], sources
        )
        for index, request, grant in granted:
            if grant.upload_id in deduplicated:
                results[index] = IssuedGrant(grant=grant, max_size=request.size, deduplicated=True)
                continue
            # (A dedupe whose source went away meanwhile gets its form: a normal upload.)
            if request.put and not request.browser and grant.pinned_sha256:
                put = self.storage.put_url(grant, expires_in=request.signed_for(self.limits))
                if put is not None:
                    results[index] = IssuedGrant(grant=grant, max_size=request.size, put=put)
                    continue
            redirect = self.redirect_url(grant.upload_id) if request.browser else None
            form = self.storage.post_form(
                grant, max_size=request.size, expires_in=request.signed_for(self.limits), redirect_url=redirect
            )
            results[index] = IssuedGrant(grant=grant, max_size=request.size, form=form)
        return [result for result in results if result is not None]

    async def _current_for(self, account_id: str, request: GrantRequest) -> CurrentDocument | None:
        """The existing document a new version is for (checked as `_document_for` does), or None."""
        if request.document_id is None:
            return None
        return check_base(await self.metadata.document(account_id, request.document_id), request)

    # --- dedupe and delta ------------------------------------------------------------

    async def _deduplicate(self, account_id: str, request: GrantRequest, document_id: str) -> IssuedGrant | None:
        """Dedupe: when the account already stores bytes with the declared sha256 and size, the new
        version's object is copied from them server-side (no byte passes through here or the
        client) and the upload completes at once, with the same events as any upload (quota
        counts the copy as it counts every version's object). None when there are no such bytes
        (or they went away meanwhile): the caller grants a normal upload, whose completion reads
        the real sha256 back from S3. The client's hash only ever selects among the account's
        own versions; the sha256 recorded is the one metadata read from those bytes."""
        assert request.sha256 is not None
        source = await self.metadata.stored_bytes(account_id, request.sha256)
        if source is None or source.size != request.size or source.bucket != self.storage.bucket:
            return None
        # Recorded as a form upload (its staging key never written): a process dying after the
        # copy leaves the watcher a pending upload whose object is there, which it completes.
        form_request = replace(request, multipart=False, browser=False, chunks=())
        grant = new_grant(
            form_request,
            upload_id=str(uuid.uuid4()),
            document_id=document_id,
            owner_id=account_id,
            region=self.region,
            limits=self.limits,
            now=datetime.now(UTC),
        )
        check_reservation(
            await self.quota.reserve(account_id, grant.upload_id, request.size, grant.expires_at), request.size
        )
        extra: dict[str, Any] = {
            "actor_id": account_id,
            "traceparent": current_traceparent(),
            "deduplicated_from": source.key,
            # The watcher leaves it to this call for a while (it would read the copy back again).
            "next_check_at": datetime.now(UTC) + BATCH_CLIENT_GRACE,
        }

        async def record(tx: Transaction[Repositories]) -> None:
            await tx.repos.sessions.add_many([(grant, extra)])
            tx.emit(initiated(grant))

        # The same bytes have the same chunk map: the copy keeps the source's verified one, so the
        # next version of this document can still be sent as a delta.
        source_row = await self.reads.sessions.by_key(source.key)
        if source_row is not None and source_row.get("chunks_verified"):
            extra |= {"chunks": source_row["chunks"], "declared_sha256": source.sha256}
        await self.uow.run(record)
        row = await self.reads.sessions.by_id(grant.upload_id)
        assert row is not None
        if request.size >= DEDUPE_IN_BACKGROUND_FROM:
            # A copy of many GiB would outlast the caller's and the gateway's timeouts: it runs after
            # the answer, and the client follows the upload to completed (or aborted: then it sends).
            self._in_background(self._copy_or_abort(row, source, background=True))
            return IssuedGrant(grant=grant, max_size=request.size, deduplicated=True)
        if not await self._copy_or_abort(row, source):
            return None
        return IssuedGrant(grant=grant, max_size=request.size, deduplicated=True)

    async def _copy_or_abort(self, row: Session, source: StoredBytes, *, background: bool = False) -> bool:
        """The dedupe copy and its completion; when the source is gone (or, in the background, the
        copy failed), the upload is aborted and its room given back."""
        try:
            copied = await self._copy_deduplicated(row, source.key, source.sha256)
        except Exception:
            if not background:
                raise
            log.warning("dedupe_copy_failed", upload_id=row["_id"], exc_info=True)
            copied = False
        if not copied:
            await self.uow.run(lambda tx: tx.repos.sessions.finish(row["_id"], ABORTED))
            await self._discard(row)
        return copied

    async def _copy_many(self, upload_ids: list[str], sources: dict[str, StoredBytes]) -> set[str]:
        """Dedupe a batch's items side by side; the upload ids completed by a copy."""
        if not upload_ids:
            return set()
        rows = [await self.reads.sessions.by_id(upload_id) for upload_id in upload_ids]
        limit = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def one(row: Session) -> str | None:
            source = sources[row["_id"]]
            async with limit:
                done = await self._item(self._copy_deduplicated(row, source.key, source.sha256))
            return row["_id"] if done is True else None

        return {u for u in await asyncio.gather(*(one(r) for r in rows if r is not None)) if u is not None}

    async def _copy_deduplicated(self, row: Session, source_key: str, sha256: str) -> bool:
        """Copy `source_key` to the session's key and record the completion; False when the source
        is gone (purged meanwhile) or is not the declared size."""
        if not await self.storage.copy_whole(source_key, row["key"], row["declared_size"]):
            return False
        head = await self.storage.head(row["key"])
        if head is None or head[0] != row["declared_size"]:
            await self.storage.delete(row["key"])
            return False
        # Version objects are never rewritten (every version has a key of its own), so the copy
        # holds the bytes whose sha256 metadata recorded from S3 when they were uploaded.
        chunks = tuple(str(h) for _, _, h in row.get("chunks") or ())
        stored = StoredObject(size=head[0], etag=head[1], sha256=sha256, chunk_sha256s=chunks)
        await self.uow.run(lambda tx: self._record_completion(tx, row, stored))
        return True

    async def _delta(self, account_id: str, request: GrantRequest, current: CurrentDocument) -> IssuedGrant | None:
        """A multipart upload whose unchanged ranges are copied server-side from the current
        version's object (`UploadPartCopy`), planned from that object's verified chunk map and the
        new file's; the client uploads only the other parts. None when the current version has no
        verified map (or nothing is worth copying): the caller grants a whole upload."""
        if not current.current_key or current.current_bucket != self.storage.bucket:
            return None
        previous_row = await self.reads.sessions.by_key(current.current_key)
        if previous_row is None or not previous_row.get("chunks_verified"):
            return None
        previous = [Chunk(int(o), int(n), str(h)) for o, n, h in previous_row["chunks"]]
        chosen = part_size(request.size, self.limits.multipart_part)
        parts = plan_parts(previous, request.chunks, part_size=chosen)
        if parts is None:
            return None
        multipart_request = replace(request, multipart=True)
        grant = new_grant(
            multipart_request,
            upload_id=str(uuid.uuid4()),
            document_id=current.document_id,
            owner_id=current.owner_id,
            region=self.region,
            limits=self.limits,
            now=datetime.now(UTC),
        )
        check_reservation(
            await self.quota.reserve(current.owner_id, grant.upload_id, request.size, grant.expires_at), request.size
        )
        extra: dict[str, Any] = {
            "actor_id": account_id,
            "traceparent": current_traceparent(),
            "s3_upload_id": await self.storage.start_multipart(grant),
            "part_size": chosen,
            "part_count": len(parts),
            "layout": [[p.number, p.offset, p.length] for p in parts],
            "chunks": [[c.offset, c.length, c.sha256] for c in request.chunks],
            "declared_sha256": request.sha256,
            "delta_of": current.current_key,
            "copied_bytes": copied_bytes(parts),
        }

        async def record(tx: Transaction[Repositories]) -> None:
            await tx.repos.sessions.add(grant, **extra)
            tx.emit(initiated(grant))

        await self.uow.run(record)
        copies = [p for p in parts if p.copied]
        if not await self._copy_parts(grant.key, extra["s3_upload_id"], current.current_key, copies):
            # The previous object went away meanwhile: the client sends those parts too.
            copies = []
        upload = [p.number for p in parts if p not in copies]
        urls = self.storage.part_urls(
            grant.key, extra["s3_upload_id"], upload, expires_in=request.signed_for(self.limits)
        )
        return IssuedGrant(
            grant=grant,
            max_size=request.size,
            part_size=chosen,
            part_urls=urls,
            layout={p.number: (p.offset, p.length) for p in parts},
            part_count=len(parts),
            copied_bytes=copied_bytes(copies),
        )

    async def _copy_parts(self, key: str, s3_upload_id: str, source: str, parts: list[Part]) -> bool:
        """The copied parts of a delta upload, side by side (S3 copies; nothing passes through here)."""
        limit = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def one(part: Part) -> bool:
            assert part.source_offset is not None
            async with limit:
                return await self.storage.copy_part(
                    key,
                    s3_upload_id,
                    part.number,
                    source,
                    part.source_offset,
                    part.source_offset + part.length - 1,
                )

        return all(await asyncio.gather(*(one(p) for p in parts)))

    async def sweep_chunk_maps(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """A purged version's chunk map goes with it: each kept map's object is looked for once
        per `CHUNK_MAP_CHECK_EVERY` (up to `limit` maps a call), and a map whose object is gone
        (metadata deleted it: the version was purged or pruned) is dropped. Returns how many."""
        dropped = 0
        for _ in range(limit):
            row = await self.reads.sessions.claim_chunk_map_check(now or datetime.now(UTC), CHUNK_MAP_CHECK_EVERY)
            if row is None:
                break
            if await self.storage.head(row["key"]) is None:
                await self.reads.sessions.drop_chunk_map(row["_id"])
                dropped += 1
        if dropped:
            log.info("chunk_maps_dropped", count=dropped)
        return dropped

    async def _document_for(self, account_id: str, request: GrantRequest) -> tuple[str, str]:
        """(document id, owner id): a fresh document of the caller's, or the existing document a new
        version is for, checked with metadata (the caller's own, or shared with them to edit)."""
        if request.document_id is None:
            return str(uuid.uuid4()), account_id
        current = check_base(await self.metadata.document(account_id, request.document_id), request)
        return current.document_id, current.owner_id

    # --- multipart -------------------------------------------------------------------

    async def parts(self, account_id: str, upload_id: str, *, expires_in: int | None = None) -> ResumableParts:
        """What a resuming client needs: parts S3 already has, and fresh URLs for the rest."""
        row = await self.reads.sessions.get(account_id, upload_id)
        if row is None or not is_multipart(row):
            raise UploadNotFound(upload_id)
        open_multipart(row)
        stored = await self.storage.stored_parts(row["key"], row["s3_upload_id"]) or []
        urls = self.storage.part_urls(
            row["key"],
            row["s3_upload_id"],
            parts_to_sign(row, stored),
            expires_in=expires_in or self.limits.grant_seconds,
        )
        return ResumableParts(session=row, stored=stored, urls=urls)

    async def abort(self, account_id: str, upload_id: str) -> Session:
        row = await self.reads.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if row["status"] != PENDING:
            return row
        if is_multipart(row):
            await self.storage.abort_multipart(row["key"], row["s3_upload_id"])
        await self.uow.run(lambda tx: tx.repos.sessions.finish(upload_id, ABORTED))
        self._not_awaiting(upload_id)
        await self._discard(row)
        return await self.reads.sessions.by_id(upload_id) or row

    # --- completion ------------------------------------------------------------------

    async def complete(self, account_id: str, upload_id: str) -> Session:
        """The client says it is done. Repeated calls change nothing.

        A form upload is read back and recorded before this returns. A multipart upload
        returns once S3 has joined its parts, still pending with `joined_at` set; its facts
        are read back in the background and `upload.completed` follows.
        """
        row = await self.reads.sessions.get(account_id, upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        if not is_multipart(row) or row["status"] != PENDING:
            return await self._complete(row)
        await self._still_allowed(row)
        await self._join_parts(row)
        lease = verify_lease(row["declared_size"])
        joined = await self.uow.run(lambda tx: tx.repos.sessions.mark_joined(upload_id, lease))
        if joined is None:  # another path finished it meanwhile
            return await self.reads.sessions.by_id(upload_id) or row
        self._verify_in_background(joined)
        return joined

    async def complete_many(self, account_id: str, upload_ids: list[str]) -> dict[str, Session | DomainError]:
        """`complete` for many uploads of `account_id`, one result per distinct id: the session
        (completed, or `verifying` for a multipart upload), or that item's refusal. Ids the
        account did not ask for are not found, whoever's they are. Form uploads are copied and
        read back from S3 side by side, then recorded with their `upload.completed` in one
        transaction; staging objects are deleted afterwards with one S3 request."""
        check_batch(len(upload_ids))
        wanted = list(dict.fromkeys(upload_ids))
        rows = await self.reads.sessions.get_many(account_id, wanted)
        results: dict[str, Session | DomainError] = {}
        forms: list[Session] = []
        for upload_id in wanted:
            row = rows.get(upload_id)
            if row is None:
                results[upload_id] = UploadNotFound(upload_id)
            elif row["status"] == PENDING and not is_multipart(row):
                forms.append(row)
        single = [u for u in wanted if u in rows and rows[u] not in forms]

        async def alone(upload_id: str) -> None:
            # Multipart, completed or closed: the single path answers it (usually at once).
            results[upload_id] = await self._item(self.complete(account_id, upload_id))

        limit = asyncio.Semaphore(BATCH_S3_CONCURRENCY)

        async def fetch(row: Session) -> tuple[Session, StoredObject] | None:
            async with limit:
                outcome = await self._item(self._read_back(row))
            if isinstance(outcome, DomainError):
                results[row["_id"]] = outcome
                return None
            return row, outcome

        fetched = await asyncio.gather(*(fetch(row) for row in forms), *(alone(u) for u in single))
        ready = [item for item in fetched[: len(forms)] if item is not None]
        if ready:
            facts = {row["_id"]: (row, stored_facts(stored)) for row, stored in ready}
            stored_by_id = {row["_id"]: stored for row, stored in ready}

            async def record(tx: Transaction[Repositories]) -> list[str]:
                changed = await tx.repos.sessions.complete_many(facts)
                for upload_id in changed:
                    tx.emit(
                        completed(facts[upload_id][0], stored_by_id[upload_id], bucket=self.storage.bucket),
                        event_id=completed_event_id(upload_id),  # kept on the session by complete_many
                    )
                return changed

            changed = set(await self.uow.run(record))
            # Off the caller's path: what is missed here, the late-write sweep deletes.
            staged = [row["staging_key"] for row, _ in ready if row.get("staging_key")]
            if staged:
                self._in_background(self._delete_staging(staged))
            # Recorded by this call: answered from what it wrote; by another path meanwhile: read.
            others = [row["_id"] for row, _ in ready if row["_id"] not in changed]
            recorded = await self.reads.sessions.get_many(account_id, others) if others else {}
            for row, facts_of in facts.values():
                upload_id = row["_id"]
                results[upload_id] = (
                    {**row, "status": COMPLETED, "stored": facts_of}
                    if upload_id in changed
                    else recorded.get(upload_id, row)
                )
        return {upload_id: results[upload_id] for upload_id in wanted}

    async def _read_back(self, row: Session) -> StoredObject:
        """The first half of a completion (nothing recorded yet): the right re-checked; for a
        form upload, the staging object copied to the version's own key, which nothing handed
        out can write; then the facts read back from that key, so what is recorded is exactly
        what will be served. (Nothing staged yet: not arrived, so `stored` is None.)"""
        await self._still_allowed(row)
        if row.get("staging_key"):
            crashpoint("upload.before_copy")
            await self.storage.copy(row["staging_key"], row["key"])
        chunk_lengths = [int(length) for _, length, _ in row["chunks"]] if row.get("chunks") else None
        if is_pinned(row):
            stored = await self._pinned_facts(row)
            if stored is not None and chunk_lengths:  # the chunk map is checked against the bytes
                stored = await self.storage.stored(row["key"], chunk_lengths)
        else:
            stored = await self.storage.stored(row["key"], chunk_lengths)
        if stored is None:
            raise NotStoredYet(row["_id"])
        if stored.size > row["declared_size"]:
            await self._reject(row, "more bytes arrived than were declared")
            raise TooLarge(row["declared_size"], stored.size)
        if row.get("delta_of") and stored.sha256 != row.get("declared_sha256"):
            # Part of this object was assembled by us from the client's map: it must be exactly
            # the file the client described, or nothing is recorded.
            await self._reject(row, SHA_MISMATCH)
            raise InvalidUpload(f"Not stored: {SHA_MISMATCH}. Upload the file again.", field="sha256")
        return stored

    async def _pinned_facts(self, row: Session) -> StoredObject | None:
        """A pinned form upload's facts from one HEAD: the size, and the sha256 S3 checked the
        bytes against when it stored them (the store's word, not the client's). None when nothing
        is there yet. A store that kept no checksum, or another one, did not hold the form to its
        checksum, so it could not keep the bytes from changing either: the upload is rejected
        (nothing recorded) rather than trusted; `UPLOAD_PIN_CHECKSUMS=off` is for such a store."""
        checked = await self.storage.checked(row["key"])
        if checked is None:
            return None
        if checked.sha256 != row["pinned_sha256"]:
            await self._reject(row, PIN_IGNORED)
            raise InvalidUpload(f"Not stored: {PIN_IGNORED}. Upload the file again.", field="sha256")
        # (The sha256 is S3's, just compared: the same string as the one pinned.)
        return StoredObject(size=checked.size, etag=checked.etag, sha256=row["pinned_sha256"])

    async def _item(self, work: Coroutine[Any, Any, T]) -> T | DomainError:
        """One batch item's outcome: its result, or its refusal; trouble that is not the client's
        becomes `CompletionFailed` for that item alone (logged), not a failed batch."""
        try:
            return await work
        except DomainError as error:
            return error
        except Exception:
            log.exception("upload_batch_item_failed")
            return CompletionFailed()

    async def _delete_staging(self, keys: list[str]) -> None:
        try:
            await self.storage.delete_many(keys)
        except Exception:
            log.warning("upload_staging_delete_failed", count=len(keys), exc_info=True)

    def redirect_url(self, upload_id: str) -> str:
        """Where S3 sends a browser after its form upload; the signature stands in for a login."""
        return f"{self.redirect_base}/v1/uploads/{upload_id}/done/{self.signer.sign(upload_id)}"

    async def complete_from_redirect(self, upload_id: str, signature: str) -> Session:
        if not self.signer.verify(upload_id, signature):
            raise UploadNotFound(upload_id)
        row = await self.reads.sessions.by_id(upload_id)
        if row is None:
            raise UploadNotFound(upload_id)
        return await self._complete(row)

    async def _complete(self, row: Session) -> Session:
        if already_completed(row):
            return row
        stored = await self._read_back(row)
        await self.uow.run(lambda tx: self._record_completion(tx, row, stored))
        if row.get("staging_key"):
            # Off the caller's path: if it fails or the process dies, the late-write sweep deletes it.
            self._in_background(self.storage.delete(row["staging_key"]))
        return await self.reads.sessions.by_id(row["_id"]) or row

    async def _record_completion(self, tx: Transaction[Repositories], row: Session, stored: StoredObject) -> None:
        fields: dict[str, Any] = {}
        if row.get("chunks") and stored.sha256 == row.get("declared_sha256"):
            # The map is kept for the next version's delta only when the bytes read back match it.
            fields["chunks_verified"] = list(stored.chunk_sha256s) == [h for _, _, h in row["chunks"]]
            if fields["chunks_verified"]:  # looked after by `sweep_chunk_maps` from then on
                fields["chunks_check_at"] = datetime.now(UTC) + CHUNK_MAP_CHECK_EVERY
        # The event's id is derived from the upload and kept on it: the consistency check can
        # publish it again under that id (`domain.consistency`).
        fields["completed_event_id"] = completed_event_id(row["_id"])
        if not await tx.repos.sessions.finish(row["_id"], COMPLETED, stored=stored_facts(stored), **fields):
            return  # another path (redirect, watcher) completed it first
        tx.emit(completed(row, stored, bucket=self.storage.bucket), event_id=fields["completed_event_id"])

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _still_allowed(self, row: Session) -> None:
        """Re-check, at completion, the right the grant was issued under: a new version needs the
        document alive and, for an editor, the share still in place. Raises `NoLongerAllowed`
        after rejecting the upload; `MetadataUnavailable` leaves it pending for a later try."""
        if not right_may_be_withdrawn(row):
            return  # a new document of the caller's own: nothing to revoke
        _, actor = owner_and_actor(row)
        if still_writable(await self.metadata.document(actor, row["document_id"])):
            return
        await self._reject(row, "the document was deleted or the share that allowed writing it was revoked")
        raise NoLongerAllowed()

    async def _reject(self, row: Session, reason: str) -> None:
        """End a pending upload as rejected and drop whatever it stored; nothing is recorded."""
        if is_multipart(row):
            await self.storage.abort_multipart(row["key"], row["s3_upload_id"])
        rejected = await self.uow.run(lambda tx: tx.repos.sessions.finish(row["_id"], REJECTED, reason=reason))
        self._not_awaiting(row["_id"])
        if not rejected:
            return  # another path finished it first: its bytes are not ours to drop
        await self.storage.delete(row["key"])
        await self._discard(row)
        log.warning("upload_rejected", upload_id=row["_id"], account_id=row["account_id"], reason=reason)

    async def _discard(self, row: Session) -> None:
        """Drop the staging object and give the reserved room back (both best effort: the late-write
        sweep and quota's own expiry catch what is missed here)."""
        try:
            if row.get("staging_key"):
                await self.storage.delete(row["staging_key"])
            elif is_pinned(row):  # its form wrote the version's key: no version holds it
                await self.storage.delete(row["key"])
            await self.quota.release(row["account_id"], row["_id"])
        except Exception:
            log.warning("upload_discard_incomplete", upload_id=row["_id"], exc_info=True)

    async def _join_parts(self, row: Session) -> None:
        parts = await self.storage.stored_parts(row["key"], row["s3_upload_id"])
        if parts is None:
            # Joined by an earlier call (or gone: then there is nothing to read back).
            if not await self.storage.exists(row["key"]):
                raise NotStoredYet("S3 holds neither the parts nor the joined file")
            return
        missing = missing_parts(row, parts)
        if missing:
            raise NotStoredYet(f"parts still missing: {missing[:20]}", missing_parts=missing[:20])
        if sum(p.size for p in parts) > row["declared_size"]:
            await self._reject(row, "the parts hold more bytes than were declared")
            raise TooLarge(row["declared_size"])
        await self.storage.finish_multipart(row["key"], row["s3_upload_id"], sorted(parts, key=lambda p: p.number))

    def _verify_in_background(self, row: Session) -> None:
        if row["_id"] in self._verifying:
            return
        task = asyncio.create_task(self._verify(row))
        self._verifying[row["_id"]] = task
        task.add_done_callback(lambda _: self._verifying.pop(row["_id"], None))

    async def _verify(self, row: Session) -> None:
        crashpoint("upload.before_read_back")
        try:
            await self._complete(row)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The watcher checks it again once the lease set by `mark_joined` runs out.
            log.exception("upload_verify_failed", upload_id=row["_id"])

    async def close_account(self, account_id: str) -> int:
        """`account.deleted`: every pending upload of the account (to its documents, or asked for by
        it as an editor) is rejected and its bytes and reservation dropped, so nothing it started
        becomes a version after the deletion. Idempotent: a redelivery finds none pending. How many."""
        closed = 0
        for row in await self.reads.sessions.pending_of(account_id):
            await self._reject(row, "the account was deleted")
            closed += 1
        return closed

    # --- what the watcher and S3 notifications ask -------------------------------------

    async def claim_due(self, lease: timedelta) -> Session | None:
        """One pending upload due for a check, leased to the caller for `lease`."""
        return await self.uow.run(lambda tx: tx.repos.sessions.claim_due(lease))

    async def check(self, row: Session) -> str:
        """One look at a pending upload: completed, expired, or still waiting."""
        # The object exists once a form upload arrived or S3 joined a multipart upload's parts
        # (also the final check at expiry); unjoined parts wait for the client's word.
        if await self.storage.exists(row["key"]) or (
            row.get("staging_key") and await self.storage.exists(row["staging_key"])
        ):
            await self._complete(row)
            return COMPLETED
        if not expired(row, datetime.now(UTC)):
            return PENDING
        if is_multipart(row):
            await self.storage.abort_multipart(row["key"], row["s3_upload_id"])

        async def expire(tx: Transaction[Repositories]) -> None:
            if await tx.repos.sessions.finish(row["_id"], EXPIRED):
                tx.emit(expired_event(row))

        await self.uow.run(expire)
        return EXPIRED

    async def sweep_late_writes(self) -> bool:
        """Look once at the staging key of one finished form upload whose form has expired; an
        object there was written after the upload finished (a form re-posted): log it, delete it.
        It was never served: versions are read from their own keys. False when none was due."""
        row = await self.uow.run(lambda tx: tx.repos.sessions.claim_late_check())
        if row is None:
            return False
        await self.late_write(row)
        return True

    async def late_write(self, row: Session) -> bool:
        """Delete what a form wrote after its upload finished; True when there was something:
        on its staging key, or on a pinned form's own key when the upload ended without a
        version (`may_hold_late_write`)."""
        if not may_hold_late_write(row):
            return False
        key = late_write_key(row)
        if not await self.storage.exists(key):
            return False
        log.warning("upload_late_write", upload_id=row["_id"], account_id=row["account_id"], status=row["status"])
        await self.storage.delete(key)
        return True

    def _await_client(self, written: list[tuple[str, str]], until: datetime) -> None:
        """Remember the keys batch grants' clients write, until their grace ends (`BATCH_CLIENT_GRACE`)."""
        if len(self._awaiting_client) + len(written) > AWAITING_KEYS:
            now = datetime.now(UTC)
            for key, (upload_id, ends) in list(self._awaiting_client.items()):
                if ends <= now:
                    self._awaiting_client.pop(key, None)
                    self._awaiting_keys.pop(upload_id, None)
            if len(self._awaiting_client) + len(written) > AWAITING_KEYS:
                self._awaiting_client.clear()
                self._awaiting_keys.clear()
        for upload_id, key in written:
            self._awaiting_client[key] = (upload_id, until)
            self._awaiting_keys[upload_id] = key

    def _not_awaiting(self, upload_id: str) -> None:
        """The upload ended here (aborted, rejected): a write to its key is looked up again."""
        key = self._awaiting_keys.pop(upload_id, None)
        if key is not None:
            self._awaiting_client.pop(key, None)

    async def object_written(self, key: str) -> str | None:
        """S3 says an object was written under `key`: check the pending upload stored there (its
        outcome), or delete a form's write that came after its upload finished without a
        version (`LATE_WRITE`). None when there was nothing to do: no upload of ours, finished,
        being read back by whoever joined it, or a check that cannot complete yet (nothing to retry).

        The key of a batch grant this process handed out, within its client's grace, is not even
        looked up (one command per file, issue 35): its client completes it (`awaits_client`), as
        the lookup would find. What else the lookup could have found (finished by another replica,
        by an account's deletion) is what a lost notification leaves too: the watcher and the
        late-write sweep see to it."""
        awaited = self._awaiting_client.get(key)
        if awaited is not None:
            if datetime.now(UTC) < awaited[1]:
                return None
            self._not_awaiting(awaited[0])
        row = await self.reads.sessions.by_key(key)
        if row is not None and may_hold_late_write(row) and key == late_write_key(row):
            return LATE_WRITE if await self.late_write(row) else None
        now = datetime.now(UTC)
        if row is None or row["status"] != PENDING or being_read_back(row, now):
            return None
        if (own_copy(row, key) and not expired(row, now)) or awaits_client(row, now):
            # A completion's own copy (that completion records it) or a batch's file (its client
            # completes it); once the grant ran out, any notice is a reason to look (and expire).
            return None
        try:
            # The upload's own trace (the grant request's), linked from the notification's:
            # whichever path completes it, upload.completed joins the trace the client started.
            with continue_trace(
                row.get("traceparent"),
                "upload s3-event check",
                attributes={"upload.id": row["_id"]},
                links=link_to(current_traceparent()),
            ):
                outcome = await self.check(row)
        except DECLINED as error:
            # Parts still missing, closed meanwhile, or rejected (the check did that): nothing to retry.
            log.info("s3_event_check_declined", upload_id=row["_id"], reason=repr(error))
            return None
        log.info("s3_event_checked", upload_id=row["_id"], outcome=outcome)
        return outcome
