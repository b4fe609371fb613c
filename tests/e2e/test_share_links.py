"""Public share links through the real gateway: the owner creates a link at /v1, a client with no
account opens /s/{token}, sees the file's page and downloads the bytes straight from S3."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_devplatform.testing import eventually

from .conftest import REGION_A, System, User, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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


async def test_a_logged_out_client_downloads_through_the_link_page(
    api: httpx.AsyncClient, system: System, endpoints: Any
) -> None:
    owner = await verified(api, endpoints)
    body = b"quarterly numbers, shared by link"
    name = "Q3 <numbers> & notes.txt"  # escaped on the page
    done = await upload(api, owner, name, body)
    document_id = done["document_id"]

    async def visible() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(visible)
    created = await api.post(
        f"/v1/documents/{document_id}/links",
        headers=owner.auth,
        json={"expires_in_days": 3, "download_limit": 2, "note": "For <b>Ada</b>"},
    )
    assert created.status_code == 201, created.text
    link = created.json()
    token = link["token"]
    assert link["url"] == f"/s/{token}" and link["download_limit"] == 2

    listed = await api.get("/v1/links", headers=owner.auth)
    assert listed.status_code == 200 and [item["id"] for item in listed.json()["items"]] == [link["id"]]
    assert token not in listed.text
    per_document = await api.get(f"/v1/documents/{document_id}/links", headers=owner.auth)
    assert [item["id"] for item in per_document.json()["items"]] == [link["id"]]

    # A second, logged-out client: no token, no cookie.
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as stranger:
        page = await stranger.get(link["url"])
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert html.escape(name) in page.text and name not in page.text
        assert html.escape("For <b>Ada</b>") in page.text and "<b>Ada</b>" not in page.text
        assert "<script" not in page.text and 'type="password"' not in page.text
        assert token not in page.text  # the form posts to the page itself
        csp = page.headers["content-security-policy"]
        assert "style-src 'self' 'sha256-" in csp and "script-src 'self'" in csp

        download = await stranger.post(link["url"], data={})
        assert download.status_code == 303, download.text
        signed = download.headers["location"]
        assert re.search(r"X-Amz-Expires=(\d+)", signed) and int(re.search(r"X-Amz-Expires=(\d+)", signed)[1]) <= 60
        async with httpx.AsyncClient() as browser:
            got = await browser.get(signed)
        assert got.status_code == 200 and got.content == body
        assert got.headers["content-disposition"].startswith("attachment;")

        # Following the redirect, as a browser does, gives the file too; then the limit is reached.
        followed = await stranger.post(link["url"], data={}, follow_redirects=True)
        assert followed.status_code == 200 and followed.content == body
        used_up = await stranger.post(link["url"], data={})
        assert used_up.status_code == 410 and "download limit" in used_up.text
        assert (await stranger.get(link["url"])).status_code == 410

    shown = (await api.get(f"/v1/documents/{document_id}/links", headers=owner.auth)).json()["items"][0]
    assert (shown["downloads"], shown["state"]) == (2, "exhausted")


async def test_a_protected_link_asks_for_its_password(api: httpx.AsyncClient, system: System, endpoints: Any) -> None:
    owner = await verified(api, endpoints)
    done = await upload(api, owner, "secret-plan.txt", b"the plan")
    document_id = done["document_id"]

    async def visible() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(visible)
    created = await api.post(
        f"/v1/documents/{document_id}/links", headers=owner.auth, json={"password": "lighthouse-keeper-42"}
    )
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as stranger:
        page = await stranger.get(url)
        assert page.status_code == 200 and 'type="password"' in page.text
        wrong = await stranger.post(url, data={"password": "not it"})
        assert wrong.status_code == 401 and "not right" in wrong.text and 'type="password"' in wrong.text
        right = await stranger.post(url, data={"password": "lighthouse-keeper-42"}, follow_redirects=True)
        assert right.status_code == 200 and right.content == b"the plan"

    revoked = await api.delete(f"/v1/links/{created.json()['id']}", headers=owner.auth)
    assert revoked.status_code == 204
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as stranger:
        gone = await stranger.get(url)
        assert gone.status_code == 410 and "turned off" in gone.text
