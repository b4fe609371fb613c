"""The indexer's use cases on a `FakeUnitOfWork` and in-memory ports: no servers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from indexer_fakes import Objects, World, world

from docstore_events import DocumentIndexed, DocumentIndexFailed, FileVersionRecorded
from docstore_indexer.adapters.search_index import Filters
from docstore_indexer.domain.plans import FullTextNeedsPremium
from docstore_indexer.domain.search import PeriodReversed

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def upload(
    w: World,
    account: str,
    body: bytes,
    *,
    document_id: str = "doc-1",
    version: int = 1,
    content_type: str = "text/plain",
) -> FileVersionRecorded:
    """An object in the fake S3 and the event announcing it."""
    upload_id = uuid.uuid4().hex
    key = f"{account}/{document_id}/{upload_id}"
    w.objects.objects[("bucket", key)] = body
    return FileVersionRecorded(
        account_id=account,
        upload_id=upload_id,
        document_id=document_id,
        version=version,
        bucket="bucket",
        key=key,
        filename=f"{document_id}.txt",
        content_type=content_type,
        size=len(body),
        sha256="sha",
        tags=["t"],
    )


async def sign_up(w: World, account: str, plan: str) -> None:
    await w.plans.record_plan(account, plan, as_of=T0, event_id=uuid.uuid4().hex)


async def change_plan(w: World, account: str, old: str, new: str, *, at: datetime) -> None:
    await w.plans.record_plan(
        account, new, as_of=at, event_id=uuid.uuid4().hex, upgrade=new == "premium" and old != "premium"
    )


async def test_a_recorded_version_is_indexed_once() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    event = upload(w, "acc", b"the marmalade budget")

    assert await w.record_upload(event, at=T0, event_id="e1")
    assert not await w.record_upload(event, at=T0, event_id="e1")  # the same delivery again
    assert not await w.record_upload(event, at=T0, event_id="e2")  # the same upload, another id

    assert w.index.texts("acc") == {"doc-1": "the marmalade budget"}
    assert w.index.upserts == 1 and w.extractor.calls == 1
    assert w.uow.emitted == [DocumentIndexed(account_id="acc", document_id="doc-1", version=1, characters=20)]
    entry = await w.repos.catalog.get("acc", "doc-1")
    assert entry is not None and entry.index_is_current and entry.index_status == "indexed"


async def test_an_older_version_arriving_late_changes_nothing() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.record_upload(upload(w, "acc", b"second draft", version=2), at=T0, event_id="e2")
    assert not await w.record_upload(upload(w, "acc", b"first draft", version=1), at=T0, event_id="e1")
    assert w.index.texts("acc") == {"doc-1": "second draft"}


async def test_an_unreadable_document_is_indexed_by_name_and_reported() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.record_upload(upload(w, "acc", b"%PDF-1.4 broken", content_type="application/pdf"), at=T0, event_id="e1")
    [failed] = w.uow.emitted
    assert isinstance(failed, DocumentIndexFailed) and "PDF" in failed.reason
    assert w.index.texts("acc") == {"doc-1": ""}


async def test_a_free_account_is_catalogued_but_not_indexed() -> None:
    w = world()
    await sign_up(w, "acc", "free")
    assert await w.record_upload(upload(w, "acc", b"quiet notes"), at=T0, event_id="e1")
    assert w.index.documents == {} and w.uow.emitted == [] and w.extractor.calls == 0
    assert await w.repos.catalog.count_live("acc") == 1


async def test_a_plan_change_flips_full_text_availability() -> None:
    w = world()
    await sign_up(w, "acc", "free")
    await w.record_upload(upload(w, "acc", b"platypus fund"), at=T0, event_id="e1")
    with pytest.raises(FullTextNeedsPremium, match=r"needs the Premium plan \(this account is on Free\)"):
        await w.search.search("acc", "platypus", page=1, per_page=10, filters=Filters(), sort="relevance")
    with pytest.raises(FullTextNeedsPremium):
        await w.search.status("acc")

    # Upgrade: a backfill job starts, the worker is woken once the transaction committed.
    await change_plan(w, "acc", "free", "premium", at=T0 + timedelta(minutes=1))
    assert w.woken == ["backfill"]
    status = await w.search.status("acc")
    assert (status["state"], status["total"], status["indexed"]) == ("backfilling", 1, 0)
    job = await w.backfill.claim()
    assert job is not None
    await w.backfill.run_job(job)
    assert w.index.texts("acc") == {"doc-1": "platypus fund"}
    status = await w.search.status("acc")
    assert (status["state"], status["total"], status["indexed"], status["failed"]) == ("complete", 1, 1, 0)
    await w.search.search("acc", "platypus", page=1, per_page=10, filters=Filters(), sort="relevance")

    # Downgrade: the account's full text goes, and search is refused again.
    await change_plan(w, "acc", "premium", "free", at=T0 + timedelta(minutes=2))
    assert w.index.documents == {}
    entry = await w.repos.catalog.get("acc", "doc-1")
    assert entry is not None and not entry.is_indexed
    with pytest.raises(FullTextNeedsPremium):
        await w.search.search("acc", "platypus", page=1, per_page=10, filters=Filters(), sort="relevance")


async def test_an_older_plan_fact_does_not_win() -> None:
    w = world()
    await change_plan(w, "acc", "free", "premium", at=T0 + timedelta(minutes=1))
    await sign_up(w, "acc", "free")  # account.created, delivered late
    assert await w.plans.plan_of("acc") == "premium"


async def test_a_downgrade_cancels_a_running_backfill() -> None:
    w = world()
    await sign_up(w, "acc", "free")
    await w.record_upload(upload(w, "acc", b"one"), at=T0, event_id="e1")
    await change_plan(w, "acc", "free", "premium", at=T0 + timedelta(minutes=1))
    job = await w.backfill.claim()
    await change_plan(w, "acc", "premium", "free", at=T0 + timedelta(minutes=2))
    assert job is not None
    await w.backfill.run_job(job)  # the lease is gone with the job: nothing is indexed
    assert w.index.documents == {}
    cancelled = await w.repos.backfills.get("acc")
    assert cancelled is not None and cancelled.state == "cancelled"


async def test_trash_rename_and_delete_follow_the_document() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.record_upload(upload(w, "acc", b"capybara notes"), at=T0, event_id="e1")

    await w.indexing.set_trashed("acc", "doc-1", trashed=True, at=T0 + timedelta(seconds=1), event_id="e2")
    assert w.index.documents["acc:doc-1"]["trashed"] is True
    await w.indexing.change_details(
        "acc", "doc-1", name="capy.txt", path="/zoo", tags=["pets"], at=T0 + timedelta(seconds=2), event_id="e3"
    )
    assert (w.index.documents["acc:doc-1"]["name"], w.index.documents["acc:doc-1"]["tags"]) == ("capy.txt", ["pets"])

    await w.indexing.forget_document("acc", "doc-1", at=T0 + timedelta(seconds=3), event_id="e4")
    assert w.index.documents == {}
    # A version recorded before the delete, delivered after it, does not bring the document back.
    assert not await w.record_upload(upload(w, "acc", b"again", version=2), at=T0, event_id="e5")
    assert w.index.documents == {}


async def test_a_rename_that_arrives_before_the_upload_is_kept() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    event = upload(w, "acc", b"early news")
    await w.indexing.change_details(
        "acc", "doc-1", name="renamed.txt", path="/", tags=[], at=T0 + timedelta(seconds=5), event_id="e1"
    )
    await w.record_upload(event, at=T0, event_id="e2")
    assert w.index.documents["acc:doc-1"]["name"] == "renamed.txt"


async def test_the_plan_is_checked_before_the_period() -> None:
    w = world()
    await sign_up(w, "acc", "free")
    reversed_period = Filters(created_from=200, created_to=100)
    with pytest.raises(FullTextNeedsPremium):
        await w.search.search("acc", "x", page=1, per_page=10, filters=reversed_period, sort="relevance")
    await change_plan(w, "acc", "free", "premium", at=T0 + timedelta(minutes=1))
    with pytest.raises(PeriodReversed, match="created_from: must not be after created_to"):
        await w.search.search("acc", "x", page=1, per_page=10, filters=reversed_period, sort="relevance")


async def test_a_missing_object_is_reported_not_raised() -> None:
    w = world(objects=Objects())
    await sign_up(w, "acc", "premium")
    event = upload(w, "acc", b"soon gone")
    w.objects.objects.clear()
    await w.record_upload(event, at=T0, event_id="e1")
    [failed] = w.uow.emitted
    assert isinstance(failed, DocumentIndexFailed) and failed.reason.startswith("object missing")


async def test_a_search_reads_the_plan_once_per_interval_and_again_after_a_change() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    reads = 0
    get = w.repos.plans.get

    async def counting(account_id: str):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return await get(account_id)

    w.repos.plans.get = counting  # type: ignore[method-assign]
    for _ in range(3):
        await w.search.search("acc", "x", page=1, per_page=10, filters=Filters(), sort="relevance")
    assert reads == 1
    await change_plan(w, "acc", "premium", "free", at=T0 + timedelta(minutes=1))
    with pytest.raises(FullTextNeedsPremium):  # recorded here: the cached plan is dropped at once
        await w.search.search("acc", "x", page=1, per_page=10, filters=Filters(), sort="relevance")


class AccountService:
    """The account service's answer about plans (what `AccountPlans` reads from metadata)."""

    def __init__(self) -> None:
        self.plans: dict[str, str] = {}
        self.asked = 0

    async def plan(self, account_id: str) -> str | None:
        self.asked += 1
        return self.plans.get(account_id)


