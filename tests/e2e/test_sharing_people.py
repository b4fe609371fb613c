"""Sharing as people expect (issue 37) through both regions' gateways: a person whose home is the
other region is found by username or verified address and refused with the truth (D4), and the
recipient is told who shared what (in the API and by mail)."""

from __future__ import annotations

import httpx
import pytest

from .conftest import REGION_B, eventually, mails_to, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_sharing_with_the_other_regions_person_says_so_and_the_recipient_sees_who(api, region_b) -> None:
    owner, grantee = await sign_up(api), await sign_up(api)
    async with httpx.AsyncClient(base_url=region_b.gateway, timeout=40.0) as api_b:
        abroad = await sign_up(api_b)
    doc = (await upload(api, owner, "plan.txt", b"the plan"))["document_id"]

    # Region A learns B's account from its replica (account.replicated -> the account projection).
    async def known_abroad():
        found = await api.get("/v1/people", params={"q": abroad.username}, headers=owner.auth)
        assert found.status_code == 200, found.text
        return found.json()["people"] or None

    told = [
        {
            "username": abroad.username,
            "known": False,
            "shareable": False,
            "note": f"In another DocStore region ({REGION_B}): send a public link instead.",
        }
    ]
    assert await eventually(known_abroad, interval=1.5) == told
    # The whole address they verified finds them too: region A's accounts service asks B's, which
    # holds B's addresses (replicas carry none); the answer names them by username only.
    by_address = await api.get("/v1/people", params={"q": abroad.email}, headers=owner.auth)
    assert by_address.status_code == 200 and by_address.json()["people"] == told

    async def shared_with(username: str) -> httpx.Response:
        return await api.post(
            f"/v1/documents/{doc}/shares", headers=owner.auth, json={"username": username, "permission": "view"}
        )

    await eventually(lambda: _visible(api, owner, doc))
    refused = await shared_with(abroad.username.upper())
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:docstore:problem:grantee-in-other-region"
    assert (problem["username"], problem["home_region"]) == (abroad.username, REGION_B)
    assert "public link" in problem["detail"] and "Nobody" not in problem["detail"]

    # A person of this region: the recipient is told who shared it, the owner who it is shared with.
    assert (await shared_with(grantee.username)).status_code == 201
    shared = (await api.get("/v1/shared", headers=grantee.auth)).json()["items"]
    assert [(d["document_id"], d["owner_username"]) for d in shared] == [(doc, owner.username)]
    shares = (await api.get(f"/v1/documents/{doc}/shares", headers=owner.auth)).json()["items"]
    assert [(s["username"], s["permission"]) for s in shares] == [(grantee.username, "view")]

    async def told():
        subject = f"{owner.username} shared “plan.txt” with you"
        return [m for m in await mails_to(grantee.email) if m["subject"] == subject]

    (mail,) = await eventually(told)
    assert "view and download it" in mail["text"] and "/#/shared" in mail["text"]


async def _visible(api: httpx.AsyncClient, owner, doc: str) -> bool:
    return (await api.get(f"/v1/documents/{doc}", headers=owner.auth)).status_code == 200
