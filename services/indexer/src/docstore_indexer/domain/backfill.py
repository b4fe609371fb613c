"""Backfill after an upgrade to Premium: every document of the account, throttled.

`account.plan-changed` (to Premium) only records a job (`backfills`, one per account) in
its handler, so the consumer is never held up. Every replica runs one `BackfillWorker`
that claims a running job nobody holds (a lease in MongoDB), walks the account's catalog
in `_id` order from the job's cursor, and indexes one document at a time: extraction
first, then one transaction that indexes, emits and moves the cursor, but only while the
replica still holds the lease. A replica that dies stops renewing; another one takes the
job over from the cursor. A downgrade cancels the job; the next step sees it and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from docstore_indexer.adapters.repositories import BackfillJob
from docstore_indexer.domain.indexing import Indexer

log = structlog.get_logger(__name__)

T = TypeVar("T")
Transaction = Callable[[Callable[[AsyncClientSession], Awaitable[T]]], Awaitable[T]]


class LeaseLost(Exception):
    """Another replica took the job over, or the job was cancelled."""


class BackfillWorker:
    def __init__(
        self, indexer: Indexer, transaction: Transaction[Any], *, documents_per_second: float = 10.0,
        poll_seconds: float = 2.0, lease_seconds: float = 120.0,
    ) -> None:
        self.indexer = indexer
        self.transaction = transaction
        self.interval = 1.0 / documents_per_second if documents_per_second > 0 else 0.0
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.owner = f"backfill-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A job is being created here: look for it soon (after its transaction commits), not at the next poll."""
        self._wake.set()
        asyncio.get_running_loop().call_later(0.3, self._wake.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="indexer-backfill")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        while True:
            try:
                job = await self.indexer.backfills.claim(self.owner, self.lease_seconds)
                if job is not None:
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
                entry = await self.indexer.catalog.next_after(job.account_id, cursor)
                if entry is None:
                    await self.indexer.backfills.finish(job, self.owner)
                    bound.info("backfill_complete")
                    return
                extracted, index = await self.indexer.prepare_backfill(entry)
                failed = int(bool(extracted and extracted.failure))

                async def step(session: AsyncClientSession, entry_id: str = entry.id) -> None:
                    if not await self.indexer.backfills.advance(
                        job, self.owner, entry_id, indexed=1 - failed, failed=failed,
                        lease_seconds=self.lease_seconds, session=session,
                    ):
                        raise LeaseLost(job.account_id)
                    await index(session)

                await self.transaction(step)
                cursor = entry.id
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
        except LeaseLost:
            bound.info("backfill_lease_lost")
        except BaseException:
            await self.indexer.backfills.release(job, self.owner)
            raise
