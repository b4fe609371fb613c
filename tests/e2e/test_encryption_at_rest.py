"""Encryption at rest through the real system: every object a document's uploads leave in S3
(a form upload, a multipart upload, a new version, and any staging copy still there) is
stored with server-side encryption, as S3 itself reports on HEAD; and a signed form that
does not ask for encryption is refused by S3.

The local S3 (SeaweedFS) encrypts only what it is asked to (tests/…/test_encryption_at_rest.py
in the upload service shows the unencrypted control), so these HEADs prove DocStore asked.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from docstore_devplatform import probes
from docstore_devplatform.services import bucket_for

from .conftest import REGION_A, eventually, sign_up, upload

pytestmark = [pytest.mark.e2e]

SSE = "x-amz-server-side-encryption"
BUCKET = bucket_for(REGION_A)


@pytest.fixture
def s3(endpoints) -> Any:
    return probes.s3_client(endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)


def stored_encryption(s3: Any, prefix: str) -> dict[str, str | None]:
    """Every key under `prefix` and what HEAD reports for it (None: stored in the clear)."""
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
            for o in page.get("Contents", [])]  # fmt: skip
    return {key: s3.head_object(Bucket=BUCKET, Key=key).get("ServerSideEncryption") for key in keys}


async def upload_state(api: httpx.AsyncClient, user: Any, upload_id: str) -> dict | None:
    state = (await api.get(f"/v1/uploads/{upload_id}", headers=user.auth)).json()
    return state if state["status"] == "completed" else None


async def test_every_object_a_documents_uploads_store_is_encrypted_at_rest(api, s3: Any) -> None:
    user = await sign_up(api)
    first = await upload(api, user, "payroll.txt", b"salary: 100")

    async def recorded() -> bool:
        return (await api.get(f"/v1/documents/{first['document_id']}", headers=user.auth)).status_code == 200

    await eventually(recorded)  # metadata learns of the document from upload.completed

    # A new version of it, by form.
    grant = await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={
            "filename": "payroll.txt",
            "size": 11,
            "content_type": "text/plain",
            "document_id": first["document_id"],
            "base_version": 1,
        },
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    assert form["fields"][SSE] == "AES256"  # the field the clients post back as given
    async with httpx.AsyncClient() as client:
        posted = await client.post(form["url"], data=form["fields"], files={"file": ("p", b"salary: 200")})
    assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth)
    assert done.status_code == 200, done.text

    # Another document, in parts (one part: a small file may go multipart when asked).
    data = b"ledger " * 100
    parts = (
        await api.post(
            "/v1/uploads",
            headers=user.auth,
            json={"filename": "ledger.csv", "size": len(data), "content_type": "text/csv", "multipart": True},
        )
    ).json()
    [part] = parts["multipart"]["parts"]
    async with httpx.AsyncClient() as client:
        put = await client.put(part["url"], content=data)  # no encryption header: the upload carries it
    assert put.status_code == 200, put.text
    assert (await api.post(f"/v1/uploads/{parts['upload_id']}/complete", headers=user.auth)).status_code in (200, 202)
    await eventually(lambda: upload_state(api, user, parts["upload_id"]))

    account_prefix = f"{REGION_A}/{user.account_id}/"
    stored = await asyncio.to_thread(stored_encryption, s3, account_prefix)
    assert len(stored) == 3, stored  # two versions of one document, one of another
    assert set(stored.values()) == {"AES256"}, stored
    staged = await asyncio.to_thread(stored_encryption, s3, f"staging/{account_prefix}")
    assert set(staged.values()) <= {"AES256"}, staged  # whatever staging copies are still there


async def test_a_form_posted_without_the_encryption_field_is_refused_by_s3(api, s3: Any) -> None:
    user = await sign_up(api)
    grant = await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={"filename": f"{uuid.uuid4().hex}.txt", "size": 5, "content_type": "text/plain"},
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    without = {name: value for name, value in form["fields"].items() if name != SSE}
    async with httpx.AsyncClient() as client:
        refused = await client.post(form["url"], data=without, files={"file": ("f", b"clear")})
        assert refused.status_code == 403, refused.text
        changed = await client.post(
            form["url"], data={**form["fields"], SSE: "aws:kms"}, files={"file": ("f", b"clear")}
        )
        assert changed.status_code == 403, changed.text
    stored = await asyncio.to_thread(stored_encryption, s3, f"staging/{REGION_A}/{user.account_id}/")
    assert stored == {}
