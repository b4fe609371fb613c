"""Previews through the real system: an uploaded image gets a preview (the indexer renders it,
metadata records `document.preview-ready`), the signed URL the API hands out serves a real,
non-blank image of the right size straight from S3; a new version gets a new preview of its own
(the old one stays the old version's); deleting the document for good removes every preview
object from S3."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from docstore_devplatform import probes
from docstore_devplatform.services import bucket_for

from .conftest import REGION_A, eventually, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BUCKET = bucket_for(REGION_A)


@pytest.fixture
def s3(endpoints) -> Any:
    return probes.s3_client(endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (900, 600)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle([100, 100, 400, 300], fill=(10, 10, 10))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def keys_under(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


async def preview_when_ready(api: httpx.AsyncClient, user: Any, document_id: str, version: int) -> dict:
    async def ready() -> dict | None:
        answer = await api.get(f"/v1/documents/{document_id}", headers=user.auth)
        if answer.status_code == 404:  # metadata has not recorded the upload yet
            return None
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        if doc["version"] != version or doc["preview"]["state"] == "pending":
            return None
        assert doc["preview"] == {"state": "ready", "reason": None}, doc["preview"]
        return doc

    await eventually(ready, timeout=180)
    answer = await api.get(
        f"/v1/documents/{document_id}/versions/{version}/preview", headers=user.auth, params={"size": "small"}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def image_at(url: str) -> Any:
    from PIL import Image

    async with httpx.AsyncClient() as plain:
        got = await plain.get(url)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] in ("image/webp", "image/jpeg")
    image = Image.open(io.BytesIO(got.content))
    image.load()
    return image


async def test_upload_preview_new_version_new_preview_delete_removes_them(api: httpx.AsyncClient, s3: Any) -> None:
    user = await sign_up(api)
    done = await upload(api, user, "photo.png", picture((200, 60, 60)), "image/png")
    document_id = done["document_id"]
    prefix = f"previews/{REGION_A}/{user.account_id}/{document_id}/"

    first = await preview_when_ready(api, user, document_id, 1)
    image = await image_at(first["url"])
    assert max(image.size) <= 256 and image.size == (first["width"], first["height"])
    extremes = image.convert("L").getextrema()
    assert extremes[1] - extremes[0] > 50, "the thumbnail is blank"
    assert any(key.startswith(f"{prefix}v1/") for key in keys_under(s3, prefix))

    # A new version gets its own preview; version 1 keeps its own.
    grant = await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={
            "filename": "photo.png",
            "size": len(second := picture((40, 90, 220))),
            "content_type": "image/png",
            "document_id": document_id,
            "base_version": 1,
        },
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    async with httpx.AsyncClient() as plain:
        posted = await plain.post(form["url"], data=form["fields"], files={"file": ("photo.png", second, "image/png")})
    assert posted.status_code == 201, posted.text
    completed = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth)
    assert completed.status_code == 200, completed.text
    newer = await preview_when_ready(api, user, document_id, 2)
    new_image = await image_at(newer["url"])
    assert new_image.convert("RGB").getpixel((new_image.width - 3, 3))[2] > 150  # the blue one
    assert image.convert("RGB").getpixel((image.width - 3, 3))[0] > 150  # version 1 was red
    assert any(key.startswith(f"{prefix}v2/") for key in keys_under(s3, prefix))
    again = await api.get(f"/v1/documents/{document_id}/versions/1/preview", headers=user.auth)
    assert again.status_code == 200, again.text

    # Deleted for good: every preview object of the document leaves S3.
    gone = await api.delete(f"/v1/documents/{document_id}", headers=user.auth, params={"permanent": "true"})
    assert gone.status_code == 204, gone.text

    async def previews_gone() -> bool:
        return not keys_under(s3, prefix)

    await eventually(previews_gone, timeout=120)
    missing = await api.get(f"/v1/documents/{document_id}/versions/2/preview", headers=user.auth)
    assert missing.status_code == 404
