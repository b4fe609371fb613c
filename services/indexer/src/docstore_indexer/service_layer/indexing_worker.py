"""The worker that indexes due uploads, outside the consumer, in batches.

`file.version-recorded` only marks the document's catalog entry `index_due` (Premium) in its
handler's transaction, so the consumer moves on at once. After that transaction commits the
entry's id is handed to this worker (`enqueue`). The worker keeps two stages busy at once:

* extraction: up to `concurrency` documents read from S3 and extracted at a time (the
  extractor pool's processes run them in parallel; the others are read from S3 meanwhile, so
  a worker that finishes a small document finds the next one in memory, not on its way;
  `read_ahead_bytes` bounds what they hold);
* commit: every document extracted since the last commit, as one batch (at most
  `batch_size`): one Typesense import and one MongoDB transaction (`Indexing.commit`).

So batches grow by themselves with the load: while one commits, the next fills.

Nothing is lost in a crash: a due entry stays due in MongoDB until the transaction that
indexes it commits, and the worker looks for due entries when it starts and every
`poll_seconds` (which also picks up what another replica left behind). Two replicas working
on one entry do the same idempotent import; their transactions serialise on the entry and
only the first records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import structlog

from docstore_indexer.domain.catalog import CatalogEntry
from docstore_indexer.domain.extraction import Extracted
from docstore_indexer.service_layer.indexing import Indexing, Prepared
from docstore_indexer.service_layer.ports import Repos
from docstore_messaging.tasks import stop_tasks
from docstore_messaging.tracing import continue_trace, link_to, loop_span

log = structlog.get_logger(__name__)


class ByteBudget:
    """At most `limit` bytes held at once (an object read ahead of the extraction workers holds
    its size until it is extracted); one object larger than the whole budget goes alone."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.held = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        size = max(0, min(size, self.limit))
        async with self._changed:
            await self._changed.wait_for(lambda: self.held + size <= self.limit)
            self.held += size
        try:
            yield
        finally:
            async with self._changed:
                self.held -= size
                self._changed.notify_all()


