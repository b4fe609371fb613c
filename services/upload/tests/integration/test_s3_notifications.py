"""S3 bucket notifications complete uploads: SeaweedFS publishes its filer changes to Kafka
(the dev platform's `notification.toml`), the upload service takes each as a hint.

The watcher is set to look once an hour, so whatever completes an upload here that nobody
reported is the notification.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import boto3
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from docstore_devplatform.testing import eventually, filer_notification, start_group_at_end
from docstore_events import UploadCompleted, UploadExpired
from docstore_events.envelope import decode
from docstore_upload.domain.grants import Reservation
from docstore_upload.main import create_app
from docstore_upload.settings import Settings

pytestmark = pytest.mark.integration

BUCKET = "docstore-us-west-2"
ACCOUNT = "acct-s3-events"


class RoomyQuota:
    """Stands in for the quota service: every account has room."""

    async def reserve(self, account_id: str, upload_id: str, size: int, expires_at: Any) -> Reservation:
        return Reservation(granted=True, room_bytes=10**9, cap_bytes=10**9, over_quota=False, plan="free")

    async def release(self, account_id: str, upload_id: str) -> None:
        return None


class NewDocumentsOnly:
    """Stands in for metadata: every upload here is a new document under a free name."""

    async def taken(self, account_id: str, places: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return set()

    async def document(self, account_id: str, document_id: str) -> None:
        return None

    async def stored_bytes(self, account_id: str, sha256: str) -> None:
        return None


@pytest.fixture
def topic(endpoints) -> str:
    if not endpoints.s3_events_topic:
        pytest.skip("these servers publish no S3 notifications (DOCSTORE_TEST_ENDPOINTS=env without S3_EVENTS_TOPIC)")
    return endpoints.s3_events_topic


@pytest_asyncio.fixture
async def app(isolated: dict[str, str], endpoints, topic: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        **isolated,
        s3_endpoint_url=endpoints.s3_endpoint,
        s3_bucket=BUCKET,
        s3_events_topic=topic,
        watch_interval_seconds=3600,  # the watcher cannot be what completes anything here
    )
    # Its new group starts at the topic's end, not at every other test's notifications.
    await start_group_at_end(endpoints.kafka_bootstrap, f"{settings.kafka_topic_prefix}upload", topic)
    application = create_app(settings, quota=RoomyQuota(), metadata=NewDocumentsOnly())
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    as_account = app.state.internal_auth.client_auth("upload", subject=ACCOUNT, role="user")  # as the gateway signs
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://upload", auth=as_account
    ) as client:
        yield client


@pytest_asyncio.fixture
async def producer(endpoints) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def grant(api: httpx.AsyncClient, data: bytes, **options: Any) -> dict[str, Any]:
    response = await api.post(
        "/uploads", json={"filename": "notes.txt", "size": len(data), "content_type": "text/plain", **options}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def status(api: httpx.AsyncClient, upload_id: str) -> str:
    return (await api.get(f"/uploads/{upload_id}")).json()["status"]


async def emitted(app: FastAPI, event_type: type, upload_id: str) -> list[Any]:
    """Events of `event_type` about `upload_id` in the outbox (the relay publishes them from there)."""
    rows = (
        await app.state.services.runtime.db["outbox"]
        .find({"headers.ce_type": f"docstore.{event_type.type}"})
        .to_list(None)
    )
    return [event for event in (decode(r["headers"], r["value"]).data for r in rows) if event.upload_id == upload_id]


async def notify(producer: AIOKafkaProducer, topic: str, path: str, value: bytes) -> None:
    """Publish a notification as SeaweedFS would. Partition 0 for all: they are handled in order."""
    await producer.send_and_wait(topic, value, key=path.encode(), partition=0)


async def notifications_for(endpoints, topic: str, path: str) -> list[bytes]:
    """Every value SeaweedFS published so far under the key `path`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=endpoints.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[bytes] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            found += [m.value for messages in batch.values() for m in messages if m.key == path.encode()]
    finally:
        await consumer.stop()
    return found


async def test_a_form_upload_nobody_reports_completes_once_from_the_notification(
    app: FastAPI, api: httpx.AsyncClient, endpoints, topic: str, producer: AIOKafkaProducer
) -> None:
    data = b"hello from a browser that closed its tab"
    upload = await grant(api, data)
    form = upload["form"]
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": ("notes.txt", data, "text/plain")})
    assert posted.status_code in (200, 201, 204), posted.text
    # No call to /complete, no redirect, the watcher asleep: only S3's notification is left.
    await eventually(lambda: _is(status(api, upload["upload_id"]), "completed"), timeout=120)
    [completed] = await emitted(app, UploadCompleted, upload["upload_id"])
    assert completed.size == len(data) and completed.sha256 == hashlib.sha256(data).hexdigest()
    assert completed.key == upload["key"]

    # What SeaweedFS sent for the form's write (to the staging key), delivered again: nothing changes.
    path = f"/buckets/{BUCKET}/staging/{upload['key']}"
    real = (await notifications_for(endpoints, topic, path))[0]
    row_before = await app.state.services.repositories.sessions.by_id(upload["upload_id"])
    await notify(producer, topic, path, real)
    await notify(producer, topic, path, filer_notification(new=upload["key"].rsplit("/", 1)[1]))
    await _handled_up_to_here(app, api, producer, topic)
    assert len(await emitted(app, UploadCompleted, upload["upload_id"])) == 1
    assert await app.state.services.repositories.sessions.by_id(upload["upload_id"]) == row_before