async def test_an_upgrade_is_known_before_its_event_arrives_and_status_counts_the_catalog() -> None:
    from docstore_indexer.service_layer.search import Search

    w = world()
    await sign_up(w, "acc", "free")
    await w.record_upload(upload(w, "acc", b"quokka notes"), at=T0, event_id="e1")
    accounts = AccountService()
    search = Search(reads=w.repos, index=w.index, accounts=accounts)
    w.plans.on_plan_recorded = search.forget  # as bootstrap wires it
    with pytest.raises(FullTextNeedsPremium):
        await search.status("acc")  # Free here and at the account service

    accounts.plans["acc"] = "premium"  # PUT /account/plan answered; account.plan-changed not here yet
    status = await search.status("acc")
    assert (status["state"], status["pending"], status["indexed"], status["failed"], status["total"]) == (
        "enabling",
        1,
        0,
        0,
        1,
    )
    page = await search.search("acc", "quokka", page=1, per_page=10, filters=Filters(), sort="relevance")
    assert page.found == 0  # answered from what is indexed so far, not refused

    await change_plan(w, "acc", "free", "premium", at=T0 + timedelta(minutes=1))
    asked = accounts.asked
    assert (await search.status("acc"))["state"] == "backfilling"
    assert accounts.asked == asked  # Premium in its own record: the account service is not asked


