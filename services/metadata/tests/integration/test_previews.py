"""Previews in metadata against the real servers (Kafka topics, MongoDB, S3): the indexer's
`document.preview-ready` / `document.preview-failed` become each version's preview state, the
document and the listing carry the current version's, the preview route answers a signed URL
that S3 serves (inline, the image's type) after the download's permission check, 409 while
pending, 404 when failed, and a late event for an old version updates that version only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from docstore_devplatform.testing import eventually
from docstore_events import DocumentsIndexed
from docstore_events.indexing import IndexOutcome
from docstore_events.previews import (
    DocumentPreviewFailed,
    DocumentPreviewReady,
    DocumentPreviewsRecorded,
    PreviewImage,
    PreviewOutcome,
)

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


async def _document(metadata: Harness, body: bytes = b"a photo", **kwargs: Any) -> str:
    event = await metadata.stored(body, filename="photo.png", content_type="image/png", **kwargs)
    await metadata.record(event)
    return event.document_id


async def _ready(
    metadata: Harness, document_id: str, version: int, account_id: str | None = None
) -> DocumentPreviewReady:
    """Both sizes stored in S3 under the version's derived prefix, and the event announcing them."""
    account_id = account_id or metadata.account_id
    images = {}
    for size, side in (("small", 256), ("large", 1024)):
        key = f"previews/us-west-2/{account_id}/{document_id}/v{version}/{size}.webp"
        body = WEBP + size.encode() + uuid.uuid4().bytes
        await asyncio.to_thread(metadata.s3.put_object, Bucket=BUCKET, Key=key, Body=body, ContentType="image/webp")
        images[size] = PreviewImage(
            key=key, width=side, height=side * 3 // 4, content_type="image/webp", size=len(body)
        )
    return DocumentPreviewReady(
        account_id=account_id, document_id=document_id, version=version, small=images["small"], large=images["large"]
    )


async def _preview(
    metadata: Harness, document_id: str, version: int, size: str = "small", account_id: str | None = None
) -> httpx.Response:
    return await metadata.get(f"/documents/{document_id}/versions/{version}/preview", account_id, size=size)


async def _state(metadata: Harness, document_id: str) -> dict[str, Any]:
    answer = await metadata.get(f"/documents/{document_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["preview"])


async def test_events_become_state_and_the_route_signs_a_url_s3_serves(metadata: Harness) -> None:
    document_id = await _document(metadata)
    # Recorded, no outcome yet: pending, on the document, in the listing and at the route (409 {state}).
    assert await _state(metadata, document_id) == {"state": "pending", "reason": None}
    listed = (await metadata.get("/documents")).json()["items"]
    assert [d["preview"] for d in listed if d["document_id"] == document_id] == [{"state": "pending", "reason": None}]
    pending = await _preview(metadata, document_id, 1)
    assert pending.status_code == 409, pending.text
    assert pending.json()["state"] == "pending"
    assert pending.headers["content-type"].startswith("application/problem+json")

    ready = await _ready(metadata, document_id, 1)
    await metadata.send(ready)  # through Kafka, as the indexer emits it
    await metadata.send(ready)  # a redelivery changes nothing
    await eventually(lambda: _is(metadata, document_id, "ready"))
    listed = (await metadata.get("/documents")).json()["items"]
    assert [d["preview"]["state"] for d in listed if d["document_id"] == document_id] == ["ready"]

    for size, image in (("small", ready.small), ("large", ready.large)):
        answer = await _preview(metadata, document_id, 1, size)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"url", "expires_at", "width", "height", "content_type"}
        assert (body["width"], body["height"], body["content_type"]) == (image.width, image.height, "image/webp")
        assert int(parse_qs(urlparse(body["url"]).query)["X-Amz-Expires"][0]) <= 300  # short-lived
        async with httpx.AsyncClient() as plain:
            got = await plain.get(body["url"])
        stored = await asyncio.to_thread(metadata.s3.get_object, Bucket=BUCKET, Key=image.key)
        assert got.status_code == 200 and got.content == stored["Body"].read()
        assert got.headers["content-type"] == "image/webp"
        assert got.headers.get("content-disposition", "inline") == "inline"
    # Only small and large exist.
    assert (await _preview(metadata, document_id, 1, "huge")).status_code == 422


