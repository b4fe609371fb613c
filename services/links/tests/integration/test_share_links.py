"""Public share links against the real servers (MongoDB, Kafka topics; metadata played by the
harness's `World`): create, redeem up to the limit under concurrent redeems, passwords, expiry,
revoke, a link whose right ended gives nothing at once (and is revoked: at its use, and from the
event that ended it, once), the sweeper announces each moment exactly once, and metadata away is
503. (The signed URL's bytes and life: services/metadata/tests/integration/test_link_access.py.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from docstore_events import (
    AccountDeleted,
    FileDeleted,
    FileTrashed,
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkExpiryNeared,
    ShareLinkExtended,
    ShareLinkRevoked,
    ShareLinkUsed,
)
from docstore_events.activity import ShareRevoked
from docstore_links.domain.links import token_digest

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

PASSWORD = "blue-harbour-owl"


async def _document(links: Harness, body: bytes = b"the report's bytes", *, name: str = "report.txt") -> str:
    return links.document(name, size=len(body))


async def _create(links: Harness, document_id: str, account_id: str | None = None, **body: Any) -> httpx.Response:
    return await links.http.post(f"/documents/{document_id}/links", json=body, headers=links.headers(account_id))


async def _link(links: Harness, document_id: str, **body: Any) -> dict[str, Any]:
    answer = await _create(links, document_id, **body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _redeem(links: Harness, token: str, password: str | None = None) -> httpx.Response:
    return await links.http.post(
        "/internal/links/redeem",
        json={"token": token, "password": password},
        headers=links.service_headers("gateway"),
    )


async def _resolve(links: Harness, token: str) -> httpx.Response:
    return await links.http.post(
        "/internal/links/resolve", json={"token": token}, headers=links.service_headers("gateway")
    )


async def test_a_link_is_created_stored_as_a_digest_and_resolved(links: Harness) -> None:
    document_id = await _document(links)
    link = await _link(links, document_id, note="For the board", download_limit=5)
    token = link["token"]
    assert len(token) >= 43 and link["url"] == f"/s/{token}"
    assert link["state"] == "active" and link["protected"] is False and link["downloads"] == 0
    assert link["document_name"] == "report.txt" and link["version"] is None
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    row = await links.db["share_links"].find_one({"_id": link["id"]})
    assert row["token_digest"] == token_digest(token)
    assert token not in repr(row)

    shown = await _resolve(links, token)
    assert shown.status_code == 200, shown.text
    assert shown.json()["name"] == "report.txt" and shown.json()["note"] == "For the board"
    assert shown.json()["size"] == len(b"the report's bytes") and shown.json()["downloads"] == 0

    [created] = await links.emitted(ShareLinkCreated)
    assert (created.link_id, created.account_id, created.download_limit) == (link["id"], links.account_id, 5)
    # The token is shown once: no list or event carries it.
    listed = await links.get(f"/documents/{document_id}/links")
    assert listed.status_code == 200 and token not in listed.text
    assert [item["id"] for item in listed.json()["items"]] == [link["id"]]
    mine = await links.get("/links")
    assert [item["id"] for item in mine.json()["items"]] == [link["id"]]


async def test_bad_options_are_refused(links: Harness) -> None:
    document_id = await _document(links)
    for body in ({"expires_in_days": 91}, {"expires_in_days": 0}, {"download_limit": 0}, {"note": "x" * 501}):
        answer = await _create(links, document_id, **body)
        assert answer.status_code == 422, (body, answer.text)
    answer = await _create(links, document_id, version=9)
    assert answer.status_code == 404, answer.text
    assert (await _create(links, document_id, expires_in_days=90)).status_code == 201


async def test_a_limit_of_n_gives_exactly_n_downloads_under_concurrent_redeems(links: Harness) -> None:
    document_id = await _document(links)
    link = await _link(links, document_id, download_limit=3)
    answers = await asyncio.gather(*[_redeem(links, link["token"]) for _ in range(12)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 3 + [410] * 9, [a.text for a in answers]
    assert all(a.json()["reason"] == "exhausted" for a in answers if a.status_code == 410)
    row = await links.db["share_links"].find_one({"_id": link["id"]})
    assert (row["downloads"], row["downloads_left"]) == (3, 0)

    used = await links.emitted(ShareLinkUsed)
    assert sorted(event.downloads for event in used) == [1, 2, 3]
    assert [event.exhausted for event in sorted(used, key=lambda e: e.downloads)] == [False, False, True]
    listed = (await links.get(f"/documents/{document_id}/links")).json()["items"]
    assert listed[0]["state"] == "exhausted" and listed[0]["downloads"] == 3
    assert (await _resolve(links, link["token"])).status_code == 410


async def test_a_protected_link_wants_its_password(links: Harness) -> None:
    document_id = await _document(links)
    link = await _link(links, document_id, password=PASSWORD)
    assert link["protected"] is True
    row = await links.db["share_links"].find_one({"_id": link["id"]})
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in repr(row)

    missing = await _redeem(links, link["token"])
    assert missing.status_code == 401 and missing.json()["password_given"] is False
    wrong = await _redeem(links, link["token"], "not-the-password")
    assert wrong.status_code == 401 and wrong.json()["password_given"] is True
    assert await links.emitted(ShareLinkUsed) == []
    right = await _redeem(links, link["token"], PASSWORD)
    assert right.status_code == 200, right.text
    assert len(await links.emitted(ShareLinkUsed)) == 1
    for event in await links.emitted(ShareLinkCreated):
        assert PASSWORD not in event.model_dump_json()


async def test_expired_and_revoked_links_give_nothing(links: Harness) -> None:
    document_id = await _document(links)
    expiring = await _link(links, document_id)
    revoked = await _link(links, document_id)
    await links.db["share_links"].update_one(
        {"_id": expiring["id"]}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    gone = await _redeem(links, expiring["token"])
    assert gone.status_code == 410 and gone.json()["reason"] == "expired"

    assert (await _redeem(links, revoked["token"])).status_code == 200
    answer = await links.http.delete(f"/links/{revoked['id']}", headers=links.headers())
    assert answer.status_code == 204
    assert (await links.http.delete(f"/links/{revoked['id']}", headers=links.headers())).status_code == 204
    gone = await _redeem(links, revoked["token"])
    assert gone.status_code == 410 and gone.json()["reason"] == "revoked"
    [event] = await links.emitted(ShareLinkRevoked)
    assert (event.link_id, event.reason, event.actor_id) == (revoked["id"], "revoked", links.account_id)

    # An expired link can be brought back; a revoked one cannot.
    extended = await links.http.patch(f"/links/{expiring['id']}", json={"expires_in_days": 2}, headers=links.headers())
    assert extended.status_code == 200 and extended.json()["state"] == "active"
    assert (await _redeem(links, expiring["token"])).status_code == 200
    refused = await links.http.patch(f"/links/{revoked['id']}", json={"expires_in_days": 2}, headers=links.headers())
    assert refused.status_code == 410
    assert [e.link_id for e in await links.emitted(ShareLinkExtended)] == [expiring["id"]]
    unknown = await _redeem(links, "A" * 43)
    assert unknown.status_code == 404


async def test_the_sweeper_announces_each_moment_exactly_once(links: Harness) -> None:
    document_id = await _document(links)
    near = await _link(links, document_id)
    later = await _link(links, document_id)
    rows = links.db["share_links"]
    await rows.update_one({"_id": near["id"]}, {"$set": {"expires_at": datetime.now(UTC) + timedelta(hours=3)}})

    # Two sweepers at once (two processes): one announcement.
    await asyncio.gather(links.services.links.sweep(), links.services.links.sweep())
    await links.services.links.sweep()
    assert [e.link_id for e in await links.emitted(ShareLinkExpiryNeared)] == [near["id"]]

    # An extension out of the window reminds again when it comes near again.
    answer = await links.http.patch(f"/links/{near['id']}", json={"expires_in_days": 3}, headers=links.headers())
    assert answer.status_code == 200
    await links.services.links.sweep()
    assert len(await links.emitted(ShareLinkExpiryNeared)) == 1
    await rows.update_one({"_id": near["id"]}, {"$set": {"expires_at": datetime.now(UTC) + timedelta(hours=1)}})
    await asyncio.gather(links.services.links.sweep(), links.services.links.sweep())
    assert [e.link_id for e in await links.emitted(ShareLinkExpiryNeared)] == [near["id"], near["id"]]

    # Past its expiry: share.link-expired, once.
    await rows.update_one({"_id": near["id"]}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}})
    await asyncio.gather(links.services.links.sweep(), links.services.links.sweep())
    await links.services.links.sweep()
    [expired] = await links.emitted(ShareLinkExpired)
    assert expired.link_id == near["id"] and expired.account_id == links.account_id
    assert later["id"] not in {e.link_id for e in await links.emitted(ShareLinkExpiryNeared)}


async def test_link_lists_page_without_gaps_or_repeats(links: Harness) -> None:
    first = await _document(links)
    second = await _document(links)
    made = [(await _link(links, doc))["id"] for doc in (first, second, first, second, first)]
    other_owner = f"acc-{uuid.uuid4().hex[:12]}"
    theirs = links.document("theirs", owner_id=other_owner)
    assert (await _create(links, theirs)).status_code == 404  # not shared: no such document

    async def pages(url: str) -> list[str]:
        """Every id of the list, page by page; the pages' order newest first."""
        seen: list[str] = []
        stamps: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await links.get(url, **params)).json()
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
    stranger = await links.get("/links", account_id=other_owner)
    assert stranger.json()["items"] == []


