"""Public share links under attack: another account cannot see, revoke, extend or create links on
my documents; a link's token appears in no log line, span or event; wrong passwords are throttled
per link and address; a revoked link's signed URL cannot be had again; guessed tokens are 404."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_devplatform.e2e import REGION_A, System, User, sample_request, sign_up, upload
from docstore_devplatform.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LINK_PASSWORD = "tidal-orchard-fox-17"


async def verified(api: httpx.AsyncClient, endpoints: Any) -> User:
    """A new account whose e-mail address counts as verified (sharing and links need one). The
    address is marked verified in the accounts service's database: these tests are about links, not mail."""
    user = await sign_up(api)
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url)
    try:
        accounts = client[f"docstore_accounts_{REGION_A.replace('-', '_')}"]["accounts"]
        await accounts.update_one({"_id": user.account_id}, {"$set": {"email_verified": True}})
    finally:
        await client.close()
    return user


async def _owned_document(
    api: httpx.AsyncClient, endpoints: Any, name: str = "linked.txt", body: bytes = b"linked bytes"
) -> Any:
    owner = await verified(api, endpoints)
    done = await upload(api, owner, name, body)
    document_id = done["document_id"]

    async def visible() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(visible)
    return owner, document_id


async def _create(api: httpx.AsyncClient, user: Any, document_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/v1/documents/{document_id}/links", headers=user.auth, json=body)


async def test_another_account_cannot_touch_my_links(api: httpx.AsyncClient, endpoints: Any) -> None:
    owner, document_id = await _owned_document(api, endpoints)
    # All three verified, so only the rules about links can refuse them.
    stranger, editor, viewer = [await verified(api, endpoints) for _ in range(3)]
    created = await _create(api, owner, document_id)
    assert created.status_code == 201, created.text
    link = created.json()

    # A stranger: the document and the link do not exist for them.
    assert (await _create(api, stranger, document_id)).status_code == 404
    assert (await api.get(f"/v1/documents/{document_id}/links", headers=stranger.auth)).status_code == 404
    assert (await api.delete(f"/v1/links/{link['id']}", headers=stranger.auth)).status_code == 404
    extended = await api.patch(f"/v1/links/{link['id']}", headers=stranger.auth, json={"expires_in_days": 90})
    assert extended.status_code == 404
    mine = await api.get("/v1/links", headers=stranger.auth)
    assert mine.status_code == 200 and mine.json()["items"] == []
    policy = await api.put(
        f"/v1/documents/{document_id}/link-policy", headers=stranger.auth, json={"editors_may_create_links": True}
    )
    assert policy.status_code == 404
    assert (await api.get(f"/v1/documents/{document_id}/link-policy", headers=stranger.auth)).status_code == 404

    # Accounts it is shared with: a viewer never creates links; an editor only once the owner allows.
    for user, permission in ((editor, "edit"), (viewer, "view")):
        shared = await api.post(
            f"/v1/documents/{document_id}/shares",
            headers=owner.auth,
            json={"username": user.username, "permission": permission},
        )
        assert shared.status_code == 201, shared.text
    assert (await _create(api, editor, document_id)).status_code == 403
    assert (await _create(api, viewer, document_id)).status_code == 403
    assert (await api.get(f"/v1/documents/{document_id}/links", headers=viewer.auth)).status_code == 403
    assert (await api.delete(f"/v1/links/{link['id']}", headers=editor.auth)).status_code == 404
    policy = await api.put(
        f"/v1/documents/{document_id}/link-policy", headers=editor.auth, json={"editors_may_create_links": True}
    )
    assert policy.status_code == 403
    read = await api.get(f"/v1/documents/{document_id}/link-policy", headers=editor.auth)
    assert read.status_code == 200 and read.json()["editors_may_create_links"] is False
    allowed = await api.put(
        f"/v1/documents/{document_id}/link-policy", headers=owner.auth, json={"editors_may_create_links": True}
    )
    assert allowed.status_code == 200 and allowed.json()["editors_may_create_links"] is True
    by_editor = await _create(api, editor, document_id)
    assert by_editor.status_code == 201, by_editor.text
    assert by_editor.json()["created_by"] == editor.account_id
    read = await api.get(f"/v1/documents/{document_id}/link-policy", headers=viewer.auth)
    assert read.status_code == 200 and read.json()["editors_may_create_links"] is True
    assert (await _create(api, viewer, document_id)).status_code == 403
    # The owner sees and manages the editor's link; the stranger still sees nothing.
    owners = {item["id"] for item in (await api.get("/v1/links", headers=owner.auth)).json()["items"]}
    assert owners == {link["id"], by_editor.json()["id"]}
    assert (await api.delete(f"/v1/links/{by_editor.json()['id']}", headers=owner.auth)).status_code == 204
    assert (await api.get("/v1/links", headers=stranger.auth)).json()["items"] == []
    # The owner's link still works: nothing the others tried changed it.
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0) as anonymous:
        assert (await anonymous.get(link["url"])).status_code == 200


