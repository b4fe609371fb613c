"""The batch upload routes (`POST /v1/uploads/batch`, `POST /v1/uploads/batch/complete`) act on
the caller's own uploads only, item by item, and never reserve more than the plan's room."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from docstore_devplatform.e2e import FREE_CAP_BYTES, User, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def batch_grant(api: httpx.AsyncClient, user: User, *items: dict) -> list[dict]:
    answer = await api.post("/v1/uploads/batch", headers=user.auth, json={"uploads": list(items)})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


async def batch_complete(api: httpx.AsyncClient, user: User, *upload_ids: str) -> dict[str, dict]:
    answer = await api.post("/v1/uploads/batch/complete", headers=user.auth, json={"upload_ids": list(upload_ids)})
    assert answer.status_code == 200, answer.text
    return {r["upload_id"]: r for r in answer.json()["results"]}


def item(name: str, size: int, **extra: object) -> dict:
    return {"filename": name, "size": size, "content_type": "text/plain", **extra}


async def post_form(form: dict, data: bytes) -> None:
    async with httpx.AsyncClient(timeout=30) as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": ("f.txt", data, "text/plain")})
    assert posted.status_code == 201, posted.text


async def test_a_batch_completion_refuses_another_accounts_upload_for_that_item_only(api) -> None:
    victim, attacker = await sign_up(api), await sign_up(api)
    [theirs] = await batch_grant(api, victim, item("secret.txt", 6))
    [mine] = await batch_grant(api, attacker, item("mine.txt", 4))
    await post_form(theirs["grant"]["form"], b"secret")
    await post_form(mine["grant"]["form"], b"mine")
    their_id, my_id = theirs["grant"]["upload_id"], mine["grant"]["upload_id"]

    results = await batch_complete(api, attacker, their_id, my_id)
    assert results[their_id]["upload"] is None and results[their_id]["problem"]["status"] == 404
    assert "secret" not in str(results[their_id])
    assert results[my_id]["upload"]["status"] == "completed"
    # Untouched: still the victim's, still pending, and the victim completes it with its own bytes.
    state = await api.get(f"/v1/uploads/{their_id}", headers=victim.auth)
    assert state.json()["status"] == "pending"
    done = await batch_complete(api, victim, their_id)
    assert done[their_id]["upload"]["sha256"] == hashlib.sha256(b"secret").hexdigest()


async def test_a_batch_grant_never_reserves_more_than_the_room_in_total(api) -> None:
    user = await sign_up(api, plan="free")  # FREE_CAP_BYTES of room
    size = FREE_CAP_BYTES * 4 // 10
    results = await batch_grant(api, user, *(item(f"f{n}.txt", size) for n in range(3)))
    assert [r["grant"] is not None for r in results] == [True, True, False]
    assert results[2]["problem"]["status"] == 413
    usage = (await api.get("/v1/usage", headers=user.auth)).json()
    assert usage["reserved_bytes"] == 2 * size and usage["room_bytes"] <= FREE_CAP_BYTES - 2 * size


async def test_a_batch_grant_for_another_accounts_document_is_refused_for_that_item(api) -> None:
    victim, attacker = await sign_up(api), await sign_up(api)
    document = await upload(api, victim, "victim.txt", b"victim")
    results = await batch_grant(
        api,
        attacker,
        item("v2.txt", 3, document_id=document["document_id"], base_version=1),
        item("own.txt", 3),
    )
    assert results[0]["grant"] is None and results[0]["problem"]["status"] == 404
    assert results[1]["grant"] is not None


async def test_only_the_webdav_service_may_say_what_bytes_it_sent(api) -> None:
    """`sent` (a body's sha256 and each part's MD5) lets upload record a multipart upload without
    reading it back. From anyone but DocStore's WebDAV service (here a person, through the gateway)
    it is refused, and the upload is left as it was: its sha256 is then read from the stored bytes."""
    user = await sign_up(api)
    [granted] = await batch_grant(api, user, item("claimed.txt", 6))
    upload_id = granted["grant"]["upload_id"]
    await post_form(granted["grant"]["form"], b"stored")
    claim = {"sha256": hashlib.sha256(b"claimed").hexdigest(), "part_md5s": [hashlib.md5(b"stored").hexdigest()]}  # noqa: S324
    answer = await api.post(
        "/v1/uploads/batch/complete", headers=user.auth, json={"upload_ids": [upload_id], "sent": {upload_id: claim}}
    )
    assert answer.status_code == 403, answer.text
    assert "WebDAV" in answer.json()["detail"]
    assert (await api.get(f"/v1/uploads/{upload_id}", headers=user.auth)).json()["status"] == "pending"
    done = await batch_complete(api, user, upload_id)
    assert done[upload_id]["upload"]["sha256"] == hashlib.sha256(b"stored").hexdigest()