async def test_a_link_gives_nothing_from_the_moment_its_right_ends(links: Harness) -> None:
    """Asked at each use: no event needed. The link found dead is revoked then, with the reason."""
    editor = f"acc-{uuid.uuid4().hex[:12]}"
    document_id = await _document(links)
    links.world.documents[document_id]["shares"][editor] = "edit"
    allowed = await links.http.put(
        f"/documents/{document_id}/link-policy", json={"editors_may_create_links": True}, headers=links.headers()
    )
    assert allowed.status_code == 200, allowed.text
    by_editor = await _link(links, document_id, account_id=editor)
    by_owner = await _link(links, document_id)
    assert (await _redeem(links, by_editor["token"])).status_code == 200

    links.world.documents[document_id]["shares"][editor] = "view"  # no event: the share row changed
    gone = await _redeem(links, by_editor["token"])
    assert gone.status_code == 410 and gone.json()["reason"] == "document-gone", gone.text
    assert (await _redeem(links, by_owner["token"])).status_code == 200
    links.world.documents[document_id]["trashed"] = True
    assert (await _resolve(links, by_owner["token"])).status_code == 410
    revoked = {event.link_id: event.reason for event in await links.emitted(ShareLinkRevoked)}
    assert revoked == {by_editor["id"]: "share-removed", by_owner["id"]: "document-trashed"}
    listed = {item["id"]: item["state"] for item in (await links.get("/links")).json()["items"]}
    assert listed == {by_editor["id"]: "revoked", by_owner["id"]: "revoked"}

    # The creator's account deleted (metadata's projection says so at once): nothing either.
    other = await _document(links)
    link = await _link(links, other)
    links.world.deleted.add(links.account_id)
    assert (await _redeem(links, link["token"])).status_code == 410


