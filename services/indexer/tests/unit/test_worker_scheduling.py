"""When the workers do their work (never whether): batches that grow while more uploads are
being extracted, objects read ahead of the extraction workers within a byte budget, and
previews that wait while uploads are being made searchable. In-memory ports; the tests step
the event loop and release extractions themselves, so nothing depends on the clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from indexer_fakes import world
from test_use_cases import sign_up, upload

from docstore_events import DocumentsIndexed
from docstore_indexer.domain.previews import DUE, PreviewEntry
from docstore_indexer.service_layer.indexing_worker import ByteBudget, IndexingWorker
from docstore_indexer.service_layer.previews import PreviewWorker

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def steps(n: int = 200) -> None:
    """Let every ready task run (`n` turns of the event loop, no clock)."""
    for _ in range(n):
        await asyncio.sleep(0)


class GatedExtractor:
    """Each document's extraction waits until the test releases it (by its text)."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []
        self.running = 0
        self.most_at_once = 0

    def gate(self, text: str) -> asyncio.Event:
        return self.gates.setdefault(text, asyncio.Event())

    async def extract(self, data: bytes, content_type: str, timeout: float) -> str:
        text = data.decode()
        self.started.append(text)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate(text).wait()
        finally:
            self.running -= 1
        return text


async def test_a_batch_grows_while_uploads_are_still_being_extracted() -> None:
    w = world()
    extractor = GatedExtractor()
    w.indexing.extractor = extractor
    worker = IndexingWorker(w.indexing, w.repos, concurrency=8, batch_seconds=30)
    w.indexing.on_due = worker.enqueue_entry
    await sign_up(w, "acc", "premium")
    for i in range(5):
        await w.indexing.record_upload(
            upload(w, "acc", f"words {i}".encode(), document_id=f"d{i}"), at=T0, event_id=f"e{i}"
        )
    commits = w.uow.commits
    draining = asyncio.create_task(worker.drain())
    await steps()
    assert len(extractor.started) == 5
    for i in range(5):  # one after the other, each given every chance to commit alone
        extractor.gate(f"words {i}").set()
        await steps()
    # The last one done, nothing else being extracted: the batch commits at once (no 30 s wait).
    await asyncio.wait_for(draining, 20)
    assert w.uow.commits - commits == 1  # one import and one transaction for the five
    assert w.index.texts("acc") == {f"d{i}": f"words {i}" for i in range(5)}
    [batch] = [e for e in w.uow.emitted if isinstance(e, DocumentsIndexed)]
    assert sorted(o.document_id for o in batch.outcomes) == [f"d{i}" for i in range(5)]


async def test_a_lone_upload_is_committed_without_waiting() -> None:
    w = world()
    worker = IndexingWorker(w.indexing, w.repos, concurrency=8, batch_seconds=30)
    w.indexing.on_due = worker.enqueue_entry
    await sign_up(w, "acc", "premium")
    await w.indexing.record_upload(upload(w, "acc", b"alone"), at=T0, event_id="e1")
    await asyncio.wait_for(worker.drain(), 20)
    assert w.index.texts("acc") == {"doc-1": "alone"}


async def test_objects_read_ahead_stay_within_the_byte_budget() -> None:
    w = world()
    extractor = GatedExtractor()
    w.indexing.extractor = extractor
    # Room for 8 documents at once by count, for 2 of these 100-byte objects by bytes.
    worker = IndexingWorker(w.indexing, w.repos, concurrency=8, read_ahead_bytes=250)
    w.indexing.on_due = worker.enqueue_entry
    await sign_up(w, "acc", "premium")
    texts = [f"{i}".ljust(100, ".") for i in range(6)]
    for i, text in enumerate(texts):
        await w.indexing.record_upload(upload(w, "acc", text.encode(), document_id=f"d{i}"), at=T0, event_id=f"e{i}")
    draining = asyncio.create_task(worker.drain())
    await steps()
    assert len(extractor.started) == 2 and worker.read_ahead.held == 200
    extractor.gate(extractor.started[0]).set()
    await steps()
    assert len(extractor.started) == 3  # the first one's bytes were given back
    for text in texts:
        extractor.gate(text).set()
    await asyncio.wait_for(draining, 20)
    assert extractor.most_at_once == 2 and worker.read_ahead.held == 0
    assert set(w.index.texts("acc")) == {f"d{i}" for i in range(6)}


async def test_an_object_larger_than_the_budget_goes_alone() -> None:
    budget = ByteBudget(100)
    entered = asyncio.Event()

    async def small_one() -> None:
        async with budget.hold(1):
            entered.set()

    async with budget.hold(500):
        assert budget.held == 100  # all of it, not more
        waiting = asyncio.create_task(small_one())
        await steps()
        assert not entered.is_set()
    await asyncio.wait_for(waiting, 20)
    assert entered.is_set() and budget.held == 0