async def _is(metadata: Harness, document_id: str, state: str) -> bool:
    return (await _state(metadata, document_id))["state"] == state


async def test_failed_is_404_with_the_reason_and_a_new_version_starts_pending(metadata: Harness) -> None:
    event = await metadata.stored(b"an archive", filename="a.zip", content_type="application/zip")
    await metadata.record(event)
    document_id = event.document_id
    await metadata.send(
        DocumentPreviewFailed(
            account_id=metadata.account_id, document_id=document_id, version=1, reason="unsupported type"
        )
    )
    await eventually(lambda: _is(metadata, document_id, "failed"))
    assert await _state(metadata, document_id) == {"state": "failed", "reason": "unsupported type"}
    failed = await _preview(metadata, document_id, 1)
    assert failed.status_code == 404 and "unsupported type" in failed.json()["detail"]

    # Version 2: pending again until its own outcome; version 1 keeps its own.
    await metadata.record(
        await metadata.stored(
            b"an archive, v2", document_id=document_id, base_version=1, filename="a.zip", content_type="application/zip"
        )
    )
    assert await _state(metadata, document_id) == {"state": "pending", "reason": None}
    assert (await _preview(metadata, document_id, 2)).status_code == 409
    assert (await _preview(metadata, document_id, 1)).status_code == 404
    assert (await _preview(metadata, document_id, 9)).status_code == 404  # no such version


async def test_a_late_event_for_an_old_version_updates_that_version_only(metadata: Harness) -> None:
    document_id = await _document(metadata, b"v1 bytes")
    await metadata.record(
        await metadata.stored(
            b"v2 bytes", document_id=document_id, base_version=1, filename="photo.png", content_type="image/png"
        )
    )
    v2 = await _ready(metadata, document_id, 2)
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, v2)])
    assert await _state(metadata, document_id) == {"state": "ready", "reason": None}
    # Version 1's outcomes arrive late, failed then ready: version 1 changes, the document does not.
    late_failed = DocumentPreviewFailed(
        account_id=metadata.account_id, document_id=document_id, version=1, reason="timed out"
    )
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, late_failed)])
    assert await _state(metadata, document_id) == {"state": "ready", "reason": None}
    assert (await _preview(metadata, document_id, 1)).status_code == 404
    assert (await _preview(metadata, document_id, 2)).status_code == 200
    late_ready = await _ready(metadata, document_id, 1)
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, late_ready)])
    assert (await _preview(metadata, document_id, 1)).status_code == 200
    assert await _state(metadata, document_id) == {"state": "ready", "reason": None}


async def test_the_download_permission_check_guards_previews(metadata: Harness) -> None:
    document_id = await _document(metadata)
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, await _ready(metadata, document_id, 1))])
    stranger, viewer = f"acc-{uuid.uuid4().hex[:12]}", f"acc-{uuid.uuid4().hex[:12]}"
    # Another account: 404, exactly like a missing document, for every size and version.
    for size in ("small", "large"):
        refused = await _preview(metadata, document_id, 1, size, account_id=stranger)
        assert refused.status_code == 404 and "url" not in refused.text
    assert (await _preview(metadata, str(uuid.uuid4()), 1)).status_code == 404
    # An account the document is shared with sees it, as it may download it.
    await metadata.services.reads.sharing.share(document_id, metadata.account_id, viewer, "view")
    shared = await _preview(metadata, document_id, 1, "large", account_id=viewer)
    assert shared.status_code == 200, shared.text
    # ... and its "shared with me" list carries the preview state, as the owner's listing does.
    listed = (await metadata.get("/shared", viewer)).json()["items"]
    assert [d["preview"] for d in listed if d["document_id"] == document_id] == [{"state": "ready", "reason": None}]
    # Without an identity: 401.
    assert (await metadata.http.get(f"/documents/{document_id}/versions/1/preview")).status_code == 401


