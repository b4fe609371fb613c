"""Backfill after an upgrade to Premium: every document of the account, throttled.

`account.plan-changed` (to Premium) only records a job (`backfills`, one per account) in
its handler, so the consumer is never held up. Every replica runs one `BackfillWorker`
that claims a running job nobody holds (a lease in MongoDB), walks the account's catalog
in `_id` order from the job's cursor, and indexes one document at a time: extraction
first, then one unit of work that indexes, emits and moves the cursor, but only while the
replica still holds the lease. A replica that dies stops renewing; another one takes the
job over from the cursor. A downgrade cancels the job; the next step sees it and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import structlog

from docstore_indexer.domain.backfill import BackfillJob
from docstore_indexer.domain.catalog import CatalogEntry
from docstore_indexer.domain.extraction import Extracted
from docstore_indexer.service_layer.indexing import Indexing
from docstore_indexer.service_layer.ports import Repos
from docstore_messaging.tasks import stop_tasks
from docstore_messaging.tracing import loop_span
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)


class LeaseLost(Exception):
    """Another replica took the job over, or the job was cancelled."""


class BackfillWorker:
    def __init__(
        self,
        indexing: Indexing,
        uow: UnitOfWork[Repos],
        reads: Repos,
        *,
        documents_per_second: float = 10.0,
        poll_seconds: float = 2.0,
        lease_seconds: float = 120.0,
    ) -> None:
        self.indexing = indexing
        self.uow = uow
        self.reads = reads
        self.interval = 1.0 / documents_per_second if documents_per_second > 0 else 0.0
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.owner = f"backfill-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A job was just created (its transaction committed): look for it now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="indexer-backfill")

    async def stop(self) -> None:
        await stop_tasks([self._task])

    async def claim(self) -> BackfillJob | None:
        """Take the lease of a running job nobody holds, if there is one."""

        async def work(tx: Transaction[Repos]) -> BackfillJob | None:
            return await tx.repos.backfills.claim(self.owner, self.lease_seconds)

        return await self.uow.run(work)

    async def run(self) -> None:
        while True:
            try:
                job = await self.claim()
                if job is not None:
                    # One trace per job: its document.indexed events are children of this span.
                    with loop_span("indexer backfill", **{"account.id": job.account_id, "job.id": job.job_id}):
                        await self.run_job(job)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # MongoDB or Typesense away for a moment: try again later
                log.warning("backfill_error", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def run_job(self, job: BackfillJob) -> None:
        """Index the job's documents from its cursor until the end, a lost lease or an error."""
        bound = log.bind(account_id=job.account_id, job_id=job.job_id)
        cursor = job.cursor
        try:
            while True:
                started = time.monotonic()
                entry = await self.reads.catalog.next_after(job.account_id, cursor)
                if entry is None:
                    await self._finish(job)
                    bound.info("backfill_complete")
                    return
                extracted = None if entry.index_is_current else await self.indexing.extract(entry)
                failed = int(bool(extracted and extracted.failed))

                async def step(
                    tx: Transaction[Repos],
                    entry: CatalogEntry = entry,
                    extracted: Extracted | None = extracted,
                    failed: int = failed,
                ) -> None:
                    if not await tx.repos.backfills.advance(
                        job,
                        self.owner,
                        entry.id,
                        indexed=1 - failed,
                        failed=failed,
                        lease_seconds=self.lease_seconds,
                    ):
                        raise LeaseLost(job.account_id)
                    await self.indexing.backfill_one(tx, entry, extracted)

                await self.uow.run(step)
                cursor = entry.id
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
        except LeaseLost:
            bound.info("backfill_lease_lost")
        except BaseException:
            await self._release(job)
            raise

    async def _finish(self, job: BackfillJob) -> None:
        async def work(tx: Transaction[Repos]) -> None:
            await tx.repos.backfills.finish(job, self.owner)

        await self.uow.run(work)

    async def _release(self, job: BackfillJob) -> None:
        async def work(tx: Transaction[Repos]) -> None:
            await tx.repos.backfills.release(job, self.owner)

        await self.uow.run(work)
