"""Our signed forms and part URLs, enforced by a real S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from docstore_kit.s3 import S3Settings, make_s3_client
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"


@pytest.fixture
def storage(endpoints) -> Storage:
    settings = S3Settings(s3_endpoint_url=endpoints.s3_endpoint)
    return Storage(make_s3_client(settings), make_s3_client(settings, public=True), BUCKET)


def grant(size: int = 11) -> Grant:
    upload_id = str(uuid.uuid4())
    return Grant(
        upload_id=upload_id,
        account_id="acct",
        document_id="doc",
        key=f"test/acct/doc/{upload_id}",
        filename="notes.txt",
        content_type="text/plain",
        declared_size=size,
        title="Notes",
        tags=["a"],
        path="/",
        expires_at=datetime.now(UTC),
    )


async def post(form: dict, data: bytes, *, fields: dict | None = None, url: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            url or form["url"], data=fields or form["fields"], files={"file": ("f", data, "text/plain")}
        )


async def test_the_form_as_signed_is_accepted(storage: Storage) -> None:
    g = grant()
    response = await post(storage.post_form(g, max_size=11, expires_in=60), b"hello world")
    assert response.status_code == 201, response.text
    stored = await storage.stored(g.key)
    assert stored.size == 11 and stored.sha256 == hashlib.sha256(b"hello world").hexdigest()


@pytest.mark.parametrize(
    ("change", "refused_with"),
    [
        ({"Content-Type": "text/html"}, 403),  # another content type than signed
        ({"x-amz-meta-title": "Changed"}, 403),  # tampered metadata
        ({"key": "test/acct/someone-else"}, 403),  # a different key
    ],
)
async def test_a_tampered_form_is_refused(storage: Storage, change: dict, refused_with: int) -> None:
    g = grant()
    form = storage.post_form(g, max_size=11, expires_in=60)
    response = await post(form, b"hello world", fields={**form["fields"], **change})
    assert response.status_code == refused_with, response.text
    assert await storage.stored(g.key) is None


async def test_a_tampered_policy_is_refused(storage: Storage) -> None:
    g = grant()
    form = storage.post_form(g, max_size=11, expires_in=60)
    policy = form["fields"]["policy"]
    forged = policy[:-4] + ("AAAA" if policy[-4:] != "AAAA" else "BBBB")
    response = await post(form, b"hello world", fields={**form["fields"], "policy": forged})
    assert response.status_code == 403, response.text


async def test_an_oversized_file_is_refused(storage: Storage) -> None:
    g = grant(size=5)
    response = await post(storage.post_form(g, max_size=5, expires_in=60), b"more than five bytes")
    assert response.status_code == 400 and "EntityTooLarge" in response.text
    assert await storage.stored(g.key) is None


async def test_an_expired_form_is_refused(storage: Storage) -> None:
    g = grant()
    form = storage.post_form(g, max_size=11, expires_in=1)
    await asyncio.sleep(2.1)
    response = await post(form, b"hello world")
    assert response.status_code == 403, response.text


async def test_browser_forms_redirect_to_the_completion_page(storage: Storage) -> None:
    g = grant()
    landing = f"http://127.0.0.1:9/v1/uploads/{g.upload_id}/done/signature"
    response = await post(storage.post_form(g, max_size=11, expires_in=60, redirect_url=landing), b"hello world")
    assert response.status_code in (301, 302, 303)
    assert response.headers["location"].startswith(landing)


async def test_multipart_parts_listed_for_resume_then_joined(storage: Storage) -> None:
    g = grant(size=5 * 1024 * 1024 + 3)
    s3_upload_id = await storage.start_multipart(g)
    urls = storage.part_urls(g.key, s3_upload_id, [1, 2], expires_in=60)
    first, second = b"a" * (5 * 1024 * 1024), b"bcd"
    async with httpx.AsyncClient() as client:
        assert (await client.put(urls[1], content=first)).status_code == 200
        assert [p.number for p in await storage.stored_parts(g.key, s3_upload_id)] == [1]
        assert (await client.put(urls[2], content=second)).status_code == 200
    parts = await storage.stored_parts(g.key, s3_upload_id)
    await storage.finish_multipart(g.key, s3_upload_id, parts)
    stored = await storage.stored(g.key)
    assert stored.size == len(first) + len(second)
    assert stored.sha256 == hashlib.sha256(first + second).hexdigest()
    assert await storage.stored_parts(g.key, s3_upload_id) is None  # the multipart upload is gone


async def test_aborted_multipart_leaves_nothing(storage: Storage) -> None:
    g = grant()
    s3_upload_id = await storage.start_multipart(g)
    await storage.abort_multipart(g.key, s3_upload_id)
    assert await storage.stored_parts(g.key, s3_upload_id) is None
    assert not await storage.exists(g.key)


async def test_part_urls_die_when_the_parts_are_joined(storage: Storage) -> None:
    """Multipart needs no staging key: once S3 joins the parts, the upload id the part URLs name
    is gone, so a URL handed out earlier cannot change the joined object."""
    g = grant(size=5 * 1024 * 1024 + 3)
    s3_upload_id = await storage.start_multipart(g)
    urls = storage.part_urls(g.key, s3_upload_id, [1, 2], expires_in=60)
    first, second = b"a" * (5 * 1024 * 1024), b"bcd"
    async with httpx.AsyncClient() as client:
        assert (await client.put(urls[1], content=first)).status_code == 200
        assert (await client.put(urls[2], content=second)).status_code == 200
        await storage.finish_multipart(g.key, s3_upload_id, await storage.stored_parts(g.key, s3_upload_id))
        late = await client.put(urls[2], content=b"EVIL")
    assert late.status_code >= 400, late.text
    assert (await storage.stored(g.key)).sha256 == hashlib.sha256(first + second).hexdigest()


async def test_a_copy_is_the_object_the_form_wrote(storage: Storage) -> None:
    g = grant()
    staged = f"staging/{g.key}"
    async with httpx.AsyncClient() as client:
        form = storage.post_form(Grant(**{**g.__dict__, "staging_key": staged}), max_size=11, expires_in=60)
        assert form["fields"]["key"] == staged
        assert (
            await client.post(form["url"], data=form["fields"], files={"file": ("f", b"hello world")})
        ).status_code == 201
    await storage.copy(staged, g.key)
    assert (await storage.stored(g.key)).sha256 == hashlib.sha256(b"hello world").hexdigest()
