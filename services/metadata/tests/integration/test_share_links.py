"""Public share links against the real servers (MongoDB, Kafka topics, S3): create, redeem up to
the limit under concurrent redeems, passwords, expiry, revoke, trash and delete kill links, the
sweeper announces each moment exactly once, and the signed URL gives the right bytes and expires."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from docstore_events import (
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkExpiryNeared,
    ShareLinkExtended,
    ShareLinkRevoked,
    ShareLinkUsed,
)
from docstore_metadata.domain.links import token_digest

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

PASSWORD = "blue-harbour-owl"


async def _document(metadata: Harness, body: bytes = b"the report's bytes", *, name: str = "report.txt") -> str:
    event = await metadata.stored(body, filename=name)
    await metadata.record(event)
    return event.document_id


async def _create(metadata: Harness, document_id: str, account_id: str | None = None, **body: Any) -> httpx.Response:
    return await metadata.http.post(f"/documents/{document_id}/links", json=body, headers=metadata.headers(account_id))


async def _link(metadata: Harness, document_id: str, **body: Any) -> dict[str, Any]:
    answer = await _create(metadata, document_id, **body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _redeem(metadata: Harness, token: str, password: str | None = None) -> httpx.Response:
    return await metadata.http.post(
        "/internal/links/redeem",
        json={"token": token, "password": password},
        headers=metadata.service_headers("gateway"),
    )


async def _resolve(metadata: Harness, token: str) -> httpx.Response:
    return await metadata.http.post(
        "/internal/links/resolve", json={"token": token}, headers=metadata.service_headers("gateway")
    )


async def test_a_link_is_created_stored_as_a_digest_and_resolved(metadata: Harness) -> None:
    document_id = await _document(metadata)
    link = await _link(metadata, document_id, note="For the board", download_limit=5)
    token = link["token"]
    assert len(token) >= 43 and link["url"] == f"/s/{token}"
    assert link["state"] == "active" and link["protected"] is False and link["downloads"] == 0
    assert link["document_name"] == "report.txt" and link["version"] is None
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    row = await metadata.db["share_links"].find_one({"_id": link["id"]})
    assert row["token_digest"] == token_digest(token)
    assert token not in repr(row)

    shown = await _resolve(metadata, token)
    assert shown.status_code == 200, shown.text
    assert shown.json()["name"] == "report.txt" and shown.json()["note"] == "For the board"
    assert shown.json()["size"] == len(b"the report's bytes") and shown.json()["downloads"] == 0

    [created] = await metadata.emitted(ShareLinkCreated)
    assert (created.link_id, created.account_id, created.download_limit) == (link["id"], metadata.account_id, 5)
    # The token is shown once: no list or event carries it.
    listed = await metadata.get(f"/documents/{document_id}/links")
    assert listed.status_code == 200 and token not in listed.text
    assert [item["id"] for item in listed.json()["items"]] == [link["id"]]
    mine = await metadata.get("/links")
    assert [item["id"] for item in mine.json()["items"]] == [link["id"]]


async def test_bad_options_are_refused(metadata: Harness) -> None:
    document_id = await _document(metadata)
    for body in ({"expires_in_days": 91}, {"expires_in_days": 0}, {"download_limit": 0}, {"note": "x" * 501}):
        answer = await _create(metadata, document_id, **body)
        assert answer.status_code == 422, (body, answer.text)
    answer = await _create(metadata, document_id, version=9)
    assert answer.status_code == 404, answer.text
    assert (await _create(metadata, document_id, expires_in_days=90)).status_code == 201


async def test_the_signed_url_gives_the_right_bytes_as_an_attachment(metadata: Harness) -> None:
    body = b"%PDF-1.4 exactly these bytes " + uuid.uuid4().bytes
    document_id = await _document(metadata, body, name="Q3 report.pdf")
    link = await _link(metadata, document_id)
    answer = await _redeem(metadata, link["token"])
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    query = parse_qs(urlparse(url).query)
    assert int(query["X-Amz-Expires"][0]) <= 60
    async with httpx.AsyncClient() as plain:
        got = await plain.get(url)
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "Q3%20report.pdf" in got.headers["content-disposition"]


async def test_a_version_link_keeps_giving_its_version(metadata: Harness) -> None:
    first = await metadata.stored(b"version one")
    await metadata.record(first)
    link = await _link(metadata, first.document_id, version=1)
    await metadata.record(await metadata.stored(b"version two", document_id=first.document_id))
    answer = await _redeem(metadata, link["token"])
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(answer.json()["url"])).content == b"version one"
    latest = await _link(metadata, first.document_id)
    answer = await _redeem(metadata, latest["token"])
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(answer.json()["url"])).content == b"version two"


async def test_a_limit_of_n_gives_exactly_n_downloads_under_concurrent_redeems(metadata: Harness) -> None:
    document_id = await _document(metadata)
    link = await _link(metadata, document_id, download_limit=3)
    answers = await asyncio.gather(*[_redeem(metadata, link["token"]) for _ in range(12)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 3 + [410] * 9, [a.text for a in answers]
    assert all(a.json()["reason"] == "exhausted" for a in answers if a.status_code == 410)
    row = await metadata.db["share_links"].find_one({"_id": link["id"]})
    assert (row["downloads"], row["downloads_left"]) == (3, 0)

    used = await metadata.emitted(ShareLinkUsed)
    assert sorted(event.downloads for event in used) == [1, 2, 3]
    assert [event.exhausted for event in sorted(used, key=lambda e: e.downloads)] == [False, False, True]
    listed = (await metadata.get(f"/documents/{document_id}/links")).json()["items"]
    assert listed[0]["state"] == "exhausted" and listed[0]["downloads"] == 3
    assert (await _resolve(metadata, link["token"])).status_code == 410


async def test_a_protected_link_wants_its_password(metadata: Harness) -> None:
    document_id = await _document(metadata)
    link = await _link(metadata, document_id, password=PASSWORD)
    assert link["protected"] is True
    row = await metadata.db["share_links"].find_one({"_id": link["id"]})
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in repr(row)

    missing = await _redeem(metadata, link["token"])
    assert missing.status_code == 401 and missing.json()["password_given"] is False
    wrong = await _redeem(metadata, link["token"], "not-the-password")
    assert wrong.status_code == 401 and wrong.json()["password_given"] is True
    assert await metadata.emitted(ShareLinkUsed) == []
    right = await _redeem(metadata, link["token"], PASSWORD)
    assert right.status_code == 200, right.text
    assert len(await metadata.emitted(ShareLinkUsed)) == 1
    for event in await metadata.emitted(ShareLinkCreated):
        assert PASSWORD not in event.model_dump_json()


async def test_expired_and_revoked_links_give_nothing(metadata: Harness) -> None:
    document_id = await _document(metadata)
    expiring = await _link(metadata, document_id)
    revoked = await _link(metadata, document_id)
    await metadata.db["share_links"].update_one(
        {"_id": expiring["id"]}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    gone = await _redeem(metadata, expiring["token"])
    assert gone.status_code == 410 and gone.json()["reason"] == "expired"

    assert (await _redeem(metadata, revoked["token"])).status_code == 200
    answer = await metadata.http.delete(f"/links/{revoked['id']}", headers=metadata.headers())
    assert answer.status_code == 204
    assert (await metadata.http.delete(f"/links/{revoked['id']}", headers=metadata.headers())).status_code == 204
    gone = await _redeem(metadata, revoked["token"])
    assert gone.status_code == 410 and gone.json()["reason"] == "revoked"
    [event] = await metadata.emitted(ShareLinkRevoked)
    assert (event.link_id, event.reason, event.actor_id) == (revoked["id"], "revoked", metadata.account_id)

    # An expired link can be brought back; a revoked one cannot.
    extended = await metadata.http.patch(
        f"/links/{expiring['id']}", json={"expires_in_days": 2}, headers=metadata.headers()
    )
    assert extended.status_code == 200 and extended.json()["state"] == "active"
    assert (await _redeem(metadata, expiring["token"])).status_code == 200
    refused = await metadata.http.patch(
        f"/links/{revoked['id']}", json={"expires_in_days": 2}, headers=metadata.headers()
    )
    assert refused.status_code == 410
    assert [e.link_id for e in await metadata.emitted(ShareLinkExtended)] == [expiring["id"]]
    unknown = await _redeem(metadata, "A" * 43)
    assert unknown.status_code == 404


async def test_trashing_or_deleting_a_document_kills_its_links(metadata: Harness) -> None:
    trashed_doc = await _document(metadata)
    deleted_doc = await _document(metadata)
    a = await _link(metadata, trashed_doc)
    b = await _link(metadata, trashed_doc, download_limit=1)
    c = await _link(metadata, deleted_doc)
    assert (await metadata.http.delete(f"/documents/{trashed_doc}", headers=metadata.headers())).status_code == 204
    answer = await metadata.http.delete(f"/documents/{deleted_doc}?permanent=true", headers=metadata.headers())
    assert answer.status_code == 204
    for link in (a, b, c):
        gone = await _redeem(metadata, link["token"])
        assert gone.status_code == 410 and gone.json()["reason"] == "revoked", gone.text
    revoked = {event.link_id: event.reason for event in await metadata.emitted(ShareLinkRevoked)}
    assert revoked == {a["id"]: "document-trashed", b["id"]: "document-trashed", c["id"]: "document-deleted"}
    # Restoring the document does not bring its links back.
    assert (
        await metadata.http.post(f"/documents/{trashed_doc}/restore", headers=metadata.headers())
    ).status_code == 200
    assert (await _redeem(metadata, a["token"])).status_code == 410


async def test_the_sweeper_announces_each_moment_exactly_once(metadata: Harness) -> None:
    document_id = await _document(metadata)
    near = await _link(metadata, document_id)
    later = await _link(metadata, document_id)
    links = metadata.db["share_links"]
    await links.update_one({"_id": near["id"]}, {"$set": {"expires_at": datetime.now(UTC) + timedelta(hours=3)}})

    # Two sweepers at once (two processes): one announcement.
    await asyncio.gather(metadata.services.links.sweep(), metadata.services.links.sweep())
    await metadata.services.links.sweep()
    assert [e.link_id for e in await metadata.emitted(ShareLinkExpiryNeared)] == [near["id"]]

    # An extension out of the window reminds again when it comes near again.
    answer = await metadata.http.patch(f"/links/{near['id']}", json={"expires_in_days": 3}, headers=metadata.headers())
    assert answer.status_code == 200
    await metadata.services.links.sweep()
    assert len(await metadata.emitted(ShareLinkExpiryNeared)) == 1
    await links.update_one({"_id": near["id"]}, {"$set": {"expires_at": datetime.now(UTC) + timedelta(hours=1)}})
    await asyncio.gather(metadata.services.links.sweep(), metadata.services.links.sweep())
    assert [e.link_id for e in await metadata.emitted(ShareLinkExpiryNeared)] == [near["id"], near["id"]]

    # Past its expiry: share.link-expired, once.
    await links.update_one({"_id": near["id"]}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}})
    await asyncio.gather(metadata.services.links.sweep(), metadata.services.links.sweep())
    await metadata.services.links.sweep()
    [expired] = await metadata.emitted(ShareLinkExpired)
    assert expired.link_id == near["id"] and expired.account_id == metadata.account_id
    assert later["id"] not in {e.link_id for e in await metadata.emitted(ShareLinkExpiryNeared)}


async def test_the_signed_url_expires(metadata: Harness) -> None:
    document_id = await _document(metadata, b"short-lived")
    link = await _link(metadata, document_id)
    metadata.services.links.signed_url_seconds = 1  # the same signing, a shorter life
    answer = await _redeem(metadata, link["token"])
    url = answer.json()["url"]
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as plain:
        while True:
            got = await plain.get(url)
            if got.status_code == 403:
                break
            assert got.status_code == 200 and got.content == b"short-lived"
            assert time.monotonic() < deadline, "the signed URL kept working"
            await asyncio.sleep(0.5)


async def test_link_lists_page_without_gaps_or_repeats(metadata: Harness) -> None:
    first = await _document(metadata)
    second = await _document(metadata)
    made = [(await _link(metadata, doc))["id"] for doc in (first, second, first, second, first)]
    other_owner = f"acc-{uuid.uuid4().hex[:12]}"
    theirs = await metadata.stored(b"theirs", account_id=other_owner)
    await metadata.record(theirs)
    assert (await _create(metadata, theirs.document_id)).status_code == 404  # not shared: no such document

    async def pages(url: str) -> list[str]:
        """Every id of the list, page by page; the pages' order newest first."""
        seen: list[str] = []
        stamps: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await metadata.get(url, **params)).json()
            seen += [item["id"] for item in page["items"]]
            stamps += [item["created_at"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                assert [datetime.fromisoformat(t) for t in stamps] == sorted(
                    (datetime.fromisoformat(t) for t in stamps), reverse=True
                )
                return seen
            assert page["next"].startswith("?")

    # Links made in the same millisecond may come in either order: compare as sets, with no repeat.
    listed = await pages("/links")
    assert len(listed) == len(made) and set(listed) == set(made)
    of_first = await pages(f"/documents/{first}/links")
    assert len(of_first) == 3 and set(of_first) == {made[0], made[2], made[4]}
    stranger = await metadata.get("/links", account_id=other_owner)
    assert stranger.json()["items"] == []
