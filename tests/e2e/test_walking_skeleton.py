"""Sign-up to an indexed upload, through the gateway's public API, on real servers."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_events import AccountCreated, UploadCompleted

from .conftest import FREE_CAP_BYTES, PASSWORD, eventually, mails_to, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def read_topic(bootstrap: str, topic: str) -> list[tuple[dict[str, str], bytes]]:
    from aiokafka import AIOKafkaConsumer

    from docstore_events.envelope import headers_to_dict

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        messages = []
        for _ in range(4):
            batch = await consumer.getmany(timeout_ms=750)
            for records in batch.values():
                messages.extend((headers_to_dict(r.headers), r.value) for r in records)
        return messages
    finally:
        await consumer.stop()


async def test_premium_upload_is_versioned_counted_and_searchable(api, system, endpoints) -> None:
    user = await sign_up(api, plan="premium")
    data = b"Quarterly report. The secret word is aardvarkian.\n"

    done = await upload(api, user, "report.txt", data)

    assert done["status"] == "completed"
    assert done["size"] == len(data)
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert done["etag"] == hashlib.md5(data).hexdigest()
    assert done["form_url"].startswith(endpoints.s3_endpoint)  # the bytes went to S3, not to us

    async def version_one():
        listing = (await api.get("/v1/documents", headers=user.auth)).json()
        return listing["items"] if listing["items"] and listing["items"][0]["version"] == 1 else None

    [document] = await eventually(version_one)
    assert document["document_id"] == done["document_id"] and document["name"] == "report.txt"

    async def usage_counted():
        usage = (await api.get("/v1/usage", headers=user.auth)).json()
        return usage if usage["used_bytes"] == len(data) else None

    usage = await eventually(usage_counted)
    assert usage["plan"] == "premium"

    async def found():
        response = await api.get("/v1/search", params={"q": "aardvarkian"}, headers=user.auth)
        return response.json() if response.status_code == 200 and response.json()["found"] else None

    result = await eventually(found, timeout=60)
    assert [hit["document_id"] for hit in result["items"]] == [done["document_id"]]

    # Completing again changes nothing, and exactly one upload.completed was emitted.
    again = await api.post(f"/v1/uploads/{done['upload_id']}/complete", headers=user.auth)
    assert again.status_code == 200 and again.json()["sha256"] == done["sha256"]
    await asyncio.sleep(1)
    messages = await read_topic(endpoints.kafka_bootstrap, UploadCompleted.topic())
    mine = [m for m in messages if done["upload_id"].encode() in m[1]]
    assert len(mine) == 1


async def test_free_account_cannot_full_text_search(api) -> None:
    user = await sign_up(api, plan="free")
    response = await api.get("/v1/search", params={"q": "anything"}, headers=user.auth)
    assert response.status_code == 403
    assert "Premium" in response.json()["detail"]


async def test_passwords_are_hashed_and_never_in_events_or_logs(api, system, endpoints) -> None:
    user = await sign_up(api, plan="free")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints.mongo_url)
    try:
        account = await mongo["docstore_accounts_us_west_2"]["accounts"].find_one({"_id": user.account_id})
    finally:
        await mongo.close()
    assert account["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in str(account)

    events = await read_topic(endpoints.kafka_bootstrap, AccountCreated.topic())
    mine = [value for _, value in events if user.account_id.encode() in value]
    assert len(mine) == 1
    assert PASSWORD.encode() not in mine[0] and b"argon2" not in mine[0]

    logs = await asyncio.to_thread(_read_logs, Path(system.logs))
    assert logs and PASSWORD not in logs and user.token not in logs


def _read_logs(folder: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in folder.glob("*.log"))


async def test_account_pushed_over_its_cap_gets_exactly_one_mail(api, endpoints) -> None:
    user = await sign_up(api, plan="free")
    piece = b"x" * (FREE_CAP_BYTES * 6 // 10)
    # Two grants would each fit the room, but not together: the first holds its room until it ends.
    grant_for = {"size": len(piece), "content_type": "application/octet-stream"}
    first = await api.post("/v1/uploads", headers=user.auth, json={"filename": "a.bin", **grant_for})
    assert first.status_code == 201, first.text
    second = await api.post("/v1/uploads", headers=user.auth, json={"filename": "b.bin", **grant_for})
    refusal = second.json()
    assert second.status_code == 413 and refusal["detail"].startswith("This file is ")
    assert "is left on your Free plan. Upgrade to Premium for 20 GB." in refusal["detail"]
    assert refusal["needed_bytes"] == len(piece) and refusal["plan"] == "free"
    assert refusal["upgrade_plan"] == "premium" and refusal["upgrade_url"] == "/v1/account/plan"
    async with httpx.AsyncClient() as s3:
        form = first.json()["form"]
        posted = await s3.post(
            form["url"], data=form["fields"], files={"file": ("f", piece, "application/octet-stream")}
        )
        assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{first.json()['upload_id']}/complete", headers=user.auth)
    assert done.status_code == 200, done.text
    # So an account goes over its cap by moving to a smaller plan.
    assert (await api.put("/v1/account/plan", json={"plan": "premium"}, headers=user.auth)).status_code == 200

    async def premium():
        return (await api.get("/v1/usage", headers=user.auth)).json()["plan"] == "premium"

    await eventually(premium)
    await upload(api, user, "b.bin", piece, "application/octet-stream")
    assert (await api.put("/v1/account/plan", json={"plan": "free"}, headers=user.auth)).status_code == 200

    async def flagged():
        usage = (await api.get("/v1/usage", headers=user.auth)).json()
        return usage["over_quota"] and usage["used_bytes"] == 2 * len(piece)

    await eventually(flagged)

    await eventually(lambda: mails_to(user.email))
    await asyncio.sleep(2)  # a duplicate would arrive by now
    assert len(await mails_to(user.email)) == 1

    refused = await api.post(
        "/v1/uploads", headers=user.auth, json={"filename": "c.txt", "size": 1, "content_type": "text/plain"}
    )
    assert refused.status_code == 403 and "so uploads are paused" in refused.json()["detail"]
    assert refused.json()["upgrade_plan"] == "premium"


async def test_requests_without_a_token_or_for_another_account_are_refused(api) -> None:
    owner, other = await sign_up(api), await sign_up(api)
    done = await upload(api, owner, "mine.txt", b"private")
    document_id = done["document_id"]

    assert (await api.get("/v1/documents")).status_code == 401
    assert (await api.get("/v1/documents", headers={"Authorization": "Bearer forged"})).status_code == 401
    assert (await api.get("/v1/documents", headers={"X-Account-Id": owner.account_id})).status_code == 401
    smuggled = await api.get(f"/v1/documents/{document_id}", headers={**other.auth, "X-Account-Id": owner.account_id})
    assert smuggled.status_code == 404
    for path in (
        f"/v1/documents/{document_id}",
        f"/v1/documents/{document_id}/versions",
        f"/v1/documents/{document_id}/download",
        f"/v1/uploads/{done['upload_id']}",
    ):
        assert (await api.get(path, headers=other.auth)).status_code == 404, path
    assert (await api.post(f"/v1/uploads/{done['upload_id']}/complete", headers=other.auth)).status_code == 404
    assert (await api.get("/v1/internal/credentials/verify", headers=owner.auth)).status_code == 404
    listing = (await api.get("/v1/documents", headers=other.auth)).json()
    assert listing["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("post", "/v1/accounts", {"username": "x"}, 422, "email"),
        ("post", "/v1/accounts", {"username": "ok-name", "email": "bad", "password": "long enough"}, 422, "email"),
        (
            "post",
            "/v1/sessions",
            {"username": "nobody-here", "password": "whatever1"},
            401,
            "wrong username or password",
        ),
        ("post", "/v1/uploads", {"filename": "a/b", "size": 10, "content_type": "text/plain"}, 422, "filename"),
        ("post", "/v1/uploads", {"filename": "a", "size": -5, "content_type": "text/plain"}, 422, "size"),
        (
            "post",
            "/v1/uploads",
            {"filename": "a", "size": 5, "content_type": "application/x-nope"},
            422,
            "content_type",
        ),
        (
            "post",
            "/v1/uploads",
            {"filename": "a", "size": 10**13, "content_type": "text/plain"},
            413,
            "This file is 10 TB but only",
        ),
        ("post", "/v1/uploads", "not json", 422, ""),
        ("get", "/v1/documents?limit=0", None, 422, "limit"),
        ("get", "/v1/documents?cursor=garbage", None, 422, "page link"),
        ("get", "/v1/nothing-here", None, 404, "no such route"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(api, method, path, body, status, words) -> None:
    user = await sign_up(api)
    kwargs = {"headers": user.auth}
    if body is not None:
        kwargs["json" if isinstance(body, dict) else "content"] = body
    response = await getattr(api, method)(path, **kwargs)
    assert response.status_code == status, response.text
    answer = response.json()
    # The words are in the message for people, or name the field at fault beside it (for programs).
    assert words in answer["detail"] or answer.get("field") == words, answer


async def test_sessions_live_in_mongodb_not_in_the_gateway(api, system) -> None:
    user = await sign_up(api)
    await asyncio.to_thread(system.processes.restart, "gateway")
    async with httpx.AsyncClient(base_url=system.gateway) as fresh:
        assert (await fresh.get("/v1/account", headers=user.auth)).status_code == 200
        assert (await fresh.delete("/v1/sessions/current", headers=user.auth)).status_code == 204
        assert (await fresh.get("/v1/account", headers=user.auth)).status_code == 401


async def test_openapi_documents_the_public_api(api) -> None:
    spec = (await api.get("/openapi.json")).json()
    for path in ("/v1/accounts", "/v1/sessions", "/v1/uploads", "/v1/documents", "/v1/usage", "/v1/search"):
        assert path in spec["paths"], path
    assert not any("internal" in path for path in spec["paths"])
    assert (await api.get("/docs")).status_code == 200