async def test_guessed_tokens_are_404(api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0) as anonymous:
        for _ in range(10):
            guess = secrets.token_urlsafe(32)
            page = await anonymous.get(f"/s/{guess}")
            assert page.status_code == 404 and "does not exist" in page.text
            assert (await anonymous.post(f"/s/{guess}", data={"password": "x"})).status_code == 404
        for malformed in ("short", "a" * 600, "%00" * 30, "..%2F..%2Finternal"):
            assert (await anonymous.get(f"/s/{malformed}")).status_code in (400, 404)
        # The internal routes behind the page are not reachable from outside.
        # (404; or 405 from the web app's static files, which answer GET only.)
        answer = await anonymous.post("/internal/links/resolve", json={"token": "x" * 43})
        assert answer.status_code in (404, 405) and "name" not in answer.text


async def test_wrong_passwords_are_throttled_per_link_and_address(api: httpx.AsyncClient, endpoints: Any) -> None:
    owner, document_id = await _owned_document(api, endpoints)
    created = await _create(api, owner, document_id, password=LINK_PASSWORD)
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    other = await _create(api, owner, document_id, password=LINK_PASSWORD)
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0) as guesser:
        # The gateway's limits stack minute, hour and day windows (GATEWAY_LINK_PASSWORD_LIMITS,
        # 5/minute;20/hour by default): within 21 wrong tries one of them must refuse.
        statuses = []
        for attempt in range(21):
            answer = await guesser.post(url, data={"password": f"guess-{attempt}"})
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["retry-after"]) > 0 and "Too many" in answer.text
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
        assert len(statuses) >= 6, statuses  # five wrong tries a minute are allowed
        # Now even the right password waits: guessing cannot go on.
        assert (await guesser.post(url, data={"password": LINK_PASSWORD})).status_code == 429
        # Another link of the same document keeps its own count.
        right = await guesser.post(other.json()["url"], data={"password": LINK_PASSWORD})
        assert right.status_code == 303


async def test_a_revoked_link_gives_no_new_signed_url(api: httpx.AsyncClient, endpoints: Any) -> None:
    owner, document_id = await _owned_document(api, endpoints, body=b"revocable")
    created = await _create(api, owner, document_id)
    link = created.json()
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0) as anonymous:
        first = await anonymous.post(link["url"], data={})
        assert first.status_code == 303
        assert (await api.delete(f"/v1/links/{link['id']}", headers=owner.auth)).status_code == 204
        again = await anonymous.post(link["url"], data={})
        assert again.status_code == 410 and "location" not in again.headers
        assert "X-Amz-Signature" not in again.text
        assert (await anonymous.get(link["url"])).status_code == 410
    # Trash kills links too: a second link on the document, then the document to the trash.
    second = (await _create(api, owner, document_id)).json()
    assert (await api.delete(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 204
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0) as anonymous:
        answer = await anonymous.post(second["url"], data={})
        assert answer.status_code == 410 and "location" not in answer.headers


async def test_the_token_is_in_no_log_line_span_or_event(api: httpx.AsyncClient, system: System, endpoints) -> None:
    api.event_hooks["request"].append(sample_request)  # the system records the spans of sampled requests only
    owner, document_id = await _owned_document(api, endpoints, name="logged-link.txt")
    created = await _create(api, owner, document_id, password=LINK_PASSWORD, note="check the logs")
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    link_id = created.json()["id"]
    async with httpx.AsyncClient(
        base_url=str(api.base_url), timeout=40.0, event_hooks={"request": [sample_request]}
    ) as anonymous:
        assert (await anonymous.get(f"/s/{token}")).status_code == 200
        assert (await anonymous.post(f"/s/{token}", data={"password": "wrong one"})).status_code == 401
        assert (await anonymous.post(f"/s/{token}", data={"password": LINK_PASSWORD})).status_code == 303
    assert (await api.delete(f"/v1/links/{link_id}", headers=owner.auth)).status_code == 204

    # The events (as published: the outbox rows of the links service, issue 36) name it by id only.
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url)
    try:
        outbox = client[f"docstore_links_{REGION_A.replace('-', '_')}"]["outbox"]

        async def link_events() -> list[dict[str, Any]] | None:
            rows = await outbox.find({"headers.ce_type": {"$regex": "^docstore.share.link-"}}).to_list(None)
            mine = [row for row in rows if link_id.encode() in bytes(row["value"])]
            types = {row["headers"]["ce_type"] for row in mine}
            wanted = {"docstore.share.link-created", "docstore.share.link-used", "docstore.share.link-revoked"}
            return mine if wanted <= types else None

        rows = await eventually(link_events)
    finally:
        await client.close()
    for row in rows:
        assert token.encode() not in bytes(row["value"]) and LINK_PASSWORD.encode() not in bytes(row["value"])
        assert token not in repr(row["headers"])

    # Every line every service wrote (the gateway's access log included), and every span.
    logs = Path(system.logs)

    async def page_logged() -> bool:
        text = await asyncio.to_thread((logs / "gateway.log").read_text, errors="replace")
        return "/s/[redacted]" in text

    await eventually(page_logged, timeout=30)
    for path in sorted(await asyncio.to_thread(lambda: list(logs.glob("*.log")))):
        text = await asyncio.to_thread(path.read_text, errors="replace")
        assert token not in text, f"{path.name} holds a share link's token"
        assert LINK_PASSWORD not in text, f"{path.name} holds a share link's password"
    if system.traces is not None:
        await asyncio.sleep(1)  # spans leave every 200 ms
        spans = await asyncio.to_thread(system.traces.read_text, errors="replace")
        assert "/s/[redacted]" in spans and token not in spans
