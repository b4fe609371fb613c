"""The indexing worker: due uploads indexed in batches, and what changes between the
extraction and the commit of a batch. In-memory ports on a `FakeUnitOfWork`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from indexer_fakes import Objects, world
from test_use_cases import sign_up, upload

from docstore_events import DocumentsIndexed
from docstore_indexer.service_layer.indexing_worker import IndexingWorker

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def test_a_batch_is_one_import_and_one_transaction() -> None:
    w = world()
    worker = IndexingWorker(w.indexing, w.repos, concurrency=8)
    w.indexing.on_due = worker.enqueue_entry
    await sign_up(w, "acc", "premium")
    commits = w.uow.commits
    for i in range(5):
        event = upload(w, "acc", f"words {i}".encode(), document_id=f"d{i}")
        await w.indexing.record_upload(event, at=T0, event_id=f"e{i}")
    assert w.index.documents == {}  # recorded and due, not indexed yet
    await worker.drain()
    assert w.index.texts("acc") == {f"d{i}": f"words {i}" for i in range(5)}
    assert w.uow.commits - commits == 5 + 1  # five recordings, one batch
    [batch] = w.uow.emitted  # one account's five outcomes: one event (issue 35)
    assert isinstance(batch, DocumentsIndexed) and batch.account_id == "acc"
    assert [(o.document_id, o.reason) for o in batch.outcomes] == [(f"d{i}", None) for i in range(5)]
    assert not any(e.index_due for e in w.repos.catalog.entries.values())


async def test_due_entries_left_by_a_crash_are_found_by_a_new_worker() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.indexing.record_upload(upload(w, "acc", b"survivor"), at=T0, event_id="e1")
    restarted = IndexingWorker(w.indexing, w.repos)  # the process died before its worker ran
    await restarted.scan()
    await restarted.drain()
    assert w.index.texts("acc") == {"doc-1": "survivor"}


async def test_what_happens_between_extraction_and_commit_is_respected() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    for name in ("kept", "trashed", "deleted", "replaced"):
        await w.indexing.record_upload(upload(w, "acc", name.encode(), document_id=name), at=T0, event_id=name)
    prepared = await w.indexing.prepare(["acc:kept", "acc:trashed", "acc:deleted", "acc:replaced"])
    later = T0 + timedelta(seconds=1)
    await w.indexing.set_trashed("acc", "trashed", trashed=True, at=later, event_id="t")
    await w.indexing.forget_document("acc", "deleted", at=later, event_id="d")
    await w.indexing.record_upload(
        upload(w, "acc", b"replaced v2", document_id="replaced", version=2), at=later, event_id="r2"
    )

    still_due = await w.indexing.commit(prepared)

    assert still_due == ["acc:replaced"]  # its newer upload is extracted next
    assert set(w.index.texts("acc")) == {"kept", "trashed", "replaced"}
    assert w.index.documents["acc:trashed"]["trashed"] is True
    await w.worker.drain()
    assert w.index.texts("acc")["replaced"] == "replaced v2"


async def test_an_account_that_left_premium_meanwhile_is_not_indexed() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.indexing.record_upload(upload(w, "acc", b"secret"), at=T0, event_id="e1")
    prepared = await w.indexing.prepare(["acc:doc-1"])
    await w.plans.record_plan("acc", "free", as_of=T0 + timedelta(minutes=1), event_id="down")
    assert await w.indexing.commit(prepared) == []
    assert w.index.documents == {}
    entry = await w.repos.catalog.get("acc", "doc-1")
    assert entry is not None and not entry.index_due and not entry.is_indexed


async def test_uploads_that_arrive_before_a_premium_sign_up_are_indexed() -> None:
    w = world()
    # file.version-recorded and account.created travel on different topics: the upload may come first.
    await w.record_upload(upload(w, "acc", b"early bird"), at=T0, event_id="e1")
    assert w.index.documents == {}  # an account the indexer has not heard of is treated as Free
    await sign_up(w, "acc", "premium")
    await w.worker.drain()
    assert w.index.texts("acc") == {"doc-1": "early bird"}


async def test_a_batch_of_uploads_is_recorded_in_one_transaction_in_order_and_once() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    first = upload(w, "acc", b"first draft", document_id="d", version=1)
    second = upload(w, "acc", b"second draft", document_id="d", version=2)
    other = upload(w, "acc", b"another", document_id="o")
    commits = w.uow.commits
    batch = [("e1", first, T0), ("e2", second, T0 + timedelta(seconds=1)), ("e3", other, T0)]
    assert await w.indexing.record_uploads(batch) == 2
    assert w.uow.commits - commits == 1
    assert await w.indexing.record_uploads(batch) == 0  # delivered again: nothing
    await w.worker.drain()
    assert w.index.texts("acc") == {"d": "second draft", "o": "another"}


class S3Outage(Objects):
    """The fake S3, unreachable while `down` (as botocore's EndpointConnectionError)."""

    def __init__(self, objects: Objects) -> None:
        super().__init__()
        self.objects = objects.objects  # the same dict: uploads add to it
        self.down = True
        self.refused = 0

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes:
        await asyncio.sleep(0)
        if self.down:
            self.refused += 1
            raise ConnectionError("could not connect to the endpoint")
        return await super().read(bucket, key, limit=limit)


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.005)
    return condition()


async def test_uploads_whose_reads_failed_while_s3_was_down_are_indexed_once_it_is_back() -> None:
    w = world()
    outage = S3Outage(w.objects)
    w.indexing.objects = outage
    worker = IndexingWorker(w.indexing, w.repos, concurrency=8, batch_seconds=0.01, poll_seconds=0.02)
    w.indexing.on_due = worker.enqueue_entry
    await sign_up(w, "acc", "premium")
    worker.start()
    try:
        for i in range(20):
            event = upload(w, "acc", f"burst {i}".encode(), document_id=f"d{i}")
            await w.indexing.record_upload(event, at=T0, event_id=f"e{i}")
        assert await until(lambda: outage.refused >= 20)
        outage.down = False
        expected = {f"d{i}": f"burst {i}" for i in range(20)}
        indexed = await until(lambda: w.index.texts("acc") == expected)
        due = sorted(e.id for e in w.repos.catalog.entries.values() if e.index_due)
        assert indexed, f"still due: {due}; worker holds {sorted(worker._known)}"
    finally:
        await worker.stop()
