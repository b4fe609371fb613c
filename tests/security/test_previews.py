"""Previews across accounts: account B cannot get account A's preview by id. The answer to B for
A's document is the same 404 as for a document that does not exist, for both sizes and any
version, so B learns neither a URL nor whether the document exists nor its preview state, while
A's own call on the same route reaches the document (200 with a URL once rendered, 409 while
pending)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from docstore_devplatform.e2e import sign_up, upload
from docstore_devplatform.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _route(document_id: str, version: int) -> str:
    return f"/v1/documents/{document_id}/versions/{version}/preview"


async def test_account_b_cannot_get_account_a_s_preview(api: httpx.AsyncClient) -> None:
    owner, stranger = await sign_up(api), await sign_up(api)
    name = f"private-{uuid.uuid4().hex[:8]}.txt"
    done = await upload(api, owner, name, b"what only the owner may see\n" * 20)
    document_id = done["document_id"]

    async def visible() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(visible, timeout=60)
    mine = await api.get(_route(document_id, 1), headers=owner.auth, params={"size": "small"})
    assert mine.status_code in (200, 409, 404), mine.text
    if mine.status_code == 404:  # only when the renderer gave up on it: the reason says so
        assert "no preview" in mine.json()["detail"]
    if mine.status_code == 409:
        assert mine.json()["state"] == "pending"

    missing = await api.get(_route(str(uuid.uuid4()), 1), headers=stranger.auth, params={"size": "small"})
    assert missing.status_code == 404
    for size in ("small", "large"):
        for version in (1, 2):
            theirs = await api.get(_route(document_id, version), headers=stranger.auth, params={"size": size})
            assert theirs.status_code == 404, theirs.text
            body = theirs.json()
            assert "url" not in body and "state" not in body and name not in theirs.text
            assert (body["type"], body["detail"].replace(document_id, "")) == (
                missing.json()["type"],
                missing.json()["detail"].replace(missing.url.path.split("/")[3], ""),
            )
    # Without a session: 401, never the image.
    assert (await api.get(_route(document_id, 1))).status_code == 401


async def test_account_b_gets_nothing_of_a_s_previews_from_the_batch_route(api: httpx.AsyncClient) -> None:
    """`POST /v1/documents/previews` (a page of the grid at once): for B, A's document is `none`,
    the same item as for a document that does not exist, in either size; A gets its own."""
    owner, stranger = await sign_up(api), await sign_up(api)
    done = await upload(api, owner, f"private-{uuid.uuid4().hex[:8]}.txt", b"only the owner's\n" * 20)
    document_id, missing = done["document_id"], str(uuid.uuid4())

    async def batch(user, size: str) -> list[dict]:
        body = {
            "size": size,
            "items": [{"document_id": document_id, "version": 1}, {"document_id": missing, "version": 1}],
        }
        answer = await api.post("/v1/documents/previews", headers=user.auth, json=body)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    async def rendered() -> bool:
        # `none` until metadata has recorded the version (the upload's events flow), then
        # `pending` until the indexer's outcome: wait for `ready`, a text file gets one.
        return (await batch(owner, "small"))[0]["state"] == "ready"

    await eventually(rendered, timeout=90)
    mine = await batch(owner, "small")
    assert mine[0]["state"] == "ready" and mine[0]["url"] and mine[1]["state"] == "none"
    for size in ("small", "large"):
        theirs = await batch(stranger, size)
        assert theirs[0] == {**theirs[1], "document_id": document_id}
        assert theirs[0]["state"] == "none" and theirs[0]["url"] is None
    assert (await api.post("/v1/documents/previews", json={"items": []})).status_code == 401