async def test_the_events_that_end_a_right_revoke_its_links_once(links: Harness) -> None:
    editor = f"acc-{uuid.uuid4().hex[:12]}"
    trashed, deleted, shared = [await _document(links) for _ in range(3)]
    links.world.documents[shared]["shares"][editor] = "edit"
    await links.http.put(
        f"/documents/{shared}/link-policy", json={"editors_may_create_links": True}, headers=links.headers()
    )
    a, b, c = await _link(links, trashed), await _link(links, deleted), await _link(links, shared, account_id=editor)
    d = await _link(links, shared)
    owner = links.account_id
    revocations = links.services.revocations
    trash_event = FileTrashed(account_id=owner, document_id=trashed)
    assert await revocations.apply_once("e-1", trash_event)
    assert not await revocations.apply_once("e-1", trash_event)  # applied once
    await revocations.apply_once("e-2", FileDeleted(account_id=owner, document_id=deleted, versions=[1], size=1))
    await revocations.apply_once(
        "e-3", ShareRevoked(account_id=owner, document_id=shared, grantee_id=editor, permission="edit")
    )
    revoked = {event.link_id: event.reason for event in await links.emitted(ShareLinkRevoked)}
    assert revoked == {a["id"]: "document-trashed", b["id"]: "document-deleted", c["id"]: "share-removed"}
    await revocations.apply_once("e-4", AccountDeleted(account_id=owner, username="x", home_region="us-west-2"))
    assert {e.link_id: e.reason for e in await links.emitted(ShareLinkRevoked)}[d["id"]] == "account-deleted"
    assert len(await links.emitted(ShareLinkRevoked)) == 4


async def test_metadata_away_is_503_and_refuses_nothing_for_good(links: Harness) -> None:
    document_id = await _document(links)
    link = await _link(links, document_id)
    links.world.down = True
    away = await _redeem(links, link["token"])
    assert away.status_code == 503 and away.headers.get("retry-after"), away.text
    assert (await _create(links, document_id)).status_code == 503
    links.world.down = False
    assert (await _redeem(links, link["token"])).status_code == 200
