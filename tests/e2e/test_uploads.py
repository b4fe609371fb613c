"""Uploads through the gateway: multipart with resume, abort, versions, browser redirect, the watcher."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path

import httpx
import pytest

from .conftest import eventually, mails_to, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MIB = 1024 * 1024


async def put_part(client: httpx.AsyncClient, url: str, data: bytes) -> None:
    response = await client.put(url, content=data)
    assert response.status_code == 200, response.text


async def upload_state(api: httpx.AsyncClient, user, upload_id: str, wanted: str) -> dict | None:
    state = (await api.get(f"/v1/uploads/{upload_id}", headers=user.auth)).json()
    return state if state["status"] == wanted else None


async def document_of(api: httpx.AsyncClient, user, document_id: str) -> dict | None:
    found = await api.get(f"/v1/documents/{document_id}", headers=user.auth)
    return found.json() if found.status_code == 200 else None


async def test_multipart_upload_in_parallel_parts_resumes_after_an_interruption(api) -> None:
    user = await sign_up(api, plan="premium")
    data = bytes(range(256)) * (12 * MIB // 256 + 100)  # 12 MiB and a bit: three parts
    grant = await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={"filename": "video.mp4", "size": len(data), "content_type": "video/mp4", "multipart": True},
    )
    assert grant.status_code == 201, grant.text
    body = grant.json()
    plan = body["multipart"]
    assert body["form"] is None and plan["part_count"] == 3 and plan["part_size"] == 5 * MIB
    chunks = {n: data[(n - 1) * plan["part_size"] : n * plan["part_size"]] for n in range(1, plan["part_count"] + 1)}

    async with httpx.AsyncClient(timeout=60) as s3:
        await put_part(s3, plan["parts"][0]["url"], chunks[1])  # then the client "crashes"
        resume = await api.get(f"/v1/uploads/{body['upload_id']}/parts", headers=user.auth)
        assert resume.status_code == 200, resume.text
        state = resume.json()
        assert [p["part_number"] for p in state["stored"]] == [1]
        assert [p["part_number"] for p in state["missing"]] == [2, 3]
        early = await api.post(f"/v1/uploads/{body['upload_id']}/complete", headers=user.auth)
        assert early.status_code == 409 and early.json()["detail"].startswith("Some parts of the file have not arrived")
        assert early.json()["missing_parts"] == [2, 3]
        await asyncio.gather(*(put_part(s3, p["url"], chunks[p["part_number"]]) for p in state["missing"]))

    done = await api.post(f"/v1/uploads/{body['upload_id']}/complete", headers=user.auth)
    # S3 joined the parts; size and sha256 are read back from S3 after the answer.
    assert done.status_code == 202 and done.json()["status"] == "verifying", done.text
    state = await eventually(lambda: upload_state(api, user, body["upload_id"], "completed"))
    assert state["size"] == len(data)
    assert state["sha256"] == hashlib.sha256(data).hexdigest()
    again = await api.post(f"/v1/uploads/{body['upload_id']}/complete", headers=user.auth)
    assert again.status_code == 200 and again.json()["sha256"] == state["sha256"]

    async def listed():
        items = (await api.get("/v1/documents", headers=user.auth)).json()["items"]
        return items if items else None

    [document] = await eventually(listed)
    assert document["size"] == len(data) and document["content_type"] == "video/mp4"


async def test_upload_killed_while_reading_a_joined_file_back_completes_it_once_after_a_restart(
    api, system, tmp_path: Path
) -> None:
    user = await sign_up(api, plan="premium")
    data = os.urandom(6 * MIB)
    grant = (
        await api.post(
            "/v1/uploads",
            headers=user.auth,
            json={"filename": "clip.mov", "size": len(data), "content_type": "video/quicktime", "multipart": True},
        )
    ).json()
    plan = grant["multipart"]
    async with httpx.AsyncClient(timeout=60) as s3:
        await asyncio.gather(
            *(
                put_part(
                    s3,
                    p["url"],
                    data[(p["part_number"] - 1) * plan["part_size"] : p["part_number"] * plan["part_size"]],
                )
                for p in plan["parts"]
            )
        )

    upload_process = system.processes.process("upload")
    marker = tmp_path / "crashed"
    upload_process.env |= {"DOCSTORE_CRASH_AT": "upload.before_read_back", "DOCSTORE_CRASH_MARKER": str(marker)}
    system.processes.restart("upload")
    try:
        with contextlib.suppress(httpx.TransportError):  # it may die before or after answering
            await api.post(f"/v1/uploads/{grant['upload_id']}/complete", headers=user.auth)
        await eventually(lambda: asyncio.sleep(0, result=marker.exists() and not upload_process.alive()))
        state = await api.get(f"/v1/uploads/{grant['upload_id']}", headers=user.auth)
        assert state.status_code >= 500  # the upload service is down; nothing recorded it
    finally:
        for name in ("DOCSTORE_CRASH_AT", "DOCSTORE_CRASH_MARKER"):
            upload_process.env.pop(name, None)
        system.processes.restart("upload")

    assert (await upload_state(api, user, grant["upload_id"], "verifying")) is not None
    again = await api.post(f"/v1/uploads/{grant['upload_id']}/complete", headers=user.auth)  # the client retries
    assert again.status_code in (200, 202), again.text
    state = await eventually(lambda: upload_state(api, user, grant["upload_id"], "completed"))
    assert state["sha256"] == hashlib.sha256(data).hexdigest()

    async def counted_once():
        usage = (await api.get("/v1/usage", headers=user.auth)).json()
        return usage if usage["used_bytes"] == len(data) else None

    await eventually(counted_once)
    document = await eventually(lambda: document_of(api, user, grant["document_id"]))
    assert document["version"] == 1 and document["size"] == len(data)
    await asyncio.sleep(1)  # a second upload.completed would show up as more usage by now
    assert (await counted_once()) is not None


async def test_aborted_multipart_upload_cannot_complete(api) -> None:
    user = await sign_up(api)
    grant = (
        await api.post(
            "/v1/uploads",
            headers=user.auth,
            json={"filename": "big.bin", "size": 10, "content_type": "application/octet-stream", "multipart": True},
        )
    ).json()
    aborted = await api.delete(f"/v1/uploads/{grant['upload_id']}", headers=user.auth)
    assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
    again = await api.post(f"/v1/uploads/{grant['upload_id']}/complete", headers=user.auth)
    assert again.status_code == 409 and again.json()["detail"] == (
        "This upload was cancelled. Upload the file again to store it."
    )
    assert again.json()["upload_status"] == "aborted"


async def test_a_new_version_needs_the_current_base_version(api) -> None:
    user = await sign_up(api)
    first = await upload(api, user, "plan.txt", b"version one")

    async def at_version(n: int):
        doc = await api.get(f"/v1/documents/{first['document_id']}", headers=user.auth)
        return doc.status_code == 200 and doc.json()["version"] == n

    await eventually(lambda: at_version(1))
    new = {"filename": "plan.txt", "size": 11, "content_type": "text/plain", "document_id": first["document_id"]}
    missing_base = await api.post("/v1/uploads", headers=user.auth, json=new)
    assert missing_base.status_code == 422 and missing_base.json()["field"] == "base_version"
    assert missing_base.json()["detail"] == "To upload a new version, say which version your change starts from."
    stale = await api.post("/v1/uploads", headers=user.auth, json={**new, "base_version": 7})
    assert stale.status_code == 409 and stale.json()["detail"]["current_version"] == 1
    other = await sign_up(api)
    foreign = await api.post("/v1/uploads", headers=other.auth, json={**new, "base_version": 1})
    assert foreign.status_code == 404

    grant = await api.post("/v1/uploads", headers=user.auth, json={**new, "base_version": 1})
    assert grant.status_code == 201, grant.text
    assert grant.json()["document_id"] == first["document_id"]
    form = grant.json()["form"]
    async with httpx.AsyncClient() as s3:
        assert (
            await s3.post(form["url"], data=form["fields"], files={"file": ("p", b"version two", "text/plain")})
        ).status_code == 201
    assert (await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth)).status_code == 200
    await eventually(lambda: at_version(2))


async def test_browser_upload_completes_on_the_redirect_page(api, system) -> None:
    user = await sign_up(api)
    grant = (
        await api.post(
            "/v1/uploads",
            headers=user.auth,
            json={"filename": "photo.png", "size": 4, "content_type": "image/png", "browser": True},
        )
    ).json()
    fields = grant["form"]["fields"]
    assert fields["success_action_redirect"].startswith(f"{system.gateway}/v1/uploads/{grant['upload_id']}/done/")
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.post(
            grant["form"]["url"], data=fields, files={"file": ("photo.png", b"\x89PNG", "image/png")}
        )
    assert page.status_code == 200 and "Upload complete" in page.text
    state = await api.get(f"/v1/uploads/{grant['upload_id']}", headers=user.auth)
    assert state.json()["status"] == "completed" and state.json()["size"] == 4

    forged = await api.get(f"/v1/uploads/{grant['upload_id']}/done/0000")
    assert forged.status_code == 404


async def test_the_watcher_completes_an_upload_nobody_reported(api) -> None:
    user = await sign_up(api)
    grant = (
        await api.post(
            "/v1/uploads", headers=user.auth, json={"filename": "silent.txt", "size": 5, "content_type": "text/plain"}
        )
    ).json()
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(
            grant["form"]["url"], data=grant["form"]["fields"], files={"file": ("s", b"quiet", "text/plain")}
        )
    assert posted.status_code == 201  # ...and the client vanishes without calling complete

    await eventually(lambda: upload_state(api, user, grant["upload_id"], "completed"))


async def test_an_expired_grant_emits_upload_expired_and_mails_the_owner(api, endpoints) -> None:
    user = await sign_up(api)
    grant = (
        await api.post(
            "/v1/uploads",
            headers=user.auth,
            json={"filename": "never.txt", "size": 5, "content_type": "text/plain", "expires_in": 1},
        )
    ).json()

    await eventually(lambda: upload_state(api, user, grant["upload_id"], "expired"))
    late = await api.post(f"/v1/uploads/{grant['upload_id']}/complete", headers=user.auth)
    assert late.status_code == 409

    [mail] = await eventually(lambda: mails_to(user.email))
    assert "never.txt" in mail["body"]


async def test_small_files_in_batches_are_granted_completed_and_listed_once_each(api) -> None:
    user = await sign_up(api, plan="premium")
    files = {f"batch-{n}.txt": f"file number {n}".encode() for n in range(5)}
    items = [{"filename": name, "size": len(data), "content_type": "text/plain"} for name, data in files.items()]
    items.append({"filename": "large.bin", "size": 10**9, "content_type": "application/octet-stream"})
    granted = await api.post("/v1/uploads/batch", headers=user.auth, json={"uploads": items})
    assert granted.status_code == 200, granted.text
    *grants, large = granted.json()["results"]
    assert large["grant"] is None and large["problem"]["status"] == 422  # multipart-sized: asked for alone
    async with httpx.AsyncClient(timeout=60) as s3:
        for result, data in zip(grants, files.values(), strict=True):
            form = result["grant"]["form"]
            posted = await s3.post(form["url"], data=form["fields"], files={"file": ("f", data, "text/plain")})
            assert posted.status_code == 201, posted.text
    ids = [r["grant"]["upload_id"] for r in grants]
    done = await api.post("/v1/uploads/batch/complete", headers=user.auth, json={"upload_ids": ids})
    assert done.status_code == 200, done.text
    for result, data in zip(done.json()["results"], files.values(), strict=True):
        assert result["upload"]["status"] == "completed" and result["upload"]["size"] == len(data)
        assert result["upload"]["sha256"] == hashlib.sha256(data).hexdigest()
    # The single route answers the same facts afterwards, and nothing is recorded twice.
    again = await api.post(f"/v1/uploads/{ids[0]}/complete", headers=user.auth)
    assert again.status_code == 200 and again.json()["sha256"] == hashlib.sha256(files["batch-0.txt"]).hexdigest()

    async def all_listed():
        items = (await api.get("/v1/documents", headers=user.auth)).json()["items"]
        return items if len(items) >= len(files) else None

    listed = await eventually(all_listed)
    assert sorted(d["name"] for d in listed) == sorted(files)
    assert {d["name"]: d["size"] for d in listed} == {name: len(data) for name, data in files.items()}
    too_many = await api.post("/v1/uploads/batch/complete", headers=user.auth, json={"upload_ids": ["x"] * 101})
    assert too_many.status_code == 422 and "at most 100" in too_many.text
