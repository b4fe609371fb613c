"""The premise of pinned forms, checked against the real S3 server (SeaweedFS): a form whose
policy carries `x-amz-checksum-algorithm` and `x-amz-checksum-sha256` as exact conditions stores
those bytes and no others, cannot be stripped of the check, and HEAD with `ChecksumMode` reports
the sha256 S3 checked. If any of these failed, a pinned form (valid until it expires, and
writing the version's own key) could change a version's bytes after completion; then
`UPLOAD_PIN_CHECKSUMS` would have to be off for this store."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from docstore_kit.s3 import S3Settings, make_s3_client
from docstore_upload.adapters.storage import Storage
from docstore_upload.domain.grants import Grant

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"
DATA, EVIL = b"hello world", b"hello WORLD"  # the same size: only the checksum tells them apart
SHA = hashlib.sha256(DATA).hexdigest()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@pytest.fixture
def storage(endpoints) -> Storage:
    settings = S3Settings(s3_endpoint_url=endpoints.s3_endpoint)
    return Storage(make_s3_client(settings), make_s3_client(settings, public=True), BUCKET)


def pinned() -> Grant:
    upload_id = str(uuid.uuid4())
    return Grant(
        upload_id=upload_id,
        account_id="acct",
        document_id="doc",
        key=f"test/acct/doc/{upload_id}",
        filename="notes.txt",
        content_type="text/plain",
        declared_size=len(DATA),
        title="Notes",
        tags=[],
        path="/",
        expires_at=datetime.now(UTC),
        pinned_sha256=SHA,
    )


async def post(form: dict, data: bytes, fields: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(form["url"], data=fields or form["fields"], files={"file": ("f", data, "text/plain")})


async def read(storage: Storage, key: str) -> bytes | None:
    try:
        response = await asyncio.to_thread(storage.client.get_object, Bucket=BUCKET, Key=key)
    except storage.client.exceptions.NoSuchKey:
        return None
    return response["Body"].read()


async def test_the_pinned_bytes_are_stored_and_head_reports_their_sha256(storage: Storage) -> None:
    g = pinned()
    form = storage.post_form(g, max_size=len(DATA), expires_in=60)
    assert form["fields"]["key"] == g.key
    assert form["fields"]["x-amz-checksum-sha256"] == b64(hashlib.sha256(DATA).digest())
    response = await post(form, DATA)
    assert response.status_code == 201, response.text
    # (c) HEAD with ChecksumMode=ENABLED answers S3's own SHA-256 of the bytes it stored.
    head = await asyncio.to_thread(storage.client.head_object, Bucket=BUCKET, Key=g.key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64(hashlib.sha256(DATA).digest())
    checked = await storage.checked(g.key)
    assert checked is not None and checked.size == len(DATA) and checked.sha256 == SHA
    assert await storage.checked(f"{g.key}-nothing-there") is None


async def test_other_bytes_are_refused_with_bad_digest_and_nothing_is_stored(storage: Storage) -> None:
    # (a) The form as signed, other bytes of the declared size.
    g = pinned()
    response = await post(storage.post_form(g, max_size=len(DATA), expires_in=60), EVIL)
    assert response.status_code == 400 and "BadDigest" in response.text, response.text
    assert await read(storage, g.key) is None


async def test_a_refused_repost_leaves_the_stored_bytes_as_they_were(storage: Storage) -> None:
    g = pinned()
    form = storage.post_form(g, max_size=len(DATA), expires_in=60)
    assert (await post(form, DATA)).status_code == 201
    before = await storage.checked(g.key)
    assert (await post(form, EVIL)).status_code == 400
    assert await read(storage, g.key) == DATA
    after = await storage.checked(g.key)
    assert after is not None and before is not None and after.sha256 == SHA and after.etag == before.etag


def _dropped(name: str) -> Any:
    return lambda fields: {k: v for k, v in fields.items() if k != name}


@pytest.mark.parametrize(
    ("tamper", "refused_with"),
    [
        # (b) The conditions cannot be dropped...
        (_dropped("x-amz-checksum-sha256"), 403),
        (_dropped("x-amz-checksum-algorithm"), 403),
        # ...nor changed to the other bytes' checksum or another algorithm...
        (lambda f: {**f, "x-amz-checksum-sha256": b64(hashlib.sha256(EVIL).digest())}, 403),
        (lambda f: {**f, "x-amz-checksum-algorithm": "CRC32"}, 403),
        # ...nor outvoted by a second checksum of the other bytes (extra fields are refused).
        (lambda f: {**f, "x-amz-checksum-crc32": b64(zlib.crc32(EVIL).to_bytes(4, "big"))}, 403),
        # A Content-MD5 of the other bytes does not replace the sha256 check.
        (lambda f: {**f, "Content-MD5": b64(hashlib.md5(EVIL).digest())}, 400),
    ],
    ids=["drop-sha256", "drop-algorithm", "other-sha256", "crc32-algorithm", "extra-crc32", "content-md5"],
)
async def test_a_form_stripped_of_its_checksum_or_given_another_is_refused(
    storage: Storage, tamper: Any, refused_with: int
) -> None:
    for written_before in (None, DATA):  # on a fresh key, and over the pinned bytes already there
        g = pinned()
        form = storage.post_form(g, max_size=len(DATA), expires_in=60)
        if written_before:
            assert (await post(form, written_before)).status_code == 201
        response = await post(form, EVIL, tamper(form["fields"]))
        assert response.status_code == refused_with, response.text
        assert await read(storage, g.key) == written_before


async def test_the_file_sent_before_the_checksum_fields_is_refused(storage: Storage) -> None:
    """S3 reads the fields before the file; the file first, then the checksum fields: refused."""
    g = pinned()
    form = storage.post_form(g, max_size=len(DATA), expires_in=60)
    fields = dict(form["fields"])
    boundary = "pinned-boundary"

    def part(name: str, value: bytes, extra: str = "") -> bytes:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'.encode()
        return head + value + b"\r\n"

    body = part("key", fields.pop("key").encode()) + part("file", EVIL, '; filename="f"')
    body += b"".join(part(k, v.encode()) for k, v in fields.items()) + f"--{boundary}--\r\n".encode()
    async with httpx.AsyncClient() as client:
        response = await client.post(
            form["url"], content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
    assert response.status_code >= 400, response.text
    assert await read(storage, g.key) is None


# --- the same bytes pinned by a presigned PUT (`put: true` batch items) -----------------------


async def put(url: str, data: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.put(url, content=data, headers=headers)


async def test_a_pinned_put_stores_those_bytes_only_and_its_signed_headers_cannot_be_left_out(
    storage: Storage,
) -> None:
    g = pinned()
    issued = storage.put_url(g, expires_in=60)
    assert issued is not None and g.key in issued["url"]
    headers = issued["headers"]
    for name in ("x-amz-checksum-sha256", "Content-Type", "x-amz-server-side-encryption"):
        assert name in headers
    assert (await put(issued["url"], EVIL, headers)).status_code == 400  # other bytes: BadDigest
    assert (await put(issued["url"], EVIL, {})).status_code == 403  # the signed headers left out
    other = {**headers, "x-amz-checksum-sha256": b64(hashlib.sha256(EVIL).digest())}
    assert (await put(issued["url"], EVIL, other)).status_code == 403  # another checksum
    assert (await put(issued["url"], EVIL, {**headers, "x-amz-server-side-encryption": "aws:kms"})).status_code == 403
    assert await read(storage, g.key) is None
    assert (await put(issued["url"], DATA, headers)).status_code == 200
    checked = await storage.checked(g.key)
    assert checked is not None and checked.sha256 == SHA and checked.size == len(DATA)
    head = await asyncio.to_thread(storage.client.head_object, Bucket=BUCKET, Key=g.key)
    assert head["ServerSideEncryption"] == "AES256" and head["Metadata"]["upload-id"] == g.upload_id
    # Valid until it expires, it still cannot change what is stored.
    for data, sent in ((EVIL, headers), (EVIL, {}), (EVIL, other)):
        assert (await put(issued["url"], data, sent)).status_code in (400, 403)
    assert await read(storage, g.key) == DATA
