"""Metadata against real Kafka, MongoDB (SecantusDB) and S3 (SeaweedFS)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docstore_devplatform.testing import eventually
from docstore_events import (
    DocumentIndexed,
    DocumentIndexFailed,
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileRestored,
    FileTrashed,
)

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

# Listing and search behave the same under either strategy (`adapters/keyset.py`).
both_listings = pytest.mark.parametrize("metadata", ["windowed", "keyset"], indirect=True)

LARGE_SIZE = 5 * 2**30 + 7 * 2**20
NAMES = ["delta.txt", "Alpha.txt", "charlie.pdf", "bravo.txt", "echo.csv", "foxtrot.txt", "golf.txt"]


async def _seed(metadata: Harness) -> list[str]:
    ids = []
    for i, name in enumerate(NAMES):
        event = await metadata.stored(
            b"x" * (10 * (i % 3) + i),
            filename=name,
            put=False,
            content_type="application/pdf" if name.endswith(".pdf") else "text/plain",
            tags=["even"] if i % 2 == 0 else ["odd"],
            path="/work" if i < 4 else "/",
        )
        if name == "echo.csv":  # past 4 GiB (an int64 in BSON) and S3's 5 GiB single PUT
            event = event.model_copy(update={"size": LARGE_SIZE})
        await metadata.record(event)
        ids.append(event.document_id)
    return ids


async def _all_pages(metadata: Harness, **params: object) -> list[dict]:
    items, cursor = [], None
    for _ in range(20):
        response = await metadata.get("/documents", limit=3, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 3
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("too many pages")


@both_listings
async def test_listing_sorts_pages_folders_and_trash(metadata: Harness) -> None:
    await _seed(metadata)
    newest_first = await _all_pages(metadata)
    assert [d["name"] for d in newest_first] == NAMES[::-1]
    expected = {
        ("name", "asc"): sorted(NAMES, key=str.casefold),
        ("name", "desc"): sorted(NAMES, key=str.casefold, reverse=True),
        ("created", "asc"): NAMES,
        ("modified", "asc"): NAMES,
    }
    for (sort, order), names in expected.items():
        assert [d["name"] for d in await _all_pages(metadata, sort=sort, order=order)] == names, (sort, order)
    by_size = await _all_pages(metadata, sort="size", order="asc")
    assert [(d["size"], d["document_id"]) for d in by_size] == sorted((d["size"], d["document_id"]) for d in by_size)
    assert by_size[-1]["name"] == "echo.csv" and by_size[-1]["size"] == LARGE_SIZE
    assert [d["name"] for d in await _all_pages(metadata, path="/work", sort="name")] == [
        "Alpha.txt",
        "bravo.txt",
        "charlie.pdf",
        "delta.txt",
    ]

    first = (await metadata.get("/documents", limit=2, sort="name")).json()
    wrong = await metadata.get("/documents", sort="size", cursor=first["next_cursor"])
    assert wrong.status_code == 422 and "another sort" in wrong.json()["detail"]
    garbage = await metadata.get("/documents", cursor="garbage")
    assert garbage.status_code == 422 and garbage.json()["type"] == "urn:docstore:problem:invalid-cursor"

    golf = newest_first[0]["document_id"]
    assert (await metadata.http.delete(f"/documents/{golf}", headers=metadata.headers())).status_code == 204
    assert "golf.txt" not in [d["name"] for d in await _all_pages(metadata)]
    trash = (await metadata.get("/documents", trashed="true")).json()["items"]
    assert [d["name"] for d in trash] == ["golf.txt"] and trash[0]["trashed"]

    # Another account sees nothing of these.
    assert (await metadata.get("/documents", account_id="someone-else")).json()["items"] == []
    assert (await metadata.get(f"/documents/{golf}", account_id="someone-else")).status_code == 404


@both_listings
async def test_search_is_served_from_indexes(metadata: Harness) -> None:
    await _seed(metadata)
    metadata.queries.recording = True

    async def names(**params: object) -> list[str]:
        response = await metadata.get("/documents/search", **params)
        assert response.status_code == 200, response.text
        return sorted(d["name"] for d in response.json()["items"])

    assert await names(name="AL") == ["Alpha.txt"]
    assert await names(name="ta.t", name_match="substring") == ["delta.txt"]
    assert await names(name=".txt", name_match="substring", tags="even") == ["delta.txt", "golf.txt"]
    assert await names(tags="odd,even") == []
    assert await names(content_type="application/pdf") == ["charlie.pdf"]
    now = datetime.now(UTC)
    assert len(await names(modified_from=(now - timedelta(minutes=5)).isoformat())) == len(NAMES)
    assert await names(created_to=(now - timedelta(minutes=5)).isoformat()) == []
    assert (await metadata.get("/documents/search")).status_code == 422
    assert (await metadata.get("/documents/search", name="ab", name_match="substring")).status_code == 422

    # Paging through a search with a tiny limit visits every match once.
    seen, cursor = [], None
    while True:
        body = (
            await metadata.get(
                "/documents/search",
                name=".txt",
                name_match="substring",
                limit=2,
                **({"cursor": cursor} if cursor else {}),
            )
        ).json()
        seen += [d["name"] for d in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(n for n in NAMES if n.endswith(".txt"))

    # Every query the searches and listings sent is an index scan, never a collection scan.
    await metadata.get("/documents", sort="size")
    await metadata.get("/documents", sort="name", path="/work")
    metadata.queries.recording = False
    assert metadata.queries.seen
    plans = set()
    for query, sort in metadata.queries.seen:
        explained = await metadata.db["documents"].find(query).sort(list(sort.items())).limit(10).explain()
        plan = explained["queryPlanner"]["winningPlan"]
        stages = []
        while plan:
            stages.append(plan["stage"])
            plan = plan.get("inputStage")
        assert "COLLSCAN" not in stages and "IXSCAN" in stages, (query, explained["queryPlanner"]["winningPlan"])
        plans.add(tuple(stages))


async def test_details_change_emits_and_validates(metadata: Harness) -> None:
    event = await metadata.stored(b"hello", filename="draft.txt", put=False)
    await metadata.record(event)
    doc_id = event.document_id
    response = await metadata.http.patch(
        f"/documents/{doc_id}",
        headers=metadata.headers(),
        json={"name": "Final.txt", "tags": ["b", "a", "a"], "path": "/done/"},
    )
    assert response.status_code == 200, response.text
    assert response.json().items() >= {"name": "Final.txt", "tags": ["a", "b"], "path": "/done"}.items()
    [changed] = await metadata.emitted(FileDetailsChanged)
    assert changed.name == "Final.txt" and changed.path == "/done" and changed.tags == ["a", "b"]
    for bad in ({"name": "a/b"}, {"path": "/../x"}, {"tags": [""]}):
        assert (
            await metadata.http.patch(f"/documents/{doc_id}", headers=metadata.headers(), json=bad)
        ).status_code == 422
    assert (
        await metadata.http.patch(f"/documents/{doc_id}", headers=metadata.headers("other"), json={"name": "x"})
    ).status_code == 404
    assert [d["name"] for d in (await metadata.get("/documents/search", name="fin")).json()["items"]] == ["Final.txt"]
    kinds = [c["kind"] for c in (await metadata.get("/changes")).json()["items"]]
    assert kinds == ["created", "renamed", "moved", "tagged"]


async def test_versions_conflict_copy_restore_and_retention(metadata: Harness) -> None:
    v1 = await metadata.stored(b"one", filename="report.pdf", content_type="application/pdf", path="/r")
    await metadata.send(v1)  # through Kafka, as upload emits it
    doc_id = v1.document_id
    await eventually(lambda: metadata.services.reads.documents.get(doc_id))

    v2 = await metadata.stored(b"two!", document_id=doc_id, base_version=1, filename="report.pdf")
    stale = await metadata.stored(b"mine", document_id=doc_id, base_version=1, filename="report.pdf")
    await metadata.send(v2)
    await eventually(lambda: _current_is(metadata, doc_id, 2))
    await metadata.send(stale)

    async def conflict_entry() -> dict | None:
        changes = (await metadata.get("/changes")).json()["items"]
        return next((c for c in changes if c["kind"] == "conflict"), None)

    entry = await eventually(conflict_entry)
    assert entry["conflict_of"] == doc_id and entry["path"] == "/r"
    assert entry["name"].startswith("report (conflict copy ") and entry["name"].endswith(").pdf")
    copy = (await metadata.get(f"/documents/{entry['document_id']}")).json()
    assert copy["version"] == 1 and copy["size"] == 4 and copy["sha256"] == stale.sha256
    assert (await metadata.get(f"/documents/{doc_id}")).json()["version"] == 2  # first write won

    # Restore v1: a new version, same object, no new bytes.
    restored = await metadata.http.post(f"/documents/{doc_id}/versions/1/restore", headers=metadata.headers())
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3 and restored.json()["sha256"] == v1.sha256
    versions = (await metadata.get(f"/documents/{doc_id}/versions")).json()
    assert versions["next_cursor"] is None and versions["next"] is None
    assert [(v["version"], v["restored_from"]) for v in versions["items"]] == [(3, 1), (2, None), (1, None)]
    first = (await metadata.get(f"/documents/{doc_id}/versions", limit=2)).json()
    assert [v["version"] for v in first["items"]] == [3, 2] and first["next"].startswith("?")
    rest = (await metadata.http.get(f"/documents/{doc_id}/versions{first['next']}", headers=metadata.headers())).json()
    assert [v["version"] for v in rest["items"]] == [1] and rest["next_cursor"] is None
    assert (
        await metadata.http.post(f"/documents/{doc_id}/versions/9/restore", headers=metadata.headers())
    ).status_code == 404

    # Cap 3 (free, in this harness): v4 prunes v1, whose object v3 still uses, so no bytes leave.
    v4 = await metadata.stored(b"four", document_id=doc_id, base_version=3, filename="report.pdf")
    await metadata.record(v4)
    v5 = await metadata.stored(b"fives", document_id=doc_id, base_version=4, filename="report.pdf")
    await metadata.record(v5)  # prunes v2 -> its object leaves S3
    versions = [v["version"] for v in (await metadata.get(f"/documents/{doc_id}/versions")).json()["items"]]
    assert versions == [5, 4, 3]
    deleted = await metadata.emitted(FileDeleted)
    assert [(d.versions, d.size, d.whole_document) for d in deleted] == [([1], 0, False), ([2], 4, False)]
    await eventually(lambda: _gone(metadata, v2.key))
    assert metadata.exists(v1.key)  # still v3's bytes
    download = (await metadata.get(f"/documents/{doc_id}/download", version=3)).json()
    assert v1.key.split("/")[-1] in download["url"]
    modified = await metadata.emitted(FileModified)
    assert [m.version for m in modified] == [2, 3, 4, 5]


async def _current_is(metadata: Harness, doc_id: str, version: int) -> bool:
    doc = await metadata.services.reads.documents.get(doc_id)
    return bool(doc and doc["current_version"] == version)


async def _gone(metadata: Harness, key: str) -> bool:
    return not await asyncio.to_thread(metadata.exists, key)


async def test_trash_restore_and_purge_once_across_replicas(metadata: Harness) -> None:
    first = await metadata.stored(b"abc", filename="a.txt")
    await metadata.record(first)
    second = await metadata.stored(b"abcd", document_id=first.document_id, base_version=1, filename="a.txt")
    await metadata.record(second)
    doc_id = first.document_id
    headers = metadata.headers()

    assert (await metadata.http.post(f"/documents/{doc_id}/restore", headers=headers)).status_code == 409
    assert (await metadata.http.delete(f"/documents/{doc_id}", headers=headers)).status_code == 204
    assert (
        await metadata.http.patch(f"/documents/{doc_id}", headers=headers, json={"name": "b.txt"})
    ).status_code == 409
    assert (await metadata.http.post(f"/documents/{doc_id}/restore", headers=headers)).status_code == 200
    assert (await metadata.http.delete(f"/documents/{doc_id}", headers=headers)).status_code == 204
    assert [type(e).__name__ for e in await metadata.emitted(FileTrashed)] == ["FileTrashed", "FileTrashed"]
    assert len(await metadata.emitted(FileRestored)) == 1

    # 31 days later: too late to restore; two replicas race to purge it, exactly one does.
    await metadata.db["documents"].update_one(
        {"_id": doc_id}, {"$set": {"trashed_at": datetime.now(UTC) - timedelta(days=31)}}
    )
    assert (await metadata.http.post(f"/documents/{doc_id}/restore", headers=headers)).status_code == 410
    purged = await asyncio.gather(*(metadata.services.documents.purge_expired(f"replica-{i}") for i in range(2)))
    assert sorted(purged) == [0, 1]
    [deleted] = await metadata.emitted(FileDeleted)
    assert deleted.whole_document and deleted.versions == [1, 2] and deleted.size == 7
    await eventually(lambda: _gone(metadata, first.key))
    await eventually(lambda: _gone(metadata, second.key))
    assert (await metadata.get(f"/documents/{doc_id}")).status_code == 404

    # Purge now, from the trash.
    third = await metadata.stored(b"zz", filename="c.txt")
    await metadata.record(third)
    await metadata.http.delete(f"/documents/{third.document_id}", headers=headers)
    gone = await metadata.http.delete(f"/documents/{third.document_id}", params={"permanent": "true"}, headers=headers)
    assert gone.status_code == 204
    assert (await metadata.get(f"/documents/{third.document_id}")).status_code == 404
    kinds = [c["kind"] for c in (await metadata.get("/changes")).json()["items"]]
    assert kinds == [
        "created",
        "modified",
        "trashed",
        "restored",
        "trashed",
        "deleted",
        "created",
        "trashed",
        "deleted",
    ]


async def test_change_feed_long_poll_compare_and_internal_query(metadata: Harness) -> None:
    event = await metadata.stored(b"data", filename="sync.txt", path="/s", put=False)
    await metadata.record(event)
    body = (await metadata.get("/changes")).json()
    [created] = body["items"]
    assert (
        created.items()
        >= {"seq": 1, "kind": "created", "path": "/s", "name": "sync.txt", "version": 1, "sha256": event.sha256}.items()
    )
    cursor = body["next_cursor"]

    started = asyncio.get_running_loop().time()
    waiting = asyncio.create_task(metadata.get("/changes", cursor=cursor, wait=10))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await metadata.http.patch(f"/documents/{event.document_id}", headers=metadata.headers(), json={"path": "/t"})
    answer = (await waiting).json()
    assert asyncio.get_running_loop().time() - started < 5
    assert [(c["seq"], c["kind"], c["path"]) for c in answer["items"]] == [(2, "moved", "/t")]
    empty = (await metadata.get("/changes", cursor=answer["next_cursor"], wait=0.3)).json()
    # A feed has no last page: the cursor stays where it was, to poll from again.
    assert empty["items"] == [] and empty["next_cursor"] == answer["next_cursor"]
    assert (await metadata.get("/changes", cursor="bm9wZQ")).status_code == 422

    other = await metadata.stored(b"other", filename="other.txt", put=False)
    await metadata.record(other)
    compared = await metadata.http.post(
        "/sync/compare",
        headers=metadata.headers(),
        json={
            "files": [
                {"path": "/t/sync.txt", "sha256": event.sha256},
                {"path": "/other.txt", "sha256": "0" * 64},
                {"path": "/new.txt", "sha256": "1" * 64},
            ]
        },
    )
    assert compared.status_code == 200, compared.text
    assert [f["status"] for f in compared.json()["files"]] == ["same", "server_newer", "unknown_on_server"]
    assert compared.json()["only_on_server"] == []
    too_many = await metadata.http.post(
        "/sync/compare", headers=metadata.headers(), json={"files": [{"path": "/x", "sha256": "s"}] * 5001}
    )
    assert too_many.status_code in (413, 422)

    internal_path = f"/internal/accounts/{metadata.account_id}/documents/{event.document_id}"
    assert (await metadata.http.get(internal_path)).status_code == 401
    assert (await metadata.http.get(internal_path, headers=metadata.headers())).status_code == 403  # a person
    internal = await metadata.http.get(internal_path, headers=metadata.service_headers())
    assert internal.json() == {
        "document_id": event.document_id,
        "owner_id": metadata.account_id,
        "access": "owner",
        "current_version": 1,
        "name": "sync.txt",
        "content_type": "text/plain",
        "path": "/t",
        "trashed": False,
        # The current version's object, for upload's delta grants.
        "current_bucket": event.bucket,
        "current_key": event.key,
        "current_size": event.size,
        "current_sha256": event.sha256,
    }
    assert (
        await metadata.http.get(
            f"/internal/accounts/other/documents/{event.document_id}", headers=metadata.service_headers()
        )
    ).status_code == 404

    # Dedupe: the account's own bytes by sha256, found for it and for no other account.
    own = f"/internal/accounts/{metadata.account_id}/bytes/{event.sha256}"
    assert (await metadata.http.get(own, headers=metadata.headers())).status_code == 403  # a person
    found = await metadata.http.get(own, headers=metadata.service_headers())
    assert found.status_code == 200, found.text
    assert found.json() == {
        "document_id": event.document_id,
        "version": 1,
        "bucket": event.bucket,
        "key": event.key,
        "size": event.size,
        "sha256": event.sha256,
    }
    other = f"/internal/accounts/acc-someone-else/bytes/{event.sha256}"
    assert (await metadata.http.get(other, headers=metadata.service_headers())).status_code == 404
    bad = f"/internal/accounts/{metadata.account_id}/bytes/NOT-A-HASH"
    assert (await metadata.http.get(bad, headers=metadata.service_headers())).status_code == 422


async def test_a_batch_of_uploads_is_recorded_with_its_new_documents_written_together(metadata: Harness) -> None:
    """The consumer's batch (`record_uploads_once`) on the real database: its new documents are
    written together (`insert_new`, `add_changes`: the unit tests count the round trips), a
    version of one of them in the same batch still follows it, and the change feed's seqs go on
    from the account's counter, in the events' order."""
    first = await metadata.stored(b"before", filename="before.txt", put=False)
    await metadata.record(first)  # seq 1, through the single path
    new = [await metadata.stored(f"n{n}".encode(), filename=f"n{n:02d}.txt", put=False) for n in range(30)]
    again = await metadata.stored(b"n0 again", document_id=new[0].document_id, base_version=1, put=False)
    batch = [*new[:20], again, *new[20:]]
    recorded = await metadata.services.documents.record_uploads_once([(f"e{n}", e) for n, e in enumerate(batch)])
    assert len(recorded) == len(batch)
    items = (await metadata.get("/changes", limit=100)).json()["items"]
    assert [(c["seq"], c["kind"], c["document_id"]) for c in items] == [
        (1, "created", first.document_id),
        *[(n + 2, "created", e.document_id) for n, e in enumerate(new[:20])],
        (22, "modified", new[0].document_id),
        *[(n + 23, "created", e.document_id) for n, e in enumerate(new[20:])],
    ]
    doc = (await metadata.get(f"/documents/{new[0].document_id}")).json()
    assert doc["version"] == 2 and doc["sha256"] == again.sha256
    assert (await metadata.get(f"/documents/{new[29].document_id}")).json()["version"] == 1
    assert not await metadata.services.documents.record_uploads_once([("e0", new[0])])  # once each


async def test_a_batch_of_index_outcomes_is_written_on_the_real_database(metadata: Harness) -> None:
    """`record_index_outcomes_once` for several documents at once (one bulk write): each keeps its
    latest version's outcome, a late older one in the same batch changes nothing."""
    events = [await metadata.stored(f"doc {n}".encode(), filename=f"d{n}.txt", put=False) for n in range(3)]
    for event in events:
        await metadata.record(event)
    first = events[0].document_id
    account = metadata.account_id
    outcomes = [
        ("i0", DocumentIndexFailed(account_id=account, document_id=first, version=1, reason="encrypted PDF")),
        ("i1", DocumentIndexed(account_id=account, document_id=events[1].document_id, version=1, characters=3)),
        ("i2", DocumentIndexed(account_id=account, document_id=events[2].document_id, version=0, characters=3)),
        ("i3", DocumentIndexed(account_id=account, document_id=events[2].document_id, version=1, characters=3)),
    ]
    assert len(await metadata.services.documents.record_index_outcomes_once(outcomes)) == 4
    rows = {row["_id"]: row async for row in metadata.db["documents"].find({"account_id": account})}
    assert rows[first]["full_text"] == {"version": 1, "state": "failed", "reason": "encrypted PDF"}
    assert rows[events[1].document_id]["full_text"]["state"] == "indexed"
    assert rows[events[2].document_id]["full_text"] == {"version": 1, "state": "indexed", "reason": None}


