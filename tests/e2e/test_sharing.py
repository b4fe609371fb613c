"""Sharing through the gateway: viewers see, editors add versions (on the owner's quota), only owners delete."""

from __future__ import annotations

import httpx
import pytest

from docstore_devplatform.testing import eventually

from .conftest import sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_shared_document_rights_and_an_editors_new_version(api) -> None:
    owner, editor, viewer, stranger = [await sign_up(api) for _ in range(4)]
    done = await upload(api, owner, "budget.txt", b"first draft")
    doc = done["document_id"]

    async def visible_to_owner():
        return (await api.get(f"/v1/documents/{doc}", headers=owner.auth)).status_code == 200

    await eventually(visible_to_owner)
    for user, permission in ((editor, "edit"), (viewer, "view")):
        shared = await api.post(
            f"/v1/documents/{doc}/shares",
            headers=owner.auth,
            json={"username": user.username, "permission": permission},
        )
        assert shared.status_code == 201, shared.text
    assert (
        await api.post(f"/v1/documents/{doc}/shares", headers=viewer.auth, json={"username": stranger.username})
    ).status_code == 403
    assert (
        await api.post(f"/v1/documents/{doc}/shares", headers=owner.auth, json={"username": "nobody-by-this-name"})
    ).status_code == 404

    for user in (editor, viewer):
        assert (await api.get(f"/v1/documents/{doc}", headers=user.auth)).status_code == 200
        assert (await api.get(f"/v1/documents/{doc}/download", headers=user.auth)).status_code == 200
        assert [d["document_id"] for d in (await api.get("/v1/shared", headers=user.auth)).json()["items"]] == [doc]
        refused = await api.delete(f"/v1/documents/{doc}", headers=user.auth)
        assert refused.status_code == 403 and "owner" in refused.json()["detail"]
    assert (await api.get(f"/v1/documents/{doc}", headers=stranger.auth)).status_code == 404
    assert (await api.delete(f"/v1/documents/{doc}", headers=stranger.auth)).status_code == 404

    new_version = {
        "filename": "budget.txt",
        "size": 12,
        "content_type": "text/plain",
        "document_id": doc,
        "base_version": 1,
    }
    assert (await api.post("/v1/uploads", headers=viewer.auth, json=new_version)).status_code == 404
    grant = await api.post("/v1/uploads", headers=editor.auth, json=new_version)
    assert grant.status_code == 201, grant.text
    assert f"/{owner.account_id}/" in grant.json()["key"]  # stored and counted as the owner's
    form = grant.json()["form"]
    async with httpx.AsyncClient() as s3:
        assert (
            await s3.post(form["url"], data=form["fields"], files={"file": ("b", b"second draft", "text/plain")})
        ).status_code == 201
    completed = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=editor.auth)
    assert completed.status_code == 200, completed.text
    assert (await api.get(f"/v1/uploads/{grant.json()['upload_id']}", headers=owner.auth)).status_code == 404

    async def at_version_two():
        return (await api.get(f"/v1/documents/{doc}", headers=owner.auth)).json()["version"] == 2

    await eventually(at_version_two)

    async def owner_usage():
        usage = (await api.get("/v1/usage", headers=owner.auth)).json()
        return usage["used_bytes"] == len(b"first draft") + len(b"second draft")

    await eventually(owner_usage)
    assert (await api.get("/v1/usage", headers=editor.auth)).json()["used_bytes"] == 0

    assert (await api.put(f"/v1/documents/{doc}/follow", headers=viewer.auth)).status_code == 204
    follows = (await api.get("/v1/account/follows", headers=viewer.auth)).json()
    assert [f["document_id"] for f in follows["items"]] == [doc]
    assert (await api.put(f"/v1/documents/{doc}/follow", headers=stranger.auth)).status_code == 404

    assert (await api.delete(f"/v1/documents/{doc}/shares/{viewer.account_id}", headers=owner.auth)).status_code == 204
    assert (await api.get(f"/v1/documents/{doc}", headers=viewer.auth)).status_code == 404
    assert (await api.get("/v1/account/follows", headers=viewer.auth)).json()["items"] == []
