"""A deleted account's documents leave after the grace period (issue 33, finding 8).

`schedule_once` is the `account.deleted` consumer's use case: the account's documents get a
`purge_at` (the deletion's time + `METADATA_ACCOUNT_PURGE_GRACE_DAYS`), once per event. The
`AccountPurge.run` loop (every metadata replica) claims due documents one at a time, like the
trash's purge, and purges each through `Documents.purge_claimed`: the document, its versions,
its S3 objects (after commit), its change-feed entry and `file.deleted`, on which the indexer
drops its index entry and preview objects and quota frees the bytes in its ledger. Its links and
shares ended already, in the deletion's own transaction (`Accounts.delete_account`).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog

from docstore_events import AccountDeleted
from docstore_events.tracing import loop_span
from docstore_events.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.service_layer.documents import CONSUMER, Documents

Tx = Transaction[Repositories]
log = structlog.get_logger(__name__)


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
        deletion. Applied once per event; a redelivery changes nothing."""
        events = {event_id: (event, at) for event_id, event, at in deleted}

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            for event_id in fresh:
                event, at = events[event_id]
                moment = at if at.tzinfo else at.replace(tzinfo=UTC)
                await tx.repos.deletion.schedule_purge(event.account_id, moment + self.grace)

        return await self.uow.run_once_each(consumer=CONSUMER, event_ids=list(events), work=work)

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
                    if purged := await self.purge_due():
                        log.info("deleted_accounts_purged", documents=purged)
            except asyncio.CancelledError:
                raise
            except Exception:  # MongoDB or S3 away: the claims lapse, try again next round
                log.exception("account_purge_failed")
            await asyncio.sleep(self.interval)