async def test_one_live_document_per_name_in_a_folder_on_the_real_database(metadata: Harness) -> None:
    """Issue 34: a rename onto a live document's name is 409; upload's question answers the taken
    places; a new document recorded under a taken name gets a conflict-copy name."""
    first = await metadata.stored(b"one", filename="r\u00e9sum\u00e9.txt", put=False, path="/cv")
    other = await metadata.stored(b"two", filename="other.txt", put=False, path="/cv")
    for event in (first, other):
        await metadata.record(event)
    response = await metadata.http.patch(
        f"/documents/{other.document_id}", headers=metadata.headers(), json={"name": "re\u0301sume\u0301.txt"}
    )
    assert response.status_code == 409 and "already a document called" in response.text, response.text
    asked = await metadata.http.post(
        f"/internal/accounts/{metadata.account_id}/names/taken",
        headers=metadata.service_headers(),
        json={
            "places": [
                {"path": "/cv", "name": "r\u00e9sum\u00e9.txt"},
                {"path": "/cv", "name": "other.txt"},
                {"path": "/cv", "name": "free.txt"},
                # The same key (case-folded) is another name; the same name elsewhere is another place.
                {"path": "/cv", "name": "R\u00e9sum\u00e9.txt"},
                {"path": "/", "name": "r\u00e9sum\u00e9.txt"},
            ]
        },
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["taken"] == [
        {"path": "/cv", "name": "other.txt", "document_id": other.document_id},
        {"path": "/cv", "name": "r\u00e9sum\u00e9.txt", "document_id": first.document_id},
    ]
    raced = await metadata.stored(b"three", filename="r\u00e9sum\u00e9.txt", put=False, path="/cv")
    await metadata.record(raced)
    names = sorted(d["name"] for d in (await metadata.get("/documents", path="/cv")).json()["items"])
    assert len(names) == 3 and "r\u00e9sum\u00e9.txt" in names
    assert any(n.startswith("r\u00e9sum\u00e9 (conflict copy ") and raced.document_id[:6] in n for n in names), names
