"""A deleted account's documents leave after the grace period (issue 33, finding 8).

`schedule_once` is the `account.deleted` consumer's use case: the account's documents get a
`purge_at` (the deletion's time + `METADATA_ACCOUNT_PURGE_GRACE_DAYS`), once per event. The
`AccountPurge.run` loop (every metadata replica) claims due documents one at a time, like the
trash's purge, and purges each through `Documents.purge_claimed`: the document, its versions,
its S3 objects (after commit), its change-feed entry and `file.deleted`, on which the indexer
drops its index entry and preview objects and quota frees the bytes in its ledger. Its links,
shares and follows end when the event is applied (`end_access`, the same transaction). The deletion's
time comes from metadata's account projection (`account_projection`), which the same consumer
records first.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog

from docstore_events import AccountDeleted
from docstore_events.activity import ShareRevoked
from docstore_events.notifications import FileUnfollowed
from docstore_messaging.tracing import loop_span
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.service_layer.documents import CONSUMER, Documents

Tx = Transaction[Repositories]
log = structlog.get_logger(__name__)

STRAGGLER_WINDOW = timedelta(days=1)
"""How long after a deletion the purge loop still looks for documents recorded after it."""


async def end_access(tx: Tx, account_id: str) -> None:
    """What a deleted account gave others, and what others gave it, ends (issue 33), in the
    transaction that applies its `account.deleted`: every share of its documents and naming it
    ends, and the follows of its documents. (Its public links are the links service's: they give
    nothing from the deletion on, since each use asks here; its verified address and app passwords
    are the accounts service's.)"""
    for share in await tx.repos.deletion.shares_touching(account_id):
        if await tx.repos.deletion.delete_share(share["_id"]):
            tx.emit(
                ShareRevoked(
                    account_id=share["owner_id"],
                    document_id=share["document_id"],
                    grantee_id=share["grantee_id"],
                    permission=str(share.get("permission", "")),
                )
            )
    for follow in await tx.repos.deletion.follows_touching(account_id):
        if await tx.repos.deletion.delete_follow(follow["_id"]):
            tx.emit(
                FileUnfollowed(account_id=follow["follower_id"], document_id=follow["document_id"], owner_id=account_id)
            )


class AccountPurge:
    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        documents: Documents,
        *,
        grace: timedelta,
        interval: float,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.documents = documents
        self.grace = grace
        self.interval = interval
        self.lease = lease
        self.claimant = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    async def schedule_once(self, deleted: Sequence[tuple[str, AccountDeleted, datetime]]) -> frozenset[str]:
        """`account.deleted` (a batch): each account's documents are purged `grace` after the
        deletion, and what it gave others and others gave it ends now (`end_access`). Applied once
        per event; a redelivery changes nothing."""
        events = {event_id: (event, at) for event_id, event, at in deleted}

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            for event_id in fresh:
                event, at = events[event_id]
                # From the deletion's own time (the event's for an account not held here).
                account = await tx.repos.projection.by_id(event.account_id)
                moment = (account or {}).get("deleted_at") or at
                moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
                await tx.repos.deletion.schedule_purge(event.account_id, moment + self.grace)
                await end_access(tx, event.account_id)

        return await self.uow.run_once_each(consumer=CONSUMER, event_ids=list(events), work=work)

    async def end_access_now(self, account_id: str) -> None:
        """The accounts service's call right after a deletion (`POST /internal/accounts/{id}/access-ended`):
        `end_access` at once, in a transaction of its own, once the accounts service confirms the
        account is deleted (whoever calls, a live account loses nothing). Idempotent: what ended
        already is not found again, and the `account.deleted` consumer's own run then finds nothing
        to do. The projection learns of the deletion in the same transaction: a public link's
        every use asks it whether the owner is active (`link_access.py`), and `account.deleted`
        may come a while later (its time, `deleted_at`, comes with it)."""
        account = await self.reads.owners.authority.by_id(account_id)
        if account is None or account.get("status") != "deleted":
            return

        async def work(tx: Tx) -> None:
            await tx.repos.projection.apply(account_id, {"status": "deleted"}, {"username": account["username"]})
            await end_access(tx, account_id)

        await self.uow.run(work)

    async def schedule_stragglers(self, now: datetime | None = None) -> int:
        """Documents recorded for an account after its `account.deleted` was applied (an upload that
        completed in the same instant: `upload.completed` and `account.deleted` are different topics,
        in no order) get their `purge_at` too. Accounts deleted within `STRAGGLER_WINDOW` are looked
        at, each round; how many documents were scheduled."""
        since = (now or datetime.now(UTC)) - STRAGGLER_WINDOW
        scheduled = 0
        for account in await self.reads.projection.deleted_since(since):
            deleted_at = account["deleted_at"]
            deleted_at = deleted_at if deleted_at.tzinfo else deleted_at.replace(tzinfo=UTC)
            scheduled += await self.reads.deletion.schedule_purge(str(account["_id"]), deleted_at + self.grace)
        return scheduled

    async def purge_due(self, *, limit: int = 1000) -> int:
        """Purge the documents whose time came (each claimed first, so replicas never share one)."""
        purged = 0
        for _ in range(limit):
            claimed = await self.reads.deletion.claim_due(datetime.now(UTC), claimant=self.claimant, lease=self.lease)
            if claimed is None:
                break
            purged += await self.documents.purge_claimed(str(claimed["_id"]), self.claimant)
        return purged

    async def run(self) -> None:
        """Until cancelled (a background task of the runtime)."""
        while True:
            try:
                with loop_span("metadata account purge"):
                    if stragglers := await self.schedule_stragglers():
                        log.info("deleted_account_stragglers_scheduled", documents=stragglers)
                    if purged := await self.purge_due():
                        log.info("deleted_accounts_purged", documents=purged)
            except asyncio.CancelledError:
                raise
            except Exception:  # MongoDB or S3 away: the claims lapse, try again next round
                log.exception("account_purge_failed")
            await asyncio.sleep(self.interval)
