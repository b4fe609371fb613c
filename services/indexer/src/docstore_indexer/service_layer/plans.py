"""Use cases of accounts' plans: who has full text, and what a plan change does to the index."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import structlog

from docstore_indexer.domain.catalog import CatalogEntry
from docstore_indexer.domain.plans import DELETED, PlanRecord, has_full_text, supersedes
from docstore_indexer.service_layer.ports import Index, Repos
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)

EARLY_UPLOADS = 10_000
"""At most this many uploads that arrived before an account's first plan fact are marked due with it."""


class Plans:
    def __init__(
        self,
        *,
        uow: UnitOfWork[Repos],
        reads: Repos,
        index: Index,
        consumer: str,
        on_backfill_started: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.index = index
        self.consumer = consumer
        self.on_backfill_started = on_backfill_started
        """Called once a transaction that started a backfill job has committed (wakes the worker)."""
        self.on_plan_recorded: Callable[[str], None] = lambda account_id: None
        """Called with the account id once a transaction that stored a new plan has committed (drops cached plans)."""
        self.on_due: Callable[[CatalogEntry], None] = lambda entry: None
        """Called with an entry once the transaction that made it due has committed (the indexing worker)."""

    async def plan_of(self, account_id: str) -> str | None:
        record = await self.reads.plans.get(account_id)
        return record.plan if record else None

    async def forget_account(self, account_id: str, *, as_of: datetime, event_id: str) -> bool:
        """`account.deleted`: the account's full text leaves the search index now, its backfill
        stops, and its plan becomes `deleted` (nothing is indexed for it again). Its previews and
        catalog tombstones go with its documents' `file.deleted` when metadata purges them, after
        the grace period (issue 33). Once per event; the index delete is idempotent."""

        async def work(tx: Transaction[Repos]) -> None:
            await tx.repos.plans.put(PlanRecord(account_id, DELETED, as_of))
            tx.after_commit(lambda: self.on_plan_recorded(account_id))
            removed = await self.index.delete_account(account_id)
            await tx.repos.catalog.forget_index(account_id)
            await tx.repos.backfills.cancel(account_id, as_of)
            log.info("deleted_account_unindexed", account_id=account_id, documents=removed)

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def record_plan(
        self, account_id: str, plan: str, *, as_of: datetime, event_id: str, upgrade: bool = False
    ) -> bool:
        """Keep the account's plan (the later fact wins).

        Leaving Premium drops the account's full text (and stops its backfill); an upgrade to
        Premium (`upgrade`: an `account.plan-changed` to Premium) starts a backfill of every
        document the catalog holds for the account. A first plan fact that is Premium (a new
        account) marks the uploads that arrived before it due for indexing.
        """

        async def work(tx: Transaction[Repos]) -> None:
            stored = await tx.repos.plans.get(account_id)
            if not supersedes(stored, as_of):
                return
            await tx.repos.plans.put(PlanRecord(account_id, plan, as_of))
            tx.after_commit(lambda: self.on_plan_recorded(account_id))
            was_premium = stored is not None and has_full_text(stored.plan)
            if was_premium and not has_full_text(plan):
                removed = await self.index.delete_account(account_id)  # idempotent: safe if the work runs again
                await tx.repos.catalog.forget_index(account_id)
                await tx.repos.backfills.cancel(account_id, as_of)
                log.info("account_full_text_dropped", account_id=account_id, documents=removed)
            elif upgrade and has_full_text(plan) and not was_premium:
                total = await tx.repos.catalog.count_live(account_id)
                await tx.repos.backfills.start(account_id, uuid.uuid4().hex, total, as_of)
                log.info("backfill_started", account_id=account_id, documents=total)
                tx.after_commit(self.on_backfill_started)
            elif stored is None and has_full_text(plan):
                # The account's first plan fact, Premium: uploads recorded before it arrived (another
                # topic, no order between them) were taken for Free's. Index them now. A new account
                # has only the few that won that race, so they are marked due here, not backfilled.
                early = await tx.repos.catalog.not_indexed(account_id, limit=EARLY_UPLOADS)
                due = [replace(entry, index_due=True) for entry in early]
                await tx.repos.catalog.put_many(due)
                for entry in due:
                    tx.after_commit(functools.partial(self.on_due, entry))

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)
