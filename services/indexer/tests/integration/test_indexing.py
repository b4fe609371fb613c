"""The indexer against real Kafka, MongoDB, S3 and Typesense."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from docstore_events import DocumentIndexed, DocumentIndexFailed, FileDeleted

from ..unit.pdfs import make_pdf
from .conftest import Harness, eventually

pytestmark = pytest.mark.integration


async def test_premium_text_document_becomes_findable(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    upload = await indexer.upload(
        account, b"Minutes of the meeting: the marmalade budget was approved.", filename="minutes.txt",
        tags=["meetings"],
    )
    await indexer.send(upload)

    hits = await eventually(lambda: indexer.found(account, "marmalade"))
    assert hits == [{
        "document_id": upload.document_id, "name": "minutes.txt", "version": 1, "content_type": "text/plain",
        "tags": ["meetings"], "snippet": hits[0]["snippet"],
    }]
    assert "<mark>marmalade</mark>" in hits[0]["snippet"]

    [indexed] = await indexer.emitted(DocumentIndexed, expect=1)
    assert indexed.data == DocumentIndexed(
        account_id=account, document_id=upload.document_id, version=1, characters=len(
            "Minutes of the meeting: the marmalade budget was approved.")
    )

    ready = await indexer.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"mongodb", "kafka", "typesense"}


async def test_pdf_and_html_are_findable_and_a_corrupt_pdf_is_reported(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    pdf = await indexer.upload(account, make_pdf(["Contract with Zanzibar Shipping"]),
                               content_type="application/pdf", filename="contract.pdf")
    html = await indexer.upload(account, b"<html><script>quokka()</script><p>Visit the <b>lighthouse</b></p></html>",
                                content_type="text/html", filename="page.html")
    broken = await indexer.upload(account, b"%PDF-1.4 not a pdf at all", content_type="application/pdf",
                                  filename="broken.pdf")
    for event in (pdf, html, broken):
        await indexer.send(event)

    [hit] = await eventually(lambda: indexer.found(account, "zanzibar"))
    assert hit["document_id"] == pdf.document_id
    [hit] = await eventually(lambda: indexer.found(account, "lighthouse"))
    assert hit["document_id"] == html.document_id
    assert await indexer.found(account, "quokka") == []  # script content is not text

    [failed] = await indexer.emitted(DocumentIndexFailed, expect=1)
    assert failed.data.document_id == broken.document_id and "PDF" in failed.data.reason
    # Still findable by name, with no text.
    [hit] = await eventually(lambda: indexer.found(account, "broken"))
    assert hit["document_id"] == broken.document_id


async def test_free_account_gets_403(indexer: Harness) -> None:
    account = await indexer.sign_up("free")
    response = await indexer.search(account, "anything")
    assert response.status_code == 403
    assert response.json() == {"detail": "full-text search needs the Premium plan (this account is on Free)"}

    assert (await indexer.http.get("/search", params={"q": "x"})).status_code == 401


async def test_bad_queries_are_refused_with_a_message(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    for params in ({"q": ""}, {"q": "   "}, {"q": "x", "per_page": 0}, {"q": "x", "per_page": 101},
                   {"q": "x", "page": 0}, {}):
        response = await indexer.http.get("/search", params=params, headers={"X-Account-Id": account})
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"]


async def test_accounts_see_only_their_own_documents(indexer: Harness) -> None:
    alice = await indexer.sign_up("premium")
    bob = await indexer.sign_up("premium")
    alices = await indexer.upload(alice, b"alice keeps an aardvark in the garden")
    bobs = await indexer.upload(bob, b"bob dreams of an aardvark at night")
    await indexer.send(alices)
    await indexer.send(bobs)

    alice_hits = await eventually(lambda: indexer.found(alice, "aardvark"))
    bob_hits = await eventually(lambda: indexer.found(bob, "aardvark"))
    assert [h["document_id"] for h in alice_hits] == [alices.document_id]
    assert [h["document_id"] for h in bob_hits] == [bobs.document_id]


async def test_redelivered_upload_yields_one_document_indexed(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    upload = await indexer.upload(account, b"the only copy of the walrus report")
    record = await indexer.send(upload)
    await eventually(lambda: indexer.found(account, "walrus"))
    await indexer.resend(record)  # the same CloudEvent again
    await indexer.send(upload)  # the same upload under a new event id

    indexed = await indexer.emitted(DocumentIndexed, expect=2, timeout=6)
    assert [(e.data.document_id, e.data.version) for e in indexed] == [(upload.document_id, 1)]
    assert len(await indexer.found(account, "walrus")) == 1


async def test_newer_version_replaces_text_and_older_does_not_come_back(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    now = datetime.now(UTC)
    first = await indexer.upload(account, b"draft mentions the pelican", filename="plan.txt")
    second = await indexer.upload(account, b"final mentions the flamingo", filename="plan.txt",
                                  document_id=first.document_id)
    await indexer.send(second, time=now)
    [hit] = await eventually(lambda: indexer.found(account, "flamingo"))
    assert hit["version"] == 1
    await indexer.send(first, time=now - timedelta(minutes=1))  # an older upload, arriving late

    third = await indexer.upload(account, b"final final mentions the heron", filename="plan.txt",
                                 document_id=first.document_id)
    await indexer.send(third, time=now + timedelta(minutes=1))
    [hit] = await eventually(lambda: indexer.found(account, "heron"))
    assert hit["version"] == 2
    assert await indexer.found(account, "flamingo") == []
    assert await indexer.found(account, "pelican") == []


async def test_deleted_document_and_downgraded_account_leave_the_index(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    kept = await indexer.upload(account, b"the otter stays")
    gone = await indexer.upload(account, b"the otter leaves")
    await indexer.send(kept)
    await indexer.send(gone)
    await eventually(lambda: _count(indexer, account, "otter", 2))

    await indexer.send(FileDeleted(account_id=account, document_id=gone.document_id, versions=[1], size=16))
    await eventually(lambda: _count(indexer, account, "otter", 1))

    await indexer.change_plan(account, "premium", "free")
    assert (await indexer.search(account, "otter")).status_code == 403
    left = await indexer.app.state.search_index.search(account, "otter", page=1, per_page=10)
    assert left.found == 0


async def _count(indexer: Harness, account: str, q: str, n: int) -> bool:
    return len(await indexer.found(account, q)) == n