async def test_status_counts_failures_as_failed_with_their_reason_and_follows_new_uploads() -> None:
    w = world()
    await sign_up(w, "acc", "premium")
    await w.record_upload(upload(w, "acc", b"plain words"), at=T0, event_id="e1")
    await w.record_upload(
        upload(w, "acc", b"%PDF-1.4 broken", document_id="doc-2", content_type="application/pdf"),
        at=T0,
        event_id="e2",
    )
    status = await w.search.status("acc")
    assert {k: status[k] for k in ("state", "indexed", "failed", "pending", "total")} == {
        "state": "idle",
        "indexed": 1,
        "failed": 1,
        "pending": 0,
        "total": 2,
    }
    entry = await w.repos.catalog.get("acc", "doc-2")
    assert entry is not None and entry.index_reason.startswith("unreadable PDF")
    await w.indexing.record_upload(upload(w, "acc", b"more", document_id="doc-3"), at=T0, event_id="e3")
    status = await w.search.status("acc")
    assert (status["pending"], status["total"]) == (1, 3)  # due, not yet indexed


async def test_a_deleted_account_leaves_the_index_at_once_and_nothing_is_indexed_for_it_again() -> None:
    """Issue 33, finding 8: `account.deleted` takes the account's full text out of search now (its
    previews and catalog go with the purge's `file.deleted`); applied once per event."""
    w = world()
    await sign_up(w, "acc", "premium")
    await sign_up(w, "other", "premium")
    await w.record_upload(upload(w, "acc", b"private minutes"), at=T0, event_id="e1")
    await w.record_upload(upload(w, "other", b"someone else's"), at=T0, event_id="e2")

    assert await w.plans.forget_account("acc", as_of=T0 + timedelta(minutes=1), event_id="gone")
    assert not await w.plans.forget_account("acc", as_of=T0 + timedelta(minutes=1), event_id="gone")
    assert w.index.texts("acc") == {} and w.index.texts("other") != {}
    await w.record_upload(upload(w, "acc", b"late", document_id="doc-2"), at=T0, event_id="e3")
    assert w.index.texts("acc") == {}
