"""Sharing's lists (a document's shares, shared with me, follows) page by cursor and limit, and a
cursor is only a position: another account replaying it reads its own list, never the first's."""

from __future__ import annotations

from typing import Any

import pytest

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


async def _sign_up(metadata: Harness) -> dict[str, str]:
    # Sign-up is the accounts service's (issue 36): metadata knows an account from its projection.
    return await metadata.account("pager")


async def _walk(metadata: Harness, url: str, account_id: str, limit: int) -> list[list[dict]]:
    """Every page of a list, reached through each page's `next` link (a query-only link)."""
    pages, link = [], f"?limit={limit}"
    while link:
        answer = await metadata.http.get(url + link, headers=metadata.headers(account_id))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"items", "next_cursor", "next"}
        assert (body["next"] is None) == (body["next_cursor"] is None)
        pages.append(body["items"])
        link = body["next"]
        assert len(pages) <= 10, "the pages never end: the cursor does not move"
    return pages


async def test_sharing_lists_page_by_cursor_and_cursors_are_positions_only(metadata: Harness) -> None:
    owner, grantees = await _sign_up(metadata), [await _sign_up(metadata) for _ in range(3)]
    reader, stranger = grantees[0], await _sign_up(metadata)
    documents = []
    for i in range(3):
        event = await metadata.stored(b"shared %d" % i, filename=f"s{i}.txt", account_id=owner["account_id"], put=False)
        await metadata.record(event)
        documents.append(event.document_id)
    for grantee in grantees:
        shared = await metadata.http.post(
            f"/documents/{documents[0]}/shares",
            headers=metadata.headers(owner["account_id"]),
            json={"username": grantee["username"], "permission": "view"},
        )
        assert shared.status_code == 201, shared.text
    for document_id in documents[1:]:
        shared = await metadata.http.post(
            f"/documents/{document_id}/shares",
            headers=metadata.headers(owner["account_id"]),
            json={"username": reader["username"], "permission": "view"},
        )
        assert shared.status_code == 201, shared.text
    for document_id in documents:
        followed = await metadata.http.put(
            f"/documents/{document_id}/follow", headers=metadata.headers(reader["account_id"])
        )
        assert followed.status_code == 204, followed.text

    shares = await _walk(metadata, f"/documents/{documents[0]}/shares", owner["account_id"], 2)
    assert [len(page) for page in shares] == [2, 1]
    assert sorted(s["grantee_id"] for page in shares for s in page) == sorted(g["account_id"] for g in grantees)

    shared = await _walk(metadata, "/shared", reader["account_id"], 2)
    assert [len(page) for page in shared] == [2, 1]
    assert sorted(d["document_id"] for page in shared for d in page) == sorted(documents)

    follows = await _walk(metadata, "/account/follows", reader["account_id"], 2)
    assert [len(page) for page in follows] == [2, 1]
    assert sorted(f["document_id"] for page in follows for f in page) == sorted(documents)

    # The reader's cursors, replayed by an account nothing is shared with: its own (empty) lists.
    first = (await metadata.get("/shared", reader["account_id"], limit=1)).json()
    for url in ("/shared", "/account/follows"):
        replayed = await metadata.get(url, stranger["account_id"], cursor=first["next_cursor"], limit=1)
        assert replayed.status_code == 200 and replayed.json()["items"] == [], replayed.text
    # ... and on the owner's own document, still not the owner: the shares stay hidden.
    refused = await metadata.get(
        f"/documents/{documents[0]}/shares", stranger["account_id"], cursor=first["next_cursor"]
    )
    assert refused.status_code == 404

    bad = await metadata.get("/shared", reader["account_id"], cursor="bm9wZQ")
    assert bad.status_code == 422 and bad.json()["type"] == "urn:docstore:problem:invalid-cursor"
