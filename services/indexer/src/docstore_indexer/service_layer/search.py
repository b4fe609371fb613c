"""Use cases of the search API: full-text search and backfill progress, for Premium accounts only."""

from __future__ import annotations

import time
from typing import Any

from docstore_indexer.adapters.search_index import Filters, SearchPage
from docstore_indexer.domain.backfill import progress
from docstore_indexer.domain.plans import FullTextNeedsPremium, has_full_text
from docstore_indexer.domain.search import check_period
from docstore_indexer.service_layer.ports import Accounts, Index, Repos


class Search:
    """Search and status for Premium accounts.

    The plan check of a search reads the account's plan once per `plan_seconds` at most (a
    small in-process cache): a search is one Typesense query, and a MongoDB read on every
    request cost more than the query itself. A plan change this replica records drops the
    account's cached plan at once (`forget`); one recorded by another replica is seen within
    `plan_seconds`. That is all a stale plan can do: a search refused, or answered from the
    account's own documents (which a downgrade removes from the index before it commits),
    for that long; the account filter of every query does not depend on it.

    The record lags `PUT /account/plan` by the event's trip (about half a second). So before
    refusing, the account service is asked (`accounts`): if it already says Premium, the
    upgrade is known and the account is `enabling` (status answers 200, search answers from
    what is indexed so far, as during a backfill) instead of a 403 the person just paid to
    lift. Only refusals cost that call; Premium accounts' requests never make it."""

    def __init__(
        self,
        *,
        reads: Repos,
        index: Index,
        accounts: Accounts | None = None,
        plan_seconds: float = 2.0,
        max_plans: int = 100_000,
    ) -> None:
        self.reads = reads
        self.index = index
        self.accounts = accounts
        self.plan_seconds = plan_seconds
        self.max_plans = max_plans
        self._plans: dict[str, tuple[float, str | None]] = {}

    def forget(self, account_id: str) -> None:
        """The account's plan changed: read it again on its next search."""
        self._plans.pop(account_id, None)

    async def _plan(self, account_id: str) -> str | None:
        now = time.monotonic()
        cached = self._plans.get(account_id)
        if cached is not None and now - cached[0] < self.plan_seconds:
            return cached[1]
        record = await self.reads.plans.get(account_id)
        plan = record.plan if record else None
        if len(self._plans) >= self.max_plans:
            self._plans.clear()  # bounded: many accounts just cost a read each again
        self._plans[account_id] = (now, plan)
        return plan

    async def _premium_only(self, account_id: str) -> bool:
        """Raises `FullTextNeedsPremium` off Premium; True while a just-made upgrade is on its way
        here (the account service says Premium, this service's record does not yet)."""
        plan = await self._plan(account_id)
        if has_full_text(plan):
            return False
        if self.accounts is not None and has_full_text(await self.accounts.plan(account_id)):
            return True
        raise FullTextNeedsPremium(plan)

    async def search(
        self, account_id: str, q: str, *, page: int, per_page: int, filters: Filters, sort: str
    ) -> SearchPage:
        """The caller's documents matching `q` (raises `FullTextNeedsPremium` off Premium, then
        `PeriodReversed` for a creation period that ends before it starts)."""
        await self._premium_only(account_id)
        check_period(filters.created_from, filters.created_to)
        return await self.index.search(account_id, q, page=page, per_page=per_page, filters=filters, sort=sort)

    async def status(self, account_id: str) -> dict[str, Any]:
        """The account's full-text counts, read from the catalog now, and its backfill state (see
        `domain.backfill.progress`); raises `FullTextNeedsPremium` off Premium."""
        enabling = await self._premium_only(account_id)
        job = await self.reads.backfills.get(account_id)
        return progress(job, await self.reads.catalog.count_states(account_id), enabling=enabling)
