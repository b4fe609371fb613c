"""Temporary upload credentials (`POST /v1/uploads/credentials`) through the real gateway, used
against the real S3 server (SeaweedFS): one account's credentials write only its own staging
keys, never another account's; a file written with them still goes through grant and completion;
the secret appears in no log, span or event."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from pymongo import AsyncMongoClient

from docstore_devplatform.e2e import User, eventually, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def credentials_for(api: httpx.AsyncClient, user: User) -> dict[str, Any]:
    answer = await api.post("/v1/uploads/credentials", headers=user.auth)
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()


def s3_with(creds: dict[str, Any]) -> Any:
    """A client as the credentials say to use them: each PutObject (and CreateMultipartUpload)
    carries the answer's `required_headers` (the server-side encryption; S3 refuses a PUT under
    the prefix without it), whatever they are."""
    client = boto3.client(
        "s3",
        endpoint_url=creds["endpoint"],
        region_name=creds["region"],
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
        aws_session_token=creds["session_token"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )

    def add_required(request: Any, **_: Any) -> None:
        for name, value in creds["required_headers"].items():
            request.headers[name] = value

    for operation in ("PutObject", "CreateMultipartUpload"):
        client.meta.events.register(f"before-sign.s3.{operation}", add_required)
    return client


async def put(client: Any, bucket: str, key: str, body: bytes) -> str | None:
    """None when S3 stored it, else its error code."""

    def call() -> str | None:
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return None

    return await asyncio.to_thread(call)


async def test_one_accounts_credentials_cannot_write_under_anothers_prefix(api: httpx.AsyncClient) -> None:
    victim, attacker = await sign_up(api), await sign_up(api)
    mine = await credentials_for(api, attacker)
    theirs = await credentials_for(api, victim)
    assert mine["prefix"] == f"staging/{mine['region']}/{attacker.account_id}/"
    assert theirs["prefix"] != mine["prefix"] and mine["bucket"] == theirs["bucket"]
    client, bucket = s3_with(mine), mine["bucket"]
    probe = f"{mine['prefix']}probe-{uuid.uuid4()}"
    await eventually(lambda: _stored(client, bucket, probe), timeout=60)

    # The victim's pending upload: a grant whose staging key the attacker knows nothing of, but
    # even guessing it, and any other key under the victim's prefix, is refused.
    grant = await api.post(
        "/v1/uploads", headers=victim.auth, json={"filename": "v.txt", "size": 6, "content_type": "text/plain"}
    )
    assert grant.status_code == 201, grant.text
    their_key = grant.json()["form"]["fields"]["key"]
    assert their_key.startswith(theirs["prefix"])
    for key in (their_key, f"{theirs['prefix']}planted", f"{grant.json()['key']}", "planted-at-root"):
        assert await put(client, bucket, key, b"evil!!") == "AccessDenied", key

    # The victim's upload completes with the victim's bytes, not the attacker's.
    async with httpx.AsyncClient(timeout=30) as s3:
        form = grant.json()["form"]
        posted = await s3.post(form["url"], data=form["fields"], files={"file": ("v.txt", b"victim", "text/plain")})
        assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=victim.auth)
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == hashlib.sha256(b"victim").hexdigest()


async def _stored(client: Any, bucket: str, key: str) -> bool:
    return await put(client, bucket, key, b"probe") is None


async def test_a_file_put_with_credentials_is_completed_against_its_grant(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    creds = await credentials_for(api, user)
    client, bucket = s3_with(creds), creds["bucket"]
    await eventually(lambda: _stored(client, bucket, f"{creds['prefix']}probe-{uuid.uuid4()}"), timeout=60)
    batch = await api.post(
        "/v1/uploads/batch",
        headers=user.auth,
        json={"uploads": [{"filename": "a.txt", "size": 5, "content_type": "text/plain"}]},
    )
    assert batch.status_code == 200, batch.text
    [item] = batch.json()["results"]
    key = item["grant"]["form"]["fields"]["key"]
    assert key.startswith(creds["prefix"])
    assert await put(client, bucket, key, b"hello") is None
    done = await api.post(
        "/v1/uploads/batch/complete", headers=user.auth, json={"upload_ids": [item["grant"]["upload_id"]]}
    )
    [result] = done.json()["results"]
    assert result["upload"]["status"] == "completed", result
    assert result["upload"]["sha256"] == hashlib.sha256(b"hello").hexdigest()

    # The same credentials without the required headers: S3 refuses the PUT (stored in the clear otherwise).
    assert creds["required_headers"] == {"x-amz-server-side-encryption": "AES256"}
    bare = s3_with({**creds, "required_headers": {}})
    assert await put(bare, bucket, f"{creds['prefix']}plain-{uuid.uuid4()}", b"clear") == "AccessDenied"

    # More than the grant declared (room was reserved for 5 bytes): refused at completion.
    [big] = (
        await api.post(
            "/v1/uploads/batch",
            headers=user.auth,
            json={"uploads": [{"filename": "b.txt", "size": 5, "content_type": "text/plain"}]},
        )
    ).json()["results"]
    assert await put(client, bucket, big["grant"]["form"]["fields"]["key"], b"x" * 5000) is None
    refused = await api.post(
        "/v1/uploads/batch/complete", headers=user.auth, json={"upload_ids": [big["grant"]["upload_id"]]}
    )
    [outcome] = refused.json()["results"]
    assert outcome["upload"] is None and outcome["problem"]["status"] == 422, outcome


async def test_the_secret_is_in_no_log_span_or_event(api: httpx.AsyncClient, system, endpoints) -> None:
    user = await sign_up(api)
    creds = await credentials_for(api, user)
    secret, key_id = creds["secret_access_key"], creds["access_key_id"]
    logs = Path(system.logs)

    def issue_logged() -> bool:
        # The issue is logged (account, access key id, prefix): wait for that line, then look.
        text = (logs / "upload.log").read_text(errors="replace")
        return "upload_credentials_issued" in text and key_id in text

    def files_with_secret() -> list[str]:
        return [p.name for p in logs.rglob("*") if p.is_file() and secret in p.read_text(errors="replace")]

    await eventually(lambda: asyncio.to_thread(issue_logged), timeout=60)
    assert await asyncio.to_thread(files_with_secret) == []
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url)
    try:
        for name in await mongo.list_database_names():
            db = mongo[name]
            for collection in ("outbox", "upload_credentials"):
                async for row in db[collection].find({}):
                    assert secret not in repr(row), f"{name}.{collection}"
    finally:
        await mongo.aclose()


async def test_credentials_need_a_signed_in_caller(api: httpx.AsyncClient) -> None:
    answer = await api.post("/v1/uploads/credentials")
    assert answer.status_code == 401
    assert "secret_access_key" not in answer.text
