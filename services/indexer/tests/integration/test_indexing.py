"""The indexer against real Kafka, MongoDB, S3 and Typesense."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from docstore_devplatform.documents import make_pdf
from docstore_devplatform.testing import eventually
from docstore_events import (
    DocumentIndexed,
    DocumentIndexFailed,
    FileDeleted,
    FileDetailsChanged,
    FileRestored,
    FileTrashed,
)
from docstore_kit.pagination import offset_cursor

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


async def test_premium_text_document_becomes_findable(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    upload = await indexer.upload(
        account,
        b"Minutes of the meeting: the marmalade budget was approved.",
        filename="minutes.txt",
        tags=["meetings"],
    )
    await indexer.send(upload)

    hits = await eventually(lambda: indexer.found(account, "marmalade"))
    assert hits == [
        {
            "document_id": upload.document_id,
            "name": "minutes.txt",
            "version": 1,
            "content_type": "text/plain",
            "tags": ["meetings"],
            "path": "/",
            "created_at": hits[0]["created_at"],
            "snippet": hits[0]["snippet"],
        }
    ]
    assert "<mark>marmalade</mark>" in hits[0]["snippet"]

    [indexed] = await indexer.emitted(DocumentIndexed, expect=1)
    assert indexed.data == DocumentIndexed(
        account_id=account,
        document_id=upload.document_id,
        version=1,
        characters=len("Minutes of the meeting: the marmalade budget was approved."),
    )

    ready = await indexer.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"mongodb", "kafka", "typesense"}


async def test_pdf_and_html_are_findable_and_a_corrupt_pdf_is_reported(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    pdf = await indexer.upload(
        account, make_pdf(["Contract with Zanzibar Shipping"]), content_type="application/pdf", filename="contract.pdf"
    )
    html = await indexer.upload(
        account,
        b"<html><script>quokka()</script><p>Visit the <b>lighthouse</b></p></html>",
        content_type="text/html",
        filename="page.html",
    )
    broken = await indexer.upload(
        account, b"%PDF-1.4 not a pdf at all", content_type="application/pdf", filename="broken.pdf"
    )
    for event in (pdf, html, broken):
        await indexer.send(event)

    [hit] = await eventually(lambda: indexer.found(account, "zanzibar"))
    assert hit["document_id"] == pdf.document_id
    [hit] = await eventually(lambda: indexer.found(account, "lighthouse"))
    assert hit["document_id"] == html.document_id
    assert await indexer.found(account, "quokka") == []  # script content is not text

    [failed] = await indexer.emitted(DocumentIndexFailed, expect=1)
    assert failed.data.document_id == broken.document_id and "PDF" in failed.data.reason
    # The type filter takes a file extension as well as a MIME type, and refuses what is neither.
    for short in ("pdf", "application/pdf"):
        response = await indexer.search(account, "zanzibar", content_type=short)
        assert [h["document_id"] for h in response.json()["items"]] == [pdf.document_id], (short, response.text)
    refused = await indexer.search(account, "zanzibar", content_type="portable")
    assert refused.status_code == 422
    assert "is not a MIME type (such as application/pdf)" in refused.json()["detail"]
    # Still findable by name, with no text.
    [hit] = await eventually(lambda: indexer.found(account, "broken"))
    assert hit["document_id"] == broken.document_id


async def test_free_account_gets_403(indexer: Harness) -> None:
    account = await indexer.sign_up("free")
    response = await indexer.search(account, "anything")
    assert response.status_code == 403
    problem = response.json()  # problem+json (docstore_kit.errors): the detail clients read is unchanged
    assert problem["detail"] == "full-text search needs the Premium plan (this account is on Free)"
    assert (problem["status"], problem["type"]) == (403, "urn:docstore:problem:premium-required")
    # The plan members of every plan refusal (upload's no-room/over-quota): the web app's upgrade link.
    assert (problem["plan"], problem["upgrade_plan"], problem["upgrade_url"]) == ("free", "premium", "/v1/account/plan")
    status = await indexer.http.get("/search/status", headers=indexer.headers(account))
    assert status.status_code == 403 and status.json()["upgrade_plan"] == "premium"

    assert (await indexer.http.get("/search", params={"q": "x"})).status_code == 401


async def test_bad_queries_are_refused_with_a_message(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    for params in (
        {"q": ""},
        {"q": "   "},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "x", "cursor": "not a cursor"},
        {"q": "x", "cursor": offset_cursor(2), "limit": 3},  # a cursor counts in the limit that made it
        {},
    ):
        response = await indexer.http.get("/search", params=params, headers=indexer.headers(account))
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
    second = await indexer.upload(
        account, b"final mentions the flamingo", filename="plan.txt", document_id=first.document_id, version=2
    )
    await indexer.send(second, time=now)
    [hit] = await eventually(lambda: indexer.found(account, "flamingo"))
    assert hit["version"] == 2
    await indexer.send(first, time=now - timedelta(minutes=1))  # an older version, arriving late

    third = await indexer.upload(
        account, b"final final mentions the heron", filename="plan.txt", document_id=first.document_id, version=3
    )
    await indexer.send(third, time=now + timedelta(minutes=1))
    [hit] = await eventually(lambda: indexer.found(account, "heron"))
    assert hit["version"] == 3
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
    left = await indexer.services.search_index.search(account, "otter", page=1, per_page=10)
    assert left.found == 0


async def _count(indexer: Harness, account: str, q: str, n: int) -> bool:
    return len(await indexer.found(account, q)) == n


async def test_trash_restore_rename_and_retag_follow_the_document(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    doc = await indexer.upload(account, b"notes about the capybara enclosure", filename="zoo.txt", tags=["work"])
    # The rename is news older than nothing: it arrives before the upload and must not be lost.
    now = datetime.now(UTC)
    await indexer.send(
        FileDetailsChanged(
            account_id=account, document_id=doc.document_id, name="capy.txt", path="/animals", tags=["zoo", "mammals"]
        ),
        time=now + timedelta(seconds=5),
    )
    # The two events travel on different topics: wait until the rename is held (a catalog stub)
    # so that it really is the first to arrive.
    await eventually(lambda: indexer.catalog_has(account, doc.document_id))
    await indexer.send(doc, time=now)
    [hit] = await eventually(lambda: indexer.found(account, "capybara"))
    assert (hit["name"], hit["path"], hit["tags"]) == ("capy.txt", "/animals", ["zoo", "mammals"])

    await indexer.send(FileTrashed(account_id=account, document_id=doc.document_id), time=now + timedelta(seconds=6))
    await eventually(lambda: _count(indexer, account, "capybara", 0))
    assert await indexer.found(account, "capy") == []  # not by name either

    await indexer.send(FileRestored(account_id=account, document_id=doc.document_id), time=now + timedelta(seconds=7))
    await eventually(lambda: _count(indexer, account, "capybara", 1))

    await indexer.send(
        FileDetailsChanged(account_id=account, document_id=doc.document_id, name="rodent.txt", path="/", tags=["pets"]),
        time=now + timedelta(seconds=8),
    )

    async def renamed() -> bool:
        hits = await indexer.found(account, "capybara")
        return bool(hits) and hits[0]["name"] == "rodent.txt" and hits[0]["tags"] == ["pets"]

    await eventually(renamed)
    [hit] = await indexer.found(account, "rodent")  # found by its new name
    assert hit["document_id"] == doc.document_id


async def test_search_filters_phrases_typos_and_pages(indexer: Harness) -> None:
    account = await indexer.sign_up("premium")
    now = datetime.now(UTC)
    old = await indexer.upload(account, b"the harbour master signed the manifest", tags=["shipping", "2024"])
    new = await indexer.upload(
        account,
        b"a manifest of the harbour crane parts",
        tags=["shipping"],
        content_type="text/markdown",
        filename="crane.md",
    )
    others = [await indexer.upload(account, f"manifest number {i} for the archive".encode()) for i in range(5)]
    await indexer.send(old, time=now - timedelta(days=30))
    await indexer.send(new, time=now)
    for event in others:
        await indexer.send(event, time=now - timedelta(days=1))
    await eventually(lambda: _count_found(indexer, account, "manifest", 7))

    async def ids(q: str = "manifest", **params: object) -> list[str]:
        response = await indexer.search(account, q, **params)
        assert response.status_code == 200, response.text
        return [hit["document_id"] for hit in response.json()["items"]]

    assert await ids(q='"harbour master"') == [old.document_id]  # a phrase
    assert sorted(await ids(q="harbour")) == sorted([old.document_id, new.document_id])
    assert await ids(q="hrabour mastr") == [old.document_id]  # typos
    assert sorted(await ids(tag="shipping")) == sorted([old.document_id, new.document_id])
    assert await ids(tag=["shipping", "2024"]) == [old.document_id]
    assert await ids(content_type="text/markdown") == [new.document_id]
    since = (now - timedelta(days=2)).isoformat()
    assert len(await ids(created_from=since)) == 6
    assert await ids(created_to=(now - timedelta(days=10)).date().isoformat()) == [old.document_id]
    assert await ids(sort="newest", limit=1) == [new.document_id]

    # Walk the pages by their `next` links (relative: only a query), as a client would.
    pages, url = [], f"/search?{urlencode({'q': 'manifest', 'limit': 3})}"
    while url:
        body = (await indexer.http.get(url, headers=indexer.headers(account))).json()
        assert body["found"] == 7
        pages.append([hit["document_id"] for hit in body["items"]])
        assert (body["next"] is None) == (body["next_cursor"] is None)
        url = f"/search{body['next']}" if body["next"] else ""
    assert [len(p) for p in pages] == [3, 3, 1] and len({d for p in pages for d in p}) == 7

    bad = await indexer.search(account, "manifest", created_from="2026-02-01", created_to="2026-01-01")
    assert bad.status_code == 422


async def test_upgrade_backfills_with_progress_and_downgrade_removes(indexer: Harness) -> None:
    account = await indexer.sign_up("free")
    docs = [await indexer.upload(account, f"free era document {i} about the meerkat".encode()) for i in range(4)]
    scan = await indexer.upload(
        account, make_pdf(["meerkat invoice"]), content_type="application/pdf", filename="invoice.pdf"
    )
    for event in (*docs, scan):
        await indexer.send(event)
    await indexer.send(FileTrashed(account_id=account, document_id=docs[0].document_id))
    await indexer.send(FileDeleted(account_id=account, document_id=docs[1].document_id, versions=[1], size=1))

    async def catalogued() -> bool:
        return await indexer.services.reads.catalog.count_live(account) == 4

    await eventually(catalogued)
    assert (await indexer.search(account, "meerkat")).status_code == 403
    assert (await indexer.http.get("/search/status", headers=indexer.headers(account))).status_code == 403

    await indexer.change_plan(account, "free", "premium")

    async def status() -> dict:
        response = await indexer.http.get("/search/status", headers=indexer.headers(account))
        assert response.status_code == 200, response.text
        return response.json()

    seen = [await status()]
    while seen[-1]["state"] != "complete":
        await asyncio.sleep(0.1)
        seen.append(await status())
        assert len(seen) < 300, seen[-1]
    assert seen[-1] | {"started_at": None, "finished_at": None} == {
        "state": "complete",
        "indexed": 4,
        "failed": 0,
        "pending": 0,
        "total": 4,
        "started_at": None,
        "finished_at": None,
    }
    assert any(s["state"] == "backfilling" for s in seen)  # progress was visible on the way
    hits = await indexer.found(account, "meerkat")
    assert sorted(h["document_id"] for h in hits) == sorted(
        [docs[2].document_id, docs[3].document_id, scan.document_id]
    )  # trashed and deleted stay out
    await indexer.send(FileRestored(account_id=account, document_id=docs[0].document_id))
    await eventually(lambda: _count(indexer, account, "meerkat", 4))

    await indexer.change_plan(account, "premium", "free")
    left = await indexer.services.search_index.search(account, "meerkat", page=1, per_page=10)
    assert left.found == 0


def _encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf([text]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_status_counts_the_catalog_now_with_failures_and_their_reasons(indexer: Harness) -> None:
    """The status is the catalog's, whether or not a backfill ran, and follows later uploads."""
    account = await indexer.sign_up("free")
    good = await indexer.upload(account, b"an ordinary note about the ocelot", filename="note.txt")
    locked = await indexer.upload(
        account, _encrypted_pdf("ocelot secrets"), content_type="application/pdf", filename="locked.pdf"
    )
    whole = make_pdf(["ocelot report, page one", "page two"])
    truncated = await indexer.upload(
        account, whole[: len(whole) // 3], content_type="application/pdf", filename="truncated.pdf"
    )
    for event in (good, locked, truncated):
        await indexer.send(event)
    await eventually(lambda: _live(indexer, account, 3), timeout=90)
    await indexer.change_plan(account, "free", "premium")

    async def status() -> dict:
        response = await indexer.http.get("/search/status", headers=indexer.headers(account))
        assert response.status_code == 200, response.text
        return response.json()

    async def settled(expected: dict[str, int]) -> bool:
        now = await status()
        return {k: now[k] for k in expected} == expected

    # Generous limits: the backfill and the extractor processes share two loaded cores in CI.
    await eventually(lambda: settled({"indexed": 1, "failed": 2, "pending": 0, "total": 3}), timeout=90)
    entries = {
        d.document_id: await indexer.services.reads.catalog.get(account, d.document_id) for d in (locked, truncated)
    }
    assert entries[locked.document_id].index_reason == "encrypted PDF (needs a password)"
    assert entries[truncated.document_id].index_reason.startswith("unreadable PDF")

    # After the backfill, a new upload counts at once (pending, then indexed), not the job's numbers.
    later = await indexer.upload(account, b"a later note on the ocelot", filename="later.txt")
    await indexer.send(later)
    await eventually(lambda: settled({"indexed": 2, "failed": 2, "pending": 0, "total": 4}), timeout=90)
    # The backfill job's state follows its counts a moment later.
    await eventually(lambda: _state_is(status, "complete"), timeout=90)


async def _state_is(status, state: str) -> bool:
    return (await status())["state"] == state


async def _live(indexer: Harness, account: str, n: int) -> bool:
    return await indexer.services.reads.catalog.count_live(account) == n


async def _count_found(indexer: Harness, account: str, q: str, n: int) -> bool:
    response = await indexer.search(account, q)
    return response.status_code == 200 and response.json()["found"] == n
