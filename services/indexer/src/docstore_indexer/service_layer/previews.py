"""Use cases of previews: record a version (due), render due versions outside the consumer,
delete a deleted version's previews, and backfill the documents that predate previews.

Recording is quick and runs once per event (`run_once_each` under the consumer name
`indexer-previews`, beside the indexing use case's own records): a version gets one entry,
`due`. The `PreviewWorker` then reads the object, renders it in the render worker processes,
uploads both sizes (idempotent: the same keys), and commits in one transaction that re-reads
the entry: only an entry still `due` becomes `ready`/`failed` with its one event in the outbox.
So a redelivered event, a second event for the same version, or two replicas rendering one
version end with one stored pair of images and one event. A version deleted while it was being
rendered has its fresh objects deleted again by that commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from docstore_events import DocumentPreviewFailed, DocumentPreviewReady, FileDeleted, FileVersionRecorded
from docstore_events.previews import PreviewImage
from docstore_indexer.adapters.object_store import ObjectMissing
from docstore_indexer.adapters.preview_store import CatalogDocument
from docstore_indexer.domain.previews import (
    DELETED,
    DUE,
    FAILED,
    READY,
    VIDEO,
    PreviewEntry,
    PreviewFailed,
    PreviewMetrics,
    Rendered,
    StoredImage,
    document_prefix,
    entry_id,
    known_without_rendering,
    on_version,
    preview_key,
    renderer_for,
    too_large,
    version_prefix,
)
from docstore_indexer.service_layer.outcomes import Outcomes, preview_outcomes
from docstore_messaging.tasks import stop_tasks
from docstore_messaging.tracing import continue_trace, current_traceparent, link_to, loop_span
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)

TOMBSTONE_VERSION = 0
"""A whole document's deletion is kept as the entry of version 0: later versions of it are never rendered."""


class PreviewStore(Protocol):
    async def get(self, entry_id: str) -> PreviewEntry | None: ...
    async def get_many(self, ids: list[str]) -> dict[str, PreviewEntry]: ...
    async def for_document(self, account_id: str, document_id: str) -> list[PreviewEntry]: ...
    async def put(self, entry: PreviewEntry) -> None: ...
    async def put_many(self, entries: list[PreviewEntry]) -> None: ...
    async def due(self, limit: int) -> list[PreviewEntry]: ...
    async def stored_bytes(self) -> int: ...


class JobStore(Protocol):
    async def get(self) -> dict[str, Any] | None: ...
    async def create(self, total: int, at: datetime) -> None: ...
    async def claim(self, owner: str, lease_seconds: float) -> dict[str, Any] | None: ...
    async def advance(self, owner: str, cursor: str, *, done: int, created: int, finished: bool) -> bool: ...
    async def count_live_documents(self) -> int: ...
    async def documents_after(self, cursor: str, limit: int) -> list[CatalogDocument]: ...


class PreviewRepos(Protocol):
    """The repositories of a preview unit of work (`adapters.preview_store.PreviewRepositories`)."""

    @property
    def previews(self) -> PreviewStore: ...
    @property
    def jobs(self) -> JobStore: ...


class PreviewObjectStore(Protocol):
    """S3 (`adapters.preview_store.PreviewObjects`): reads raise `ObjectMissing`; writes are encrypted."""

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes: ...
    async def download(self, bucket: str, key: str, path: str, *, limit: int) -> int:
        """Stream up to `limit` bytes of the object into the file `path`; how many were written."""
        ...

    async def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...
    async def delete_prefix(self, bucket: str, prefix: str) -> int: ...


class Renderer(Protocol):
    """Previews of bytes within a time cap (`adapters.renderer.RenderPool`); raises `PreviewFailed`."""

    async def render(self, data: bytes, content_type: str, timeout: float) -> list[Rendered]: ...
    async def render_file(self, path: str, content_type: str, timeout: float) -> list[Rendered]: ...


