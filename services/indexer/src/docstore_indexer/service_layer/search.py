"""Use cases of the search API: full-text search and backfill progress, for Premium accounts only."""

from __future__ import annotations

from typing import Any

from docstore_indexer.adapters.search_index import Filters, SearchPage
from docstore_indexer.domain.backfill import CANCELLED, progress
from docstore_indexer.domain.plans import FullTextNeedsPremium, has_full_text
from docstore_indexer.domain.search import check_period
from docstore_indexer.service_layer.ports import Index, Repos


class Search:
    def __init__(self, *, reads: Repos, index: Index) -> None:
        self.reads = reads
        self.index = index

    async def _premium_only(self, account_id: str) -> None:
        record = await self.reads.plans.get(account_id)
        plan = record.plan if record else None
        if not has_full_text(plan):
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
        """Backfill progress (see `domain.backfill.progress`); raises `FullTextNeedsPremium` off Premium."""
        await self._premium_only(account_id)
        job = await self.reads.backfills.get(account_id)
        if job is not None and job.state != CANCELLED:
            return progress(job, live=0, indexed=0)
        return progress(
            job,
            live=await self.reads.catalog.count_live(account_id),
            indexed=await self.reads.catalog.count_indexed(account_id),
        )
