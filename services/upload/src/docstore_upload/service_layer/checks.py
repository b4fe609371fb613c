"""What the watcher and S3 notifications ask of upload: one look at a pending upload (completed,
expired, or still waiting), and the sweeps (forms re-posted after their upload finished, chunk
maps of purged versions). The watcher's loop is `watcher.watch`; the notifications' subscriber is
`consumers.s3_events`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from docstore_messaging.tracing import continue_trace, current_traceparent, link_to
from docstore_messaging.unit_of_work import Transaction
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.errors import DECLINED
from docstore_upload.domain.sessions import (
    COMPLETED,
    EXPIRED,
    PENDING,
    Session,
    awaits_client,
    being_read_back,
    expired,
    expired_event,
    is_multipart,
    late_write_key,
    may_hold_late_write,
    own_copy,
)
from docstore_upload.service_layer.common import CHUNK_MAP_CHECK_EVERY, UploadContext
from docstore_upload.service_layer.completion import Completion

log = structlog.get_logger(__name__)

LATE_WRITE = "late-write"
"""`object_written`'s outcome when the write was a form's, after its upload finished (deleted)."""


class Checks:
    def __init__(self, context: UploadContext, completion: Completion) -> None:
        self.context = context
        self.completion = completion

    async def claim_due(self, lease: timedelta) -> Session | None:
        """One pending upload due for a check, leased to the caller for `lease`.

        One atomic update, outside any transaction (as `sweep_chunk_maps` claims): in a
        transaction, a process killed between the claim and its commit left the claimed upload
        locked until the database reaped the transaction (60 s, mongod's
        `transactionLifetimeLimitSeconds` and SecantusDB's), and every watcher's next claim,
        sorted to that same upload, waited behind it: no upload expired or was checked for a
        minute after any crash (seen in CI after a restart test). It also saves the commit."""
        return await self.context.reads.sessions.claim_due(lease)

    async def check(self, row: Session) -> str:
        """One look at a pending upload: completed, expired, or still waiting."""
        storage = self.context.storage
        # The object exists once a form upload arrived or S3 joined a multipart upload's parts
        # (also the final check at expiry); unjoined parts wait for the client's word.
        if await storage.exists(row["key"]) or (row.get("staging_key") and await storage.exists(row["staging_key"])):
            await self.completion.complete_row(row)
            return COMPLETED
        if not expired(row, datetime.now(UTC)):
            return PENDING
        if is_multipart(row):
            await storage.abort_multipart(row["key"], row["s3_upload_id"])

        async def expire(tx: Transaction[Repositories]) -> None:
            if await tx.repos.sessions.finish(row["_id"], EXPIRED):
                tx.emit(expired_event(row))

        await self.context.uow.run(expire)
        return EXPIRED

    async def sweep_late_writes(self) -> bool:
        """Look once at the staging key of one finished form upload whose form has expired; an
        object there was written after the upload finished (a form re-posted): log it, delete it.
        It was never served: versions are read from their own keys. False when none was due."""
        row = await self.context.reads.sessions.claim_late_check()  # one atomic update: see `claim_due`
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
        if not await self.context.storage.exists(key):
            return False
        log.warning("upload_late_write", upload_id=row["_id"], account_id=row["account_id"], status=row["status"])
        await self.context.storage.delete(key)
        return True

    async def sweep_chunk_maps(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """A purged version's chunk map goes with it: each kept map's object is looked for once
        per `CHUNK_MAP_CHECK_EVERY` (up to `limit` maps a call), and a map whose object is gone
        (metadata deleted it: the version was purged or pruned) is dropped. Returns how many."""
        sessions = self.context.reads.sessions
        dropped = 0
        for _ in range(limit):
            row = await sessions.claim_chunk_map_check(now or datetime.now(UTC), CHUNK_MAP_CHECK_EVERY)
            if row is None:
                break
            if await self.context.storage.head(row["key"]) is None:
                await sessions.drop_chunk_map(row["_id"])
                dropped += 1
        if dropped:
            log.info("chunk_maps_dropped", count=dropped)
        return dropped

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
        awaited = self.context.awaiting.awaited(key)
        if awaited is not None:
            if datetime.now(UTC) < awaited[1]:
                return None
            self.context.awaiting.forget(awaited[0])
        row = await self.context.reads.sessions.by_key(key)
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
