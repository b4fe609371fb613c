"""Encryption at rest, enforced and reported by a real S3 server (SeaweedFS's SSE-S3).

Every write the upload service makes asks S3 to encrypt the object; HEAD on each stored
object says it is. A signed form without the encryption field (or with another value) is
refused by S3 itself, because the field is a condition of the signed policy. SeaweedFS
does not encrypt an object nobody asked it to (the control cases below), so these HEADs
would fail if a write path forgot.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from docstore_kit.s3 import S3Settings, ServerSideEncryption, make_s3_client
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant, staging_key

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"
SSE = "x-amz-server-side-encryption"


@pytest.fixture
def s3(endpoints) -> Any:
    return make_s3_client(S3Settings(s3_endpoint_url=endpoints.s3_endpoint))


@pytest.fixture
def storage(endpoints, s3) -> Storage:
    settings = S3Settings(s3_endpoint_url=endpoints.s3_endpoint)  # the default: SSE-S3
    return Storage(s3, make_s3_client(settings, public=True), BUCKET, encryption=settings.server_side_encryption())


def grant(size: int = 11, *, form: bool = True) -> Grant:
    upload_id = str(uuid.uuid4())
    key = f"test/acct/doc/{upload_id}"
    return Grant(
        upload_id=upload_id,
        account_id="acct",
        document_id="doc",
        key=key,
        filename="secret.txt",
        content_type="text/plain",
        declared_size=size,
        title=None,
        tags=[],
        path="/",
        expires_at=datetime.now(UTC),
        staging_key=staging_key(key) if form else None,
    )


async def encryption_of(s3: Any, key: str) -> str | None:
    """What S3 reports on HEAD of `key`: `AES256`, `aws:kms`, or None (stored in the clear)."""
    head = await asyncio.to_thread(s3.head_object, Bucket=BUCKET, Key=key)
    return head.get("ServerSideEncryption")


async def post(form: dict, data: bytes, fields: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(form["url"], data=fields or form["fields"], files={"file": ("f", data)})


async def test_a_form_upload_and_its_copy_to_the_final_key_are_encrypted(storage: Storage, s3: Any) -> None:
    g = grant()
    form = storage.post_form(g, max_size=11, expires_in=60)
    assert form["fields"][SSE] == "AES256"
    assert (await post(form, b"hello world")).status_code == 201
    assert await encryption_of(s3, g.staging_key) == "AES256"

    assert await storage.copy(g.staging_key, g.key)  # what completion does
    assert await encryption_of(s3, g.key) == "AES256"
    assert (await storage.stored(g.key)).sha256 == hashlib.sha256(b"hello world").hexdigest()  # reads back clear


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: {k: v for k, v in f.items() if k != SSE}, id="field-removed"),
        pytest.param(lambda f: {**f, SSE: "aws:kms"}, id="field-changed"),
        pytest.param(lambda f: {**f, SSE: ""}, id="field-emptied"),
    ],
)
async def test_a_form_that_does_not_ask_for_encryption_is_refused_by_s3(storage: Storage, change: Any) -> None:
    g = grant()
    form = storage.post_form(g, max_size=11, expires_in=60)
    response = await post(form, b"hello world", fields=change(form["fields"]))
    assert response.status_code == 403, response.text
    assert not await storage.exists(g.staging_key)


async def test_multipart_parts_inherit_the_encryption_of_the_upload(storage: Storage, s3: Any) -> None:
    g = grant(5 * 1024 * 1024 + 3, form=False)
    s3_upload_id = await storage.start_multipart(g)
    urls = storage.part_urls(g.key, s3_upload_id, [1, 2], expires_in=60)
    first, second = b"a" * (5 * 1024 * 1024), b"bcd"
    async with httpx.AsyncClient() as client:
        # The part URLs carry no encryption header: a client PUTs plain bytes.
        for number, body in ((1, first), (2, second)):
            response = await client.put(urls[number], content=body)
            assert response.status_code == 200, response.text
            assert response.headers.get(SSE) == "AES256"
    parts = await storage.stored_parts(g.key, s3_upload_id)
    # Each part's ETag is still its MD5: what the WebDAV service's word on the parts it sent is
    # checked against before its sha256 is recorded without a read-back (`parts_as_sent`).
    assert [part.etag.strip('"') for part in parts] == [hashlib.md5(b).hexdigest() for b in (first, second)]  # noqa: S324
    await storage.finish_multipart(g.key, s3_upload_id, parts)
    assert await encryption_of(s3, g.key) == "AES256"
    assert (await storage.stored(g.key)).sha256 == hashlib.sha256(first + second).hexdigest()


async def test_a_copy_is_encrypted_even_when_its_source_is_not(storage: Storage, s3: Any) -> None:
    source, target = f"test/plain/{uuid.uuid4()}", f"test/copied/{uuid.uuid4()}"
    await asyncio.to_thread(s3.put_object, Bucket=BUCKET, Key=source, Body=b"old object")
    assert await encryption_of(s3, source) is None  # control: S3 does not encrypt unasked
    assert await storage.copy(source, target)
    assert await encryption_of(s3, target) == "AES256"


async def test_none_writes_in_the_clear_for_stores_without_sse(endpoints, s3: Any) -> None:
    """`S3_SERVER_SIDE_ENCRYPTION=none` sends no header and no condition (the control that
    shows HEAD reports what was asked, not a bucket-wide default)."""
    settings = S3Settings(s3_endpoint_url=endpoints.s3_endpoint, s3_server_side_encryption="none")
    plain = Storage(s3, make_s3_client(settings, public=True), BUCKET, encryption=ServerSideEncryption("none"))
    g = grant()
    form = plain.post_form(g, max_size=11, expires_in=60)
    assert SSE not in form["fields"]
    assert (await post(form, b"hello world")).status_code == 201
    assert await encryption_of(s3, g.staging_key) is None