async def test_a_multipart_upload_the_client_joined_itself_completes_from_the_notification(
    app: FastAPI, api: httpx.AsyncClient, endpoints
) -> None:
    data = b"p" * 1000
    upload = await grant(api, data, multipart=True)
    [part] = upload["multipart"]["parts"]
    async with httpx.AsyncClient() as s3:
        put = await s3.put(part["url"], content=data)
    assert put.status_code == 200, put.text
    # A client with its own S3 credentials joins the parts itself and never tells us.
    s3_upload_id = (await app.state.services.repositories.sessions.by_id(upload["upload_id"]))["s3_upload_id"]
    client = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name="us-west-2",
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
    )
    await asyncio.to_thread(
        client.complete_multipart_upload,
        Bucket=BUCKET,
        Key=upload["key"],
        UploadId=s3_upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": put.headers["ETag"]}]},
    )
    await eventually(lambda: _is(status(api, upload["upload_id"]), "completed"), timeout=120)
    [completed] = await emitted(app, UploadCompleted, upload["upload_id"])
    assert completed.size == len(data) and completed.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_form_posted_again_after_completion_changes_nothing_served_and_is_deleted(
    app: FastAPI, api: httpx.AsyncClient, endpoints
) -> None:
    """The form lives on until it expires, but it writes the staging key, never the version's:
    a second POST lands where nobody reads, and its notification gets it deleted."""
    upload = await grant(api, b"abcd")
    form = upload["form"]
    assert form["fields"]["key"] == f"staging/{upload['key']}"
    async with httpx.AsyncClient() as s3:
        assert (await s3.post(form["url"], data=form["fields"], files={"file": ("n", b"abcd")})).status_code == 201
        done = await api.post(f"/uploads/{upload['upload_id']}/complete")
        assert done.status_code == 200 and done.json()["sha256"] == hashlib.sha256(b"abcd").hexdigest()
        again = await s3.post(form["url"], data=form["fields"], files={"file": ("n", b"EVIL")})
    assert again.status_code == 201  # S3 takes it: the form is still valid
    client = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name="us-west-2",
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
    )
    served = await asyncio.to_thread(client.get_object, Bucket=BUCKET, Key=upload["key"])
    assert served["Body"].read() == b"abcd"
    storage = app.state.services.storage
    await eventually(lambda: _gone(storage, form["fields"]["key"]), timeout=120)
    assert await status(api, upload["upload_id"]) == "completed"
    assert len(await emitted(app, UploadCompleted, upload["upload_id"])) == 1


async def _gone(storage: Any, key: str) -> bool:
    return not await storage.exists(key)


async def test_notifications_for_unknown_keys_other_buckets_deletions_and_parts_change_nothing(
    app: FastAPI, api: httpx.AsyncClient, topic: str, producer: AIOKafkaProducer
) -> None:
    # An upload whose grant ran out: a check would expire it (upload.expired), so any
    # notification that leads to a check shows.
    upload = await grant(api, b"never sent", expires_in=1)
    key, name = upload["key"], upload["key"].rsplit("/", 1)[1]
    await asyncio.sleep(1.5)

    await notify(
        producer, topic, f"/buckets/{BUCKET}/us-west-2/{ACCOUNT}/nobody/{uuid.uuid4()}", filer_notification(new="x")
    )
    await notify(
        producer, topic, f"/buckets/docstore-ap-southeast-2/{key}", filer_notification(new=name)
    )  # another bucket
    await notify(producer, topic, f"/buckets/{BUCKET}/{key}", filer_notification(old=name))  # a deletion
    await notify(
        producer,
        topic,
        f"/buckets/{BUCKET}/.uploads/{name}/0001_{uuid.uuid4()}.part",
        filer_notification(new="0001.part"),
    )
    await notify(producer, topic, f"/buckets/{BUCKET}/{key}", b"\x0f not protobuf")
    await _handled_up_to_here(app, api, producer, topic)
    assert await status(api, upload["upload_id"]) == "pending"
    assert await emitted(app, UploadExpired, upload["upload_id"]) == []

    # The same upload, named right: checked, so expired (once, however often it is named).
    await notify(producer, topic, f"/buckets/{BUCKET}/{key}", filer_notification(new=name))
    await notify(producer, topic, f"/buckets/{BUCKET}/{key}", filer_notification(new=name))
    await eventually(lambda: _is(status(api, upload["upload_id"]), "expired"), timeout=120)
    await _handled_up_to_here(app, api, producer, topic)
    assert len(await emitted(app, UploadExpired, upload["upload_id"])) == 1


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def _handled_up_to_here(app: FastAPI, api: httpx.AsyncClient, producer: AIOKafkaProducer, topic: str) -> None:
    """Wait until the subscriber has handled every notification sent to partition 0 so far:
    send one that expires a fresh, already run-out upload, and wait for that."""
    marker = await grant(api, b"marker", expires_in=1)
    await asyncio.sleep(1.1)
    await notify(
        producer, topic, f"/buckets/{BUCKET}/{marker['key']}", filer_notification(new=marker["key"].rsplit("/", 1)[1])
    )
    await eventually(lambda: _is(status(api, marker["upload_id"]), "expired"), timeout=120)