async def test_forged_outcomes_change_nothing(metadata: Harness) -> None:
    """Another account's event for a document, or keys outside the version's preview prefix, are ignored."""
    document_id = await _document(metadata)
    other = await _ready(metadata, document_id, 1, account_id=f"acc-{uuid.uuid4().hex[:12]}")
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, other)])
    assert await _state(metadata, document_id) == {"state": "pending", "reason": None}
    ready = await _ready(metadata, document_id, 1)
    outside = ready.model_copy(
        update={"small": ready.small.model_copy(update={"key": f"us-west-2/{metadata.account_id}/x"})}
    )
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, outside)])
    assert await _state(metadata, document_id) == {"state": "pending", "reason": None}


async def test_the_batch_route_answers_a_page_with_the_same_check_for_each(metadata: Harness) -> None:
    """`POST /documents/previews`: one call for a page of the grid. Each item gets the single
    route's permission check: a stranger's document reads `none` exactly like a missing one."""
    ready_id, pending_id, failed_id = [await _document(metadata, f"photo {n}".encode()) for n in range(3)]
    ready = await _ready(metadata, ready_id, 1)
    failed = DocumentPreviewFailed(account_id=metadata.account_id, document_id=failed_id, version=1, reason="corrupt")
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, ready), (uuid.uuid4().hex, failed)])
    stranger, viewer = f"acc-{uuid.uuid4().hex[:12]}", f"acc-{uuid.uuid4().hex[:12]}"
    await metadata.services.reads.sharing.share(ready_id, metadata.account_id, viewer, "view")
    missing = str(uuid.uuid4())
    asked = [(ready_id, 1), (pending_id, 1), (failed_id, 1), (ready_id, 7), (missing, 1), (ready_id, 1)]

    async def batch(account_id: str | None = None, size: str = "small", items: Any = None) -> httpx.Response:
        body = {"size": size, "items": [{"document_id": d, "version": v} for d, v in asked] if items is None else items}
        return await metadata.http.post("/documents/previews", json=body, headers=metadata.headers(account_id))

    answer = await batch()
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(i["document_id"], i["version"], i["state"]) for i in items] == [
        (ready_id, 1, "ready"),
        (pending_id, 1, "pending"),
        (failed_id, 1, "none"),
        (ready_id, 7, "none"),
        (missing, 1, "none"),
        (ready_id, 1, "ready"),
    ]
    first = items[0]
    assert (first["width"], first["height"], first["content_type"]) == (256, 192, "image/webp")
    assert int(parse_qs(urlparse(first["url"]).query)["X-Amz-Expires"][0]) <= 300
    async with httpx.AsyncClient() as plain:
        got = await plain.get(first["url"])
    stored = await asyncio.to_thread(metadata.s3.get_object, Bucket=BUCKET, Key=ready.small.key)
    assert got.status_code == 200 and got.content == stored["Body"].read()
    large = (await batch(size="large")).json()["items"][0]
    assert (large["width"], urlparse(large["url"]).path.endswith("/v1/large.webp")) == (1024, True)
    # The single route agrees item by item.
    for (document_id, version), item in zip(asked, items, strict=True):
        single = await _preview(metadata, document_id, version)
        assert {200: "ready", 409: "pending", 404: "none"}[single.status_code] == item["state"]

    # A stranger: every item `none`, the same as for the document that does not exist; no URL.
    theirs = (await batch(stranger)).json()["items"]
    assert {i["state"] for i in theirs} == {"none"} and all(i["url"] is None for i in theirs)
    assert theirs[0] == {**theirs[4], "document_id": ready_id}
    # An account it is shared with sees that document's preview (and nothing of the others).
    shared = (await batch(viewer)).json()["items"]
    assert [i["state"] for i in shared] == ["ready", "none", "none", "none", "none", "ready"]

    # At most 50 items, at least one, sizes small/large only; an identity is needed.
    assert (await batch(items=[{"document_id": ready_id, "version": 1}] * 51)).status_code == 422
    assert (await batch(items=[])).status_code == 422
    assert (await batch(size="huge")).status_code == 422
    assert (await batch(items=[{"document_id": "a/b", "version": 1}])).status_code == 422
    anonymous = await metadata.http.post(
        "/documents/previews", json={"items": [{"document_id": ready_id, "version": 1}]}
    )
    assert anonymous.status_code == 401