@dataclass(frozen=True)
class Outcome:
    images: dict[str, StoredImage] = field(default_factory=dict)
    reason: str | None = None


def _image(stored: StoredImage) -> PreviewImage:
    return PreviewImage(
        key=stored.key, width=stored.width, height=stored.height, content_type=stored.content_type, size=stored.size
    )


class Previews:
    def __init__(
        self,
        *,
        uow: UnitOfWork[PreviewRepos],
        reads: PreviewRepos,
        objects: PreviewObjectStore,
        renderer: Renderer,
        region: str,
        bucket: str,
        max_bytes: int,
        timeout: float,
        consumer: str = "indexer-previews",
        metrics: PreviewMetrics | None = None,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.objects = objects
        self.renderer = renderer
        self.region = region
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.consumer = consumer
        self.metrics = metrics or PreviewMetrics()
        self.on_due: Callable[[PreviewEntry], None] = lambda entry: None
        """Called with each entry once the transaction that made it due has committed (the worker's `enqueue`)."""

    # Events -------------------------------------------------------------------------------

    async def record_versions(self, uploads: list[tuple[str, FileVersionRecorded, datetime]]) -> int:
        """A due preview entry for each version not seen before (failed at once when its type or
        size says so, `_mark_due`), with the events' processed records in one transaction. Every
        plan gets previews. Returns how many entries were written."""
        created: list[PreviewEntry] = []

        async def work(tx: Transaction[PreviewRepos], fresh: frozenset[str]) -> None:
            created[:] = await self._mark_due(
                tx,
                [
                    self._due(e.account_id, e.document_id, e.version, e.bucket, e.key, e.content_type, e.size, at)
                    for event_id, e, at in uploads
                    if event_id in fresh
                ],
            )
            tx.after_commit(self._announce([entry for entry in created if entry.state == DUE]))

        await self.uow.run_once_each(consumer=self.consumer, event_ids=[u[0] for u in uploads], work=work)
        return len(created)

    def _due(
        self,
        account_id: str,
        document_id: str,
        version: int,
        bucket: str,
        key: str,
        content_type: str,
        size: int,
        at: datetime,
    ) -> PreviewEntry:
        return PreviewEntry(
            account_id=account_id,
            document_id=document_id,
            version=version,
            state=DUE,
            bucket=bucket or self.bucket,
            key=key,
            content_type=content_type,
            size=size,
            at=at,
            traceparent=current_traceparent(),
        )

    async def _mark_due(self, tx: Transaction[PreviewRepos], versions: list[PreviewEntry]) -> list[PreviewEntry]:
        """Write those of `versions` (due entries) whose version is not known yet and whose
        document was not purged (a late event, or a catalog entry behind); returns them. One
        whose type or size already says it gets no preview is written failed, its event in this
        transaction: no worker picks it up, and no second transaction records the outcome (a
        small file of a type without a renderer cost two transactions and a pass of the worker)."""
        ids = [v.id for v in versions] + [entry_id(v.account_id, v.document_id, TOMBSTONE_VERSION) for v in versions]
        known: dict[str, PreviewEntry] = await tx.repos.previews.get_many(list(dict.fromkeys(ids)))
        created: list[PreviewEntry] = []
        outcomes = preview_outcomes()
        for new in versions:
            if entry_id(new.account_id, new.document_id, TOMBSTONE_VERSION) in known:
                continue  # the document was purged before this (late) version arrived
            entry = on_version(known.get(new.id), new)
            if entry is not None:
                reason = known_without_rendering(entry.content_type, entry.size, self.max_bytes)
                if reason is not None:
                    entry = self._recorded(outcomes, entry, entry, Outcome(reason=reason))
                known[entry.id] = entry
                created.append(entry)
        await tx.repos.previews.put_many(created)
        outcomes.emit(tx)
        return created

    async def forget(self, event: FileDeleted, *, at: datetime, event_id: str) -> bool:
        """The deleted versions' (or the whole document's) preview objects leave S3; their
        entries become tombstones so a late or redelivered version event renders nothing."""

        async def work(tx: Transaction[PreviewRepos]) -> None:
            entries = {
                entry.version: entry
                for entry in await tx.repos.previews.for_document(event.account_id, event.document_id)
            }
            versions = set(event.versions)
            if event.whole_document:
                versions |= set(entries) | {TOMBSTONE_VERSION}
            tombstones = [
                replace(entries[v], state=DELETED, images={}, reason=None, at=at)
                if v in entries
                else PreviewEntry(event.account_id, event.document_id, v, DELETED, bucket=self.bucket, at=at)
                for v in sorted(versions)
            ]
            buckets = {entry.bucket for entry in entries.values() if entry.bucket} | {self.bucket}
            # S3 deletes before the commit, idempotent: a retried transaction deletes nothing new.
            for bucket in buckets:
                if event.whole_document:
                    await self.objects.delete_prefix(
                        bucket, document_prefix(self.region, event.account_id, event.document_id)
                    )
                else:
                    for version in event.versions:
                        await self.objects.delete_prefix(
                            bucket, version_prefix(self.region, event.account_id, event.document_id, version)
                        )
            await tx.repos.previews.put_many(tombstones)

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    def _announce(self, entries: list[PreviewEntry]) -> Callable[[], None]:
        """The after-commit callback that hands `entries` to the worker."""

        def announce() -> None:
            for entry in entries:
                self.on_due(entry)

        return announce

    # Rendering ----------------------------------------------------------------------------

    async def render(self, entry: PreviewEntry) -> Outcome:
        """Read, render and store both sizes of one version (outside any transaction). A failure
        that belongs to the file (type, size, corrupt, bomb, timeout, crash) is an `Outcome`
        with a reason; S3 being away raises (the entry stays due and is tried again)."""
        started = time.perf_counter()
        try:
            if (reason := known_without_rendering(entry.content_type, entry.size, self.max_bytes)) is not None:
                raise PreviewFailed(reason)  # the object is not even read
            if renderer_for(entry.content_type) == VIDEO:
                rendered = await self._render_streamed(entry)
            else:
                data = await self.objects.read(entry.bucket, entry.key, limit=self.max_bytes + 1)
                if len(data) > self.max_bytes:
                    raise PreviewFailed(too_large(self.max_bytes))
                rendered = await self.renderer.render(data, entry.content_type, self.timeout)
            images: dict[str, StoredImage] = {}
            for image in rendered:
                key = preview_key(
                    self.region, entry.account_id, entry.document_id, entry.version, image.size, image.extension
                )
                await self.objects.put(entry.bucket, key, image.data, image.content_type)
                images[image.size] = StoredImage(key, image.width, image.height, image.content_type, len(image.data))
            outcome = Outcome(images=images)
        except PreviewFailed as error:
            outcome = Outcome(reason=str(error))
        except ObjectMissing:
            outcome = Outcome(reason="file missing from storage")
        self.metrics.rendered("ready" if outcome.images else "failed", time.perf_counter() - started)
        return outcome

    async def _render_streamed(self, entry: PreviewEntry) -> list[Rendered]:
        """A video: streamed from S3 into a scratch file that `ffmpeg` reads in the worker (it
        seeks to one frame), so neither this process nor the worker holds the whole file."""
        with tempfile.TemporaryDirectory(prefix="docstore-preview-") as scratch:
            path = os.path.join(scratch, "video")
            written = await self.objects.download(entry.bucket, entry.key, path, limit=self.max_bytes + 1)
            if written > self.max_bytes:
                raise PreviewFailed(too_large(self.max_bytes))
            return await self.renderer.render_file(path, entry.content_type, self.timeout)

    async def commit(self, entry: PreviewEntry, outcome: Outcome) -> bool:
        """Record the outcome and emit its one event, if the entry is still due; True if it was."""
        return entry.id in await self.commit_many([(entry, outcome)])

    async def commit_many(self, rendered: list[tuple[PreviewEntry, Outcome]]) -> set[str]:
        """Record each outcome and emit its one event, for the entries still due, in one
        transaction (one read of the entries, one bulk write, one outbox write); returns the ids
        of those recorded. An entry that is no longer due is left as it is (a redelivery, another
        replica, or a deletion, whose fresh images this deletes again)."""
        recorded: set[str] = set()

        async def work(tx: Transaction[PreviewRepos]) -> None:
            recorded.clear()
            outcomes = preview_outcomes()
            currents = await tx.repos.previews.get_many(list(dict.fromkeys(entry.id for entry, _ in rendered)))
            puts: dict[str, PreviewEntry] = {}
            for entry, outcome in rendered:
                current = puts.get(entry.id) or currents.get(entry.id)
                if current is None or current.state != DUE:
                    if current is not None and current.state == DELETED and outcome.images:
                        # Deleted while it was being rendered: what this render stored goes too.
                        await self.objects.delete_prefix(
                            entry.bucket,
                            version_prefix(self.region, entry.account_id, entry.document_id, entry.version),
                        )
                    continue
                recorded.add(entry.id)
                puts[entry.id] = self._recorded(outcomes, entry, current, outcome)
            await tx.repos.previews.put_many(list(puts.values()))
            outcomes.emit(tx)

        # A batch's outcomes of one account go out as one event, in this span's trace; each
        # version's `indexer preview` span is in its upload's trace.
        links = [link for entry, _ in rendered for link in link_to(entry.traceparent or None)]
        with loop_span("indexer commit previews", links=links, versions=len(rendered)):
            await self.uow.run(work)
        return recorded

    @staticmethod
    def _recorded(
        outcomes: Outcomes[DocumentPreviewReady | DocumentPreviewFailed],
        entry: PreviewEntry,
        current: PreviewEntry,
        outcome: Outcome,
    ) -> PreviewEntry:
        """`current` (due) with `outcome` recorded; its event added to `outcomes`."""
        if outcome.images:
            outcomes.add(
                DocumentPreviewReady(
                    account_id=entry.account_id,
                    document_id=entry.document_id,
                    version=entry.version,
                    small=_image(outcome.images["small"]),
                    large=_image(outcome.images["large"]),
                ),
                entry.traceparent or None,
            )
            return replace(current, state=READY, images=outcome.images, reason=None)
        reason = outcome.reason or "no preview"
        outcomes.add(
            DocumentPreviewFailed(
                account_id=entry.account_id, document_id=entry.document_id, version=entry.version, reason=reason
            ),
            entry.traceparent or None,
        )
        return replace(current, state=FAILED, images={}, reason=reason)

    async def render_traced(self, entry: PreviewEntry) -> Outcome:
        """`render`, in the version's trace."""
        with continue_trace(
            entry.traceparent or None, "indexer preview", attributes={"document.id": entry.document_id}
        ):
            return await self.render(entry)

    async def process(self, entry: PreviewEntry) -> bool:
        """`render` then `commit`, in the version's trace."""
        return await self.commit(entry, await self.render_traced(entry))

    # Backfill -----------------------------------------------------------------------------

    async def backfill_step(self, owner: str, cursor: str, page: int) -> tuple[str, int, int, bool] | None:
        """Mark due the next `page` catalog documents after `cursor` that have no preview entry
        for their newest version, and move the job's cursor, in one transaction (only while
        `owner` holds the lease). Returns (cursor, seen, created, finished), None if the lease was lost."""
        created: list[PreviewEntry] = []

        async def work(tx: Transaction[PreviewRepos]) -> tuple[str, int, int, bool] | None:
            created.clear()
            documents = await tx.repos.jobs.documents_after(cursor, page)
            live = [doc for doc in documents if doc.live and doc.version > 0]
            now = datetime.now(UTC)
            created[:] = await self._mark_due(
                tx,
                [
                    self._due(d.account_id, d.document_id, d.version, d.bucket, d.key, d.content_type, d.size, now)
                    for d in live
                ],
            )
            finished = len(documents) < page
            moved_to = documents[-1].id if documents else cursor
            seen = len(live)
            if not await tx.repos.jobs.advance(owner, moved_to, done=seen, created=len(created), finished=finished):
                created.clear()
                raise _LeaseLost
            tx.after_commit(self._announce([entry for entry in created if entry.state == DUE]))
            return moved_to, seen, len(created), finished

        try:
            return await self.uow.run(work)
        except _LeaseLost:
            return None


class _LeaseLost(Exception):
    """Another replica took the backfill job over: this step's transaction is rolled back."""


class Busy(Protocol):
    """Work that previews give way to (`IndexingWorker`: uploads waiting to be searchable)."""

    async def wait_idle(self, timeout: float) -> bool:
        """Return once idle, or after `timeout` seconds at most; True if idle."""
        ...


class PreviewWorker:
    """Renders due versions outside the consumer, `concurrency` at a time.

    Told each entry that became due once its transaction committed (`enqueue`); looks for due
    entries at start-up and every `poll_seconds` (after a crash, or another replica's), and
    then samples the stored preview bytes for the metrics.

    With `defer_to` (the indexing worker), a version waits while that worker has uploads to
    extract or commit, at most `defer_seconds` after it was enqueued: reading, rendering,
    storing and recording a preview costs more CPU than extracting the text, and the text is
    what makes the upload searchable. Waiting changes only when a due entry is rendered, never
    whether: it stays due in MongoDB until its commit, as before.

    Outcomes are recorded in batches (`Previews.commit_many`: one transaction, one outbox
    write, and so one relay round, for up to `batch_size` versions): a batch commits once
    nothing else is waiting or being rendered, once it is full, or `batch_seconds` after its
    first outcome; while one commits, the next fills. Until its commit an entry stays due in MongoDB,
    so a crash loses nothing (the poll finds it again)."""

    def __init__(
        self,
        previews: Previews,
        reads: PreviewRepos,
        *,
        concurrency: int,
        poll_seconds: float,
        defer_to: Busy | None = None,
        defer_seconds: float = 0.0,
        batch_size: int = 64,
        batch_seconds: float = 0.25,
    ) -> None:
        self.previews = previews
        self.reads = reads
        self.concurrency = max(1, concurrency)
        self.poll_seconds = poll_seconds
        self.defer_to = defer_to
        self.defer_seconds = defer_seconds
        self._queue: asyncio.Queue[tuple[float, PreviewEntry]] = asyncio.Queue()
        self._known: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.batch_size = max(1, batch_size)
        self.batch_seconds = max(0.0, batch_seconds)
        self._rendered: list[tuple[PreviewEntry, Outcome]] = []
        """Outcomes rendered and not yet committed, in the order they finished."""
        self._changed = asyncio.Event()
        self._rendering = 0

    def enqueue(self, entry: PreviewEntry) -> None:
        if entry.id not in self._known:
            self._known.add(entry.id)
            self._queue.put_nowait((time.monotonic(), entry))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"indexer-preview-{n}") for n in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._commit_batches(), name="indexer-preview-commit"))
        self._tasks.append(asyncio.create_task(self._poll(), name="indexer-preview-poll"))

    async def stop(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks = []

    async def _poll(self) -> None:
        while True:
            try:
                for entry in await self.reads.previews.due(limit=100):
                    self.enqueue(entry)
                self.previews.metrics.stored_bytes(await self.reads.previews.stored_bytes())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # MongoDB away for a moment: the entries stay due
                log.warning("preview_scan_error", error=repr(error))
            await asyncio.sleep(self.poll_seconds)

    async def _work(self) -> None:
        while True:
            enqueued, entry = await self._queue.get()
            self._rendering += 1
            try:
                if self.defer_to is not None:
                    await self.defer_to.wait_idle(enqueued + self.defer_seconds - time.monotonic())
                outcome = await self.previews.render_traced(entry)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # S3 away: the entry stays due, the poll brings it back
                log.warning("preview_error", document_id=entry.document_id, version=entry.version, error=repr(error))
                self._known.discard(entry.id)
            else:
                self._rendered.append((entry, outcome))
            finally:
                self._rendering -= 1
                self._changed.set()

    def _more_coming(self) -> bool:
        return bool(self._rendering or not self._queue.empty())

    async def _commit_batches(self) -> None:
        """Commit what was rendered, in batches (see the class)."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            if not self._rendered:
                continue
            if self._more_coming() and len(self._rendered) < self.batch_size:
                # More are waiting or being rendered: let the batch grow a little (each outcome
                # wakes this loop).
                deadline = time.monotonic() + self.batch_seconds
                while self._more_coming() and len(self._rendered) < self.batch_size:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), left)
                    self._changed.clear()
            batch, self._rendered = self._rendered[: self.batch_size], self._rendered[self.batch_size :]
            if self._rendered:
                self._changed.set()
            try:
                await self.previews.commit_many(batch)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # MongoDB away: the entries stay due, the poll brings them back
                log.warning("preview_commit_error", versions=len(batch), error=repr(error))
            finally:
                for entry, _ in batch:
                    self._known.discard(entry.id)


class PreviewBackfill:
    """Gives the documents catalogued before previews existed their preview: once per
    deployment's database, bounded (`documents_per_second` per replica, pages of `page`),
    resumable (a cursor in MongoDB, moved in the same transaction as the due marks; a lease so
    one replica walks at a time, and another takes over from the cursor when it dies)."""

    def __init__(
        self,
        previews: Previews,
        reads: PreviewRepos,
        *,
        documents_per_second: float,
        poll_seconds: float = 5.0,
        page: int = 50,
        lease_seconds: float = 60.0,
    ) -> None:
        self.previews = previews
        self.reads = reads
        self.documents_per_second = max(0.1, documents_per_second)
        self.poll_seconds = poll_seconds
        self.page = max(1, page)
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="indexer-preview-backfill")

    async def stop(self) -> None:
        await stop_tasks([self._task])

    async def run(self) -> None:
        while True:
            try:
                if await self.run_once():
                    return  # complete: nothing more to do in this deployment
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("preview_backfill_error", error=repr(error))
            await asyncio.sleep(self.poll_seconds)

    async def run_once(self) -> bool:
        """Walk the catalog while this replica holds the job; True once the job is complete."""
        jobs = self.reads.jobs
        if await jobs.get() is None:
            await jobs.create(await jobs.count_live_documents(), datetime.now(UTC))
        job = await jobs.claim(self.owner, self.lease_seconds)
        if job is None:
            current = await jobs.get()
            return bool(current and current["state"] == "complete")
        cursor, done, total = str(job["cursor"]), int(job["done"]), int(job["total"])
        log.info("preview_backfill_started", cursor=cursor, done=done, total=total)
        while True:
            started = time.monotonic()
            step = await self.previews.backfill_step(self.owner, cursor, self.page)
            if step is None:
                return False  # the lease went to another replica
            cursor, seen, created, finished = step
            done += seen
            self.previews.metrics.backfill(done, max(total, done))
            log.info("preview_backfill_progress", done=done, total=max(total, done), created=created)
            if finished:
                log.info("preview_backfill_complete", done=done)
                return True
            if await jobs.claim(self.owner, self.lease_seconds) is None:
                return False
            # The rate limit: `page` documents per `page / documents_per_second` seconds.
            await asyncio.sleep(max(0.0, self.page / self.documents_per_second - (time.monotonic() - started)))