async def test_objects_that_are_not_read_take_nothing_from_the_budget() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.indexing.record_upload(upload(w, "acc", b"x" * 5000, content_type="video/mp4"), at=T0, event_id="e1")
    entry = await w.repos.catalog.get("acc", "doc-1")
    assert entry is not None and w.indexing.read_size(entry) == 0


async def test_the_indexing_worker_says_when_it_is_idle() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    worker = IndexingWorker(w.indexing, w.repos)
    w.indexing.on_due = worker.enqueue_entry
    assert worker.idle and await worker.wait_idle(0)
    await w.indexing.record_upload(upload(w, "acc", b"busy"), at=T0, event_id="e1")
    assert not worker.idle and not await worker.wait_idle(0)
    worker.start()
    try:
        assert await worker.wait_idle(20)
        assert w.index.texts("acc") == {"doc-1": "busy"}
    finally:
        await worker.stop()


class Gate:
    """The indexing worker as previews see it: busy until the test says otherwise."""

    def __init__(self) -> None:
        self.idle = asyncio.Event()
        self.asked: list[float] = []

    async def wait_idle(self, timeout: float) -> bool:
        self.asked.append(timeout)
        await self.idle.wait()
        return True


def preview_fakes(render: Any, committed: list[list[str]]) -> tuple[Any, Any]:
    """A `Previews` whose rendering is `render` and whose commits are recorded as lists of ids."""

    async def commit_many(batch: list[tuple[PreviewEntry, Any]]) -> set[str]:
        committed.append([entry.id for entry, _ in batch])
        return {entry.id for entry, _ in batch}

    async def due(limit: int) -> list[PreviewEntry]:
        return []

    async def stored_bytes() -> int:
        return 0

    previews: Any = SimpleNamespace(
        render_traced=render, commit_many=commit_many, metrics=SimpleNamespace(stored_bytes=lambda n: None)
    )
    reads: Any = SimpleNamespace(previews=SimpleNamespace(due=due, stored_bytes=stored_bytes))
    return previews, reads


async def test_previews_wait_while_uploads_are_being_indexed() -> None:
    rendered: list[str] = []
    committed: list[list[str]] = []

    async def render(entry: PreviewEntry) -> Any:
        rendered.append(entry.id)
        return SimpleNamespace(images={}, reason="unsupported type")

    previews, reads = preview_fakes(render, committed)
    gate = Gate()
    worker = PreviewWorker(previews, reads, concurrency=1, poll_seconds=3600, defer_to=gate, defer_seconds=30)
    worker.start()
    try:
        worker.enqueue(PreviewEntry("acc", "doc-1", 1, DUE))
        await steps()
        assert rendered == [] and len(gate.asked) == 1
        assert 0 < gate.asked[0] <= 30  # bounded: a version waits at most `defer_seconds`
        gate.idle.set()
        await steps()
        assert rendered == ["acc:doc-1:v1"]
        assert committed == [["acc:doc-1:v1"]]
    finally:
        await worker.stop()


async def test_preview_outcomes_are_committed_in_batches() -> None:
    """Versions rendered side by side are recorded in one transaction (one outbox write, one relay
    round), not one each; a lone version commits as soon as it is rendered."""
    gates: dict[str, asyncio.Event] = {}
    committed: list[list[str]] = []

    async def render(entry: PreviewEntry) -> Any:
        await gates.setdefault(entry.id, asyncio.Event()).wait()
        return SimpleNamespace(images={}, reason="unsupported type")

    previews, reads = preview_fakes(render, committed)
    # A long linger: the batch commits because nothing else is being rendered, not on a clock.
    worker = PreviewWorker(previews, reads, concurrency=4, poll_seconds=3600, batch_seconds=3600)
    worker.start()
    try:
        entries = [PreviewEntry("acc", f"doc-{n}", 1, DUE) for n in range(4)]
        for entry in entries:
            worker.enqueue(entry)
        await steps()
        for entry in entries[:3]:
            gates.setdefault(entry.id, asyncio.Event()).set()
            await steps()
        assert committed == []  # the fourth is still being rendered: the batch waits for it
        gates.setdefault(entries[3].id, asyncio.Event()).set()
        await steps()
        assert committed == [[entry.id for entry in entries]]
        lone = PreviewEntry("acc", "doc-9", 1, DUE)
        worker.enqueue(lone)
        gates.setdefault(lone.id, asyncio.Event()).set()
        await steps()
        assert committed[1:] == [[lone.id]]
    finally:
        await worker.stop()
