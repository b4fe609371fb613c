"""Signed S3 forms are capabilities handed out in advance (issue 13, items 2-4): a form must stop
working once its upload is completed, once the right it was granted under is revoked or the
document is trashed, and every grant must reserve its room in the quota while it is pending."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from docstore_devplatform.e2e import FREE_CAP_BYTES, User, sign_up, upload
from docstore_devplatform.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REFUSED_COMPLETION = (400, 403, 404, 409, 410, 422)


async def grant(api: httpx.AsyncClient, user: User, size: int, name: str = "f.txt", **extra: object) -> httpx.Response:
    return await api.post(
        "/v1/uploads", headers=user.auth, json={"filename": name, "size": size, "content_type": "text/plain", **extra}
    )


async def post_form(form: dict, data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as s3:
        return await s3.post(form["url"], data=form["fields"], files={"file": ("f.txt", data, "text/plain")})


async def document(api, user: User, document_id: str) -> dict | None:
    found = await api.get(f"/v1/documents/{document_id}", headers=user.auth)
    return found.json() if found.status_code == 200 else None


async def downloaded(api, user: User, document_id: str) -> bytes:
    link = await api.get(f"/v1/documents/{document_id}/download", headers=user.auth)
    assert link.status_code == 200, link.text
    async with httpx.AsyncClient(timeout=30) as client:
        fetched = await client.get(link.json()["url"])
    assert fetched.status_code == 200, fetched.text
    return fetched.content


async def barrier(api, user: User) -> None:
    """Wait until everything this account sent through upload and metadata before now has been
    processed: events of one account are keyed by it, so they are handled in order, and a new
    document uploaded now shows up only after every earlier completion of the account."""
    done = await upload(api, user, "barrier.txt", b"barrier")
    await eventually(lambda: document(api, user, done["document_id"]))


async def holds_for(check, seconds: float = 3.0) -> None:
    """`check()` stays true for `seconds` (background paths such as the upload watcher, which
    looks every 0.5 s in this system, get several chances to break it)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        assert await check()
        await asyncio.sleep(0.3)


async def assert_untouched(api, owner: User, document_id: str, data: bytes, *, trashed: bool = False) -> None:
    doc = await document(api, owner, document_id)
    assert doc is not None and doc["version"] == 1, doc
    assert doc["trashed"] is trashed
    assert doc["sha256"] == hashlib.sha256(data).hexdigest(), "the sha256 shown is not the one of the stored bytes"
    versions = await api.get(f"/v1/documents/{document_id}/versions", headers=owner.auth)
    assert [v["version"] for v in versions.json()["items"]] == [1], versions.text
    if not trashed:
        content = await downloaded(api, owner, document_id)
        assert content == data, f"the stored bytes were replaced: {content[:40]!r}"
        assert hashlib.sha256(content).hexdigest() == doc["sha256"]


async def test_a_form_used_once_cannot_replace_the_stored_bytes(api) -> None:
    user = await sign_up(api)
    granted = await grant(api, user, 4, "notes.txt")
    assert granted.status_code == 201, granted.text
    form, upload_id = granted.json()["form"], granted.json()["upload_id"]
    assert (await post_form(form, b"abcd")).status_code == 201
    done = await api.post(f"/v1/uploads/{upload_id}/complete", headers=user.auth)
    assert done.status_code == 200, done.text
    document_id = done.json()["document_id"]
    await eventually(lambda: document(api, user, document_id))

    await post_form(form, b"EVIL")  # S3 may take it or not: what matters is what DocStore serves
    again = await api.post(f"/v1/uploads/{upload_id}/complete", headers=user.auth)
    assert again.status_code < 500, again.text
    if again.status_code == 200:
        assert again.json()["sha256"] == hashlib.sha256(b"abcd").hexdigest(), "a repeated completion took new bytes"
    await barrier(api, user)

    await assert_untouched(api, user, document_id, b"abcd")
    await holds_for(lambda: _serves(api, user, document_id, b"abcd"))