async def test_a_batch_of_outcomes_is_applied_in_order_as_one_at_a_time_would(metadata: Harness) -> None:
    """One call with many outcomes (the consumer's batch; the indexer renders a preview of every new
    file): each version gets its own, the document keeps its latest version's (a later event of
    the batch sees what an earlier one did), and a stranger's or a missing version's change nothing."""
    first, second = await _document(metadata, b"first"), await _document(metadata, b"second")
    await metadata.record(
        await metadata.stored(
            b"first v2", document_id=first, base_version=1, filename="photo.png", content_type="image/png"
        )
    )
    failed_v2 = DocumentPreviewFailed(account_id=metadata.account_id, document_id=first, version=2, reason="boom")
    stranger = await _ready(metadata, second, 1, account_id="acc-stranger")
    missing = DocumentPreviewFailed(account_id=metadata.account_id, document_id=second, version=7, reason="x")
    batch = [
        failed_v2,
        await _ready(metadata, first, 1),  # late, for the old version: the document keeps v2's
        stranger,
        missing,
        await _ready(metadata, second, 1),
    ]
    done = await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, e) for e in batch])
    assert len(done) == len(batch)
    assert await _state(metadata, first) == {"state": "failed", "reason": "boom"}
    assert (await _preview(metadata, first, 1)).status_code == 200
    assert (await _preview(metadata, first, 2)).status_code == 404
    assert await _state(metadata, second) == {"state": "ready", "reason": None}
    assert (await _preview(metadata, second, 1)).status_code == 200


async def test_a_public_link_s_page_gets_the_small_preview_once_there_is_one(metadata: Harness) -> None:
    """What the links service asks for a link's page (`/internal/links/access`, serve=page)."""
    document_id = await _document(metadata)

    async def preview_url() -> str | None:
        body = {"document_id": document_id, "account_id": metadata.account_id, "serve": "page"}
        answer = await metadata.http.post(
            "/internal/links/access", json=body, headers=metadata.service_headers("links")
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["grant"]["served"]["preview_url"]  # type: ignore[no-any-return]

    assert await preview_url() is None  # pending: nothing to show yet
    ready = await _ready(metadata, document_id, 1)
    await metadata.services.previews.record_outcomes_once([(uuid.uuid4().hex, ready)])
    url = await preview_url()
    assert url and int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) <= 120
    async with httpx.AsyncClient() as plain:
        got = await plain.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/webp"


async def test_batch_events_of_one_account_s_outcomes_come_through_kafka(metadata: Harness) -> None:
    """The indexer sends one account's outcomes of one batch as one record each kind
    (`document.batch-previews`, `document.batch-indexed`): metadata subscribes to both and applies
    each outcome as the single event would."""
    photo, archive = await _document(metadata, b"a batch's photo"), await _document(metadata, b"a batch's archive")
    ready = await _ready(metadata, photo, 1)
    await metadata.send(
        DocumentPreviewsRecorded(
            account_id=metadata.account_id,
            outcomes=[
                PreviewOutcome(document_id=photo, version=1, small=ready.small, large=ready.large),
                PreviewOutcome(document_id=archive, version=1, reason="unsupported type"),
            ],
        )
    )
    await metadata.send(
        DocumentsIndexed(
            account_id=metadata.account_id,
            outcomes=[
                IndexOutcome(document_id=photo, version=1, characters=0),
                IndexOutcome(document_id=archive, version=1, reason="unsupported type"),
            ],
        )
    )

    async def applied() -> bool:
        photo_doc, archive_doc = [(await metadata.get(f"/documents/{d}")).json() for d in (photo, archive)]
        rows = {row["_id"]: row async for row in metadata.db["documents"].find({"_id": {"$in": [photo, archive]}})}
        return (
            photo_doc["preview"]["state"] == "ready"
            and archive_doc["preview"] == {"state": "failed", "reason": "unsupported type"}
            and rows[photo].get("full_text") == {"version": 1, "state": "indexed", "reason": None}
            and rows[archive].get("full_text") == {"version": 1, "state": "failed", "reason": "unsupported type"}
        )

    await eventually(applied)
    assert (await _preview(metadata, photo, 1)).status_code == 200