class IndexingWorker:
    def __init__(
        self,
        indexing: Indexing,
        reads: Repos,
        *,
        concurrency: int = 4,
        batch_size: int = 64,
        batch_seconds: float = 0.0,
        poll_seconds: float = 5.0,
        read_ahead_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.indexing = indexing
        self.reads = reads
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, batch_size)
        self.batch_seconds = max(0.0, batch_seconds)
        """While more uploads are being extracted, a batch waits up to this long (from its first
        extracted upload) to grow before it commits; it commits at once when it is full or
        nothing else is being extracted."""
        self.poll_seconds = poll_seconds
        self.read_ahead = ByteBudget(read_ahead_bytes)
        """Bounds the bytes of the objects read and waiting for (or in) extraction: `concurrency`
        small documents are read ahead of the extraction workers, a few large ones at most."""
        self._pending: deque[str] = deque()
        self._known: set[str] = set()
        """Ids pending or being worked on: enqueued again only once their commit is done."""
        self._entries: dict[str, CatalogEntry] = {}
        """Pending entries as their transaction committed them (no need to read them again)."""
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        """Set while nothing is pending, extracting or committing (see `wait_idle`)."""
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def enqueue(self, entry_id: str) -> None:
        """An entry became due (its transaction committed): index it soon."""
        if entry_id not in self._known:
            self._known.add(entry_id)
            self._pending.append(entry_id)
            self._idle.clear()
            self._wake.set()

    def enqueue_entry(self, entry: CatalogEntry) -> None:
        """`enqueue`, with the entry as the committed transaction wrote it: the worker extracts
        it without reading it again (the commit re-reads it, and the plan, in its transaction)."""
        if entry.id not in self._known:
            self._entries[entry.id] = entry
            self.enqueue(entry.id)

    @property
    def idle(self) -> bool:
        """Nothing pending, being extracted or being committed."""
        return self._idle.is_set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until the worker is idle, at most `timeout` seconds; True if it is.

        Work that may wait (previews) waits here, so it does not take the cores from extraction."""
        if self._idle.is_set():
            return True
        if timeout <= 0:
            return False
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="indexer-indexing")

    async def stop(self) -> None:
        await stop_tasks([self._task])

    async def run(self) -> None:
        scan = True
        while True:
            try:
                if scan:
                    await self.scan()
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # MongoDB, S3 or Typesense away for a moment: the entries stay due
                log.warning("indexing_error", error=repr(error))
            self._wake.clear()
            if self._pending:
                continue
            self._idle.set()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                scan = False
            except TimeoutError:
                scan = True

    async def scan(self) -> None:
        """Enqueue the entries due in MongoDB (left by a crash, or by another replica)."""
        for entry in await self.reads.catalog.due(limit=10 * self.batch_size):
            self.enqueue(entry.id)

    async def drain(self) -> None:
        """Extract and commit until nothing is pending; on an error, what was not committed
        is forgotten here (it stays due in MongoDB, and the next scan finds it)."""
        extracting: dict[asyncio.Task[Extracted], CatalogEntry] = {}
        ready = Prepared(ids=[])
        committing: asyncio.Task[None] | None = None
        waiting_since: float | None = None  # when the oldest settled id not yet committed was settled
        try:
            while self._pending or extracting or ready.ids or committing:
                free = self.concurrency - len(extracting)
                if free > 0 and self._pending:
                    ids = [self._pending.popleft() for _ in range(min(free, len(self._pending)))]
                    todo = [self._entries.pop(key) for key in ids if key in self._entries]
                    unread = [key for key in ids if all(entry.id != key for entry in todo)]
                    if unread:
                        todo += await self.indexing.to_extract(unread)
                    ready.ids.extend(ids)  # the others (no longer due, or off Premium) are settled by the commit
                    for entry in todo:
                        extracting[asyncio.create_task(self._extract(entry))] = entry
                extracted_ids = {entry.id for entry in extracting.values()}
                settled = [key for key in ready.ids if key in ready.done or key not in extracted_ids]
                now = time.monotonic()
                if not settled:
                    waiting_since = None
                elif waiting_since is None:
                    waiting_since = now
                linger = 0.0
                if committing is None and settled:
                    # One import and one transaction cost about the same for 1 upload as for 30:
                    # while more are being extracted, let the batch grow a little.
                    more_coming = bool(extracting or self._pending)
                    if more_coming and len(settled) < self.batch_size and waiting_since is not None:
                        linger = waiting_since + self.batch_seconds - now
                    if linger <= 0:
                        batch = Prepared(ids=settled[: self.batch_size])
                        for key in batch.ids:
                            if key in ready.done:
                                batch.done[key] = ready.done.pop(key)
                        chosen = set(batch.ids)
                        ready = Prepared(ids=[key for key in ready.ids if key not in chosen], done=ready.done)
                        committing = asyncio.create_task(self._commit(batch))
                        waiting_since = now if len(settled) > len(chosen) else None
                waiting: set[asyncio.Task[object]] = set(extracting)
                if committing is not None:
                    waiting.add(committing)
                if not waiting:
                    continue
                finished, _ = await asyncio.wait(
                    waiting, timeout=linger if linger > 0 else None, return_when=asyncio.FIRST_COMPLETED
                )
                for task in finished:
                    if task is committing:
                        committing = None
                        task.result()  # an error stops this drain
                    else:
                        entry = extracting.pop(task)  # type: ignore[arg-type]
                        ready.done[entry.id] = (entry, cast(Extracted, task.result()))
        finally:
            for task in [*extracting, *([committing] if committing else [])]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._known.difference_update(ready.ids)
            self._known.difference_update(entry.id for entry in extracting.values())
            for key in ready.ids:
                self._entries.pop(key, None)

    async def _extract(self, entry: CatalogEntry) -> Extracted:
        # In the upload's trace: how long its text took shows there.
        with continue_trace(
            entry.traceparent or None, "indexer extract", attributes={"document.id": entry.document_id}
        ):
            async with self.read_ahead.hold(self.indexing.read_size(entry)):
                return await self.indexing.extract(entry)

    async def _commit(self, batch: Prepared) -> None:
        links = [link for entry, _ in batch.done.values() for link in link_to(entry.traceparent or None)]
        try:
            started = time.perf_counter()
            with loop_span("indexer commit batch", links=links, entries=len(batch.ids)):
                still_due = await self.indexing.commit(batch)
            log.info("indexed_batch", entries=len(batch.ids), seconds=round(time.perf_counter() - started, 3))
        finally:
            self._known.difference_update(batch.ids)
        for entry_id in still_due:
            self.enqueue(entry_id)