async def _serves(api, user: User, document_id: str, data: bytes) -> bool:
    return await downloaded(api, user, document_id) == data


async def _shared_for_edit(api) -> tuple[User, User, str, bytes]:
    owner, editor = await sign_up(api), await sign_up(api)
    data = b"the owner's words"
    done = await upload(api, owner, "shared.txt", data)
    document_id = done["document_id"]
    await eventually(lambda: document(api, owner, document_id))
    shared = await api.post(
        f"/v1/documents/{document_id}/shares",
        headers=owner.auth,
        json={"username": editor.username, "permission": "edit"},
    )
    assert shared.status_code == 201, shared.text
    return owner, editor, document_id, data


async def test_revoking_an_edit_share_stops_the_forms_already_handed_out(api) -> None:
    owner, editor, document_id, data = await _shared_for_edit(api)
    granted = await grant(api, editor, 9, "shared.txt", document_id=document_id, base_version=1)
    assert granted.status_code == 201, granted.text  # while the share stands, the editor may

    revoked = await api.delete(f"/v1/documents/{document_id}/shares/{editor.account_id}", headers=owner.auth)
    assert revoked.status_code == 204, revoked.text
    await post_form(granted.json()["form"], b"editor's!")
    completed = await api.post(f"/v1/uploads/{granted.json()['upload_id']}/complete", headers=editor.auth)

    assert completed.status_code in REFUSED_COMPLETION, (
        f"completion after the revoke: {completed.status_code} {completed.text}"
    )
    await barrier(api, owner)
    await assert_untouched(api, owner, document_id, data)
    await holds_for(lambda: _serves(api, owner, document_id, data))


async def test_trashing_a_document_stops_the_forms_already_handed_out(api) -> None:
    owner, editor, document_id, data = await _shared_for_edit(api)
    granted = await grant(api, editor, 9, "shared.txt", document_id=document_id, base_version=1)
    assert granted.status_code == 201, granted.text
    own = await grant(api, owner, 9, "shared.txt", document_id=document_id, base_version=1)
    assert own.status_code == 201, own.text

    trashed = await api.delete(f"/v1/documents/{document_id}", headers=owner.auth)
    assert trashed.status_code == 204, trashed.text
    for user, issued in ((editor, granted), (owner, own)):
        await post_form(issued.json()["form"], b"too late!")
        completed = await api.post(f"/v1/uploads/{issued.json()['upload_id']}/complete", headers=user.auth)
        assert completed.status_code in REFUSED_COMPLETION, (
            f"completion into the trash by the {'owner' if user is owner else 'editor'}: "
            f"{completed.status_code} {completed.text}"
        )

    await barrier(api, owner)
    await assert_untouched(api, owner, document_id, data, trashed=True)
    restored = await api.post(f"/v1/documents/{document_id}/restore", headers=owner.auth)
    assert restored.status_code == 200, restored.text
    await assert_untouched(api, owner, document_id, data)


async def test_a_pending_grant_reserves_its_room(api) -> None:
    user = await sign_up(api, plan="free")  # this system's Free cap is FREE_CAP_BYTES (1 MB)
    size = FREE_CAP_BYTES * 6 // 10
    first = await grant(api, user, size, "first.bin")
    assert first.status_code == 201, first.text

    second = await grant(api, user, size, "second.bin")
    assert second.status_code == 413, f"two pending grants of 60% each: {second.status_code} {second.text}"
    refusal = second.json()
    assert refusal["detail"] == (
        "This file is 600 KB but only 400 KB is left on your Free plan. Upgrade to Premium for 20 GB."
    )
    assert refusal["needed_bytes"] == size and refusal["available_bytes"] == FREE_CAP_BYTES - size

    aborted = await api.delete(f"/v1/uploads/{first.json()['upload_id']}", headers=user.auth)
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["status"] == "aborted"

    third = await grant(api, user, size, "third.bin")
    assert third.status_code == 201, f"the aborted grant still holds its room: {third.status_code} {third.text}"
