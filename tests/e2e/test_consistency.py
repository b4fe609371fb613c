"""The consistency checks on the running system (issue 32).

* Upload's: a completed upload whose `upload.completed` never reached metadata nor quota (what
  older versions left behind when the broker forgot events: the session says completed, the
  outbox row says published, nothing else knows) is found, published again under its original
  event id, and applied exactly once: the document is listed, quota counts its bytes once, and
  the metrics say what was repaired.
* Metadata's: a version whose `file.version-recorded` the indexer never applied (its catalog
  entry and processed record gone) is published again under its id and catalogued once.
* The outbox checks (metadata's, the indexer's, quota's): an event a consumer never applied (its
  processed record gone) is published again from the producer's outbox row under its id and
  applied once: metadata's `file.trashed` by quota and `account.created` by notify, the
  indexer's `document.indexed` by metadata, quota's `quota.warning-reached` by notify (its
  mail owed again)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from docstore_devplatform import probes
from docstore_devplatform.e2e import FREE_CAP_BYTES, PASSWORD, REGION_A, eventually, sign_up, upload
from docstore_events import UploadCompleted
from docstore_events.envelope import encode
from docstore_metadata.domain.consistency import version_recorded_event_id

ADMIN = "admin-e2e"  # ACCOUNTS_ADMIN_USERNAMES of the e2e system
DB = "docstore_{service}_us_west_2"


async def admin_auth(api: httpx.AsyncClient) -> dict[str, str]:
    created = await api.post(
        "/v1/accounts", json={"username": ADMIN, "email": f"{ADMIN}@example.com", "password": PASSWORD}
    )
    assert created.status_code in (201, 409), created.text
    login = await api.post("/v1/sessions", json={"username": ADMIN, "password": PASSWORD})
    assert login.status_code == 201, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def repaired_total(system: Any, consumer: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system.urls['upload']}/metrics")).text
    pattern = rf'^docstore_consistency_repaired_total\{{check="upload.completed",consumer="{consumer}"\}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def left_behind(
    mongo: AsyncMongoClient[Any], endpoints: Any, account_id: str, data: bytes
) -> tuple[str, str, str]:
    """A completed upload as an older version left it: object in S3, session completed long ago
    (no kept event id), its outbox row published under a random id, and no consumer ever saw it.
    Returns (upload id, document id, event id)."""
    upload_id, document_id = f"up-{uuid.uuid4().hex}", str(uuid.uuid4())
    key = f"{REGION_A}/{account_id}/{document_id}/{upload_id}"
    s3 = probes.s3_client(endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)
    put = await asyncio.to_thread(s3.put_object, Bucket=f"docstore-{REGION_A}", Key=key, Body=data)
    # Long ago, so the check judges it (a recent completion's event may still be on its way).
    finished_at = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(microseconds=uuid.uuid4().int % 10**6)
    session = {
        "_id": upload_id,
        "account_id": account_id,
        "actor_id": account_id,
        "document_id": document_id,
        "key": key,
        "filename": f"left-behind-{upload_id[-6:]}.txt",
        "content_type": "text/plain",
        "declared_size": len(data),
        "path": "/",
        "tags": [],
        "title": None,
        "base_version": None,
        "status": "completed",
        "finished_at": finished_at,
        "expires_at": finished_at,
        "stored": {"size": len(data), "etag": put["ETag"], "sha256": hashlib.sha256(data).hexdigest()},
    }
    db = mongo[DB.format(service="upload")]
    await db.upload_sessions.insert_one(session)
    event = UploadCompleted(
        account_id=account_id,
        upload_id=upload_id,
        document_id=document_id,
        bucket=f"docstore-{REGION_A}",
        key=key,
        filename=session["filename"],
        content_type="text/plain",
        size=len(data),
        etag=put["ETag"],
        sha256=session["stored"]["sha256"],
    )
    record = encode(event, source=f"/docstore/{REGION_A}/upload")  # a random id, as before ids were derived
    await db.outbox.insert_one(
        {
            "_id": record.id,
            "seq": [time.time_ns(), 0],
            "status": "published",  # handed to a broker that then forgot it
            "topic": record.topic,
            "key": record.key,
            "value": record.value,
            "headers": record.headers,
            "created_at": finished_at,
            "published_at": finished_at,
        }
    )
    return upload_id, document_id, record.id


async def test_an_upload_no_consumer_applied_is_published_again_and_applied_once(api, system, endpoints) -> None:
    user = await sign_up(api)
    admin = await admin_auth(api)
    data = b"a document the broker forgot\n" * 7
    before = {consumer: await repaired_total(system, consumer) for consumer in ("metadata", "quota")}
    async with AsyncMongoClient(endpoints.mongo_url, tz_aware=True) as mongo:
        upload_id, document_id, original = await left_behind(mongo, endpoints, user.account_id, data)

        findings: list[dict[str, Any]] = []

        async def check_now() -> list[dict[str, Any]]:
            ran = await api.post("/v1/admin/consistency/uploads", headers=admin, params={"pages": 1000})
            assert ran.status_code == 200, ran.text
            (report,) = ran.json()["checks"] or [{"findings": []}]
            mine = [f for f in report["findings"] if f["fact"] == upload_id]
            findings.extend(mine)
            return mine

        async def listed() -> bool:
            got = await api.get(f"/v1/documents/{document_id}", headers=user.auth)
            return got.status_code == 200

        # A run starts where the last one stopped and goes to the end: two runs see every fact.
        # (The check's background run may also get there first: the outcome is the same.)
        for _ in range(2):
            if await check_now() or await listed():
                break
        assert await eventually(listed, timeout=90), "the document came back"

        async def counted() -> bool:
            usage = await api.get("/v1/usage", headers=user.auth)
            return usage.status_code == 200 and usage.json()["used_bytes"] == len(data)

        assert await eventually(counted, timeout=90), "quota counts the bytes"
        for _ in range(2):  # a whole pass more: nothing left to repair for this upload
            assert await check_now() == []

        metadata_db = mongo[DB.format(service="metadata")]
        assert await metadata_db.versions.count_documents({"upload_id": upload_id}) == 1
        # Applied once by each consumer (the audit trail, in accounts, keeps a record of its own).
        assert await metadata_db.processed_events.count_documents({"_id": f"metadata:{original}"}) == 1
        session = await mongo[DB.format(service="upload")].upload_sessions.find_one({"_id": upload_id})
        assert session["completed_event_id"] == original  # found in the outbox once, kept from now on
        quota_db = mongo[DB.format(service="quota")]
        assert await quota_db.processed_events.count_documents({"_id": f"quota:{original}"}) == 1
    assert [(f["event_id"], sorted(f["consumers"]), f["repaired"]) for f in findings] in (
        [],  # the background run repaired it
        [(original, ["metadata", "quota"], True)],
    )
    usage = (await api.get("/v1/usage", headers=user.auth)).json()
    assert usage["used_bytes"] == len(data)  # counted once
    for consumer in ("metadata", "quota"):
        assert await repaired_total(system, consumer) >= before[consumer] + 1


async def test_a_version_the_indexer_never_applied_is_published_again_and_catalogued_once(
    api, system, endpoints
) -> None:
    user = await sign_up(api)
    admin = await admin_auth(api)
    done = await upload(api, user, "catalogued.txt", b"words the indexer should know\n")
    document_id = done["document_id"]
    catalog_id = f"{user.account_id}:{document_id}"
    async with AsyncMongoClient(endpoints.mongo_url, tz_aware=True) as mongo:
        metadata_db, indexer_db = mongo[DB.format(service="metadata")], mongo[DB.format(service="indexer")]

        async def catalogued() -> bool:
            return await indexer_db.catalog.find_one({"_id": catalog_id, "upload_id": {"$ne": None}}) is not None

        assert await eventually(catalogued, timeout=90)
        event_id = version_recorded_event_id(document_id, 1)
        assert await indexer_db.processed_events.count_documents({"_id": f"indexer:{event_id}"}) == 1
        # The event "never reached" the indexer: its effect and its record gone, the version
        # recorded long ago (so the check judges it).
        await indexer_db.catalog.delete_one({"_id": catalog_id})
        await indexer_db.processed_events.delete_one({"_id": f"indexer:{event_id}"})
        await metadata_db.versions.update_one(
            {"_id": f"{document_id}:1"}, {"$set": {"created_at": datetime(2001, 1, 1, tzinfo=UTC)}}
        )
        findings: list[dict[str, Any]] = []

        async def check_now() -> list[dict[str, Any]]:
            ran = await api.post("/v1/admin/consistency/metadata", headers=admin, params={"pages": 1000})
            assert ran.status_code == 200, ran.text
            reports = {report["check"]: report for report in ran.json()["checks"]}
            found = reports.get("file.version-recorded", {"findings": []})["findings"]
            mine = [f for f in found if f["fact"] == f"{document_id}:1"]
            findings.extend(mine)
            return mine

        for _ in range(2):  # two runs see every fact (the background run may get there first)
            if await check_now() or await catalogued():
                break
        assert await eventually(catalogued, timeout=90), "the catalog entry came back"
        for _ in range(2):
            assert await check_now() == []
        assert await indexer_db.processed_events.count_documents({"_id": f"indexer:{event_id}"}) == 1
    assert [(f["event_id"], f["consumers"], f["repaired"]) for f in findings] in (
        [],
        [(event_id, ["indexer"], True)],
    )


async def outbox_row(db: Any, topic: str, *needles: str) -> dict[str, Any] | None:
    """The published outbox row on `topic` whose value holds every one of `needles`."""
    async for row in db.outbox.find({"topic": topic, "status": "published"}):
        if all(needle.encode() in row["value"] for needle in needles):
            return dict(row)
    return None


async def metric(system: Any, service: str, name: str, check: str, consumer: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system.urls[service]}/metrics")).text
    found = re.search(rf'^{name}\{{check="{re.escape(check)}",consumer="{consumer}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def assert_outbox_row_repaired(
    api: httpx.AsyncClient,
    system: Any,
    mongo: AsyncMongoClient[Any],
    *,
    producer: str,
    check: str,
    consumer: str,
    topic: str,
    needles: tuple[str, ...],
    effect: str | None = None,
) -> None:
    """An event of `producer`'s, applied by `consumer`, "never reached" it (its processed record
    removed by hand, and with `effect` the row of that collection the consumer keyed by the event
    id; the outbox row published long ago, so the check judges it): the outbox check finds it,
    publishes the row again under its id, `consumer` applies it once more, and the
    `docstore_consistency_{found,repaired}_total` counters of `producer` say so."""
    admin = await admin_auth(api)
    producer_db, consumer_db = mongo[DB.format(service=producer)], mongo[DB.format(service=consumer)]
    row = await eventually(lambda: outbox_row(producer_db, topic, *needles), timeout=90)
    record = f"{consumer}:{row['_id']}"

    async def applied() -> bool:
        return await consumer_db.processed_events.count_documents({"_id": record}) == 1

    assert await eventually(applied, timeout=90)
    before = {
        name: await metric(system, producer, name, check, consumer)
        for name in ("docstore_consistency_found_total", "docstore_consistency_repaired_total")
    }
    await consumer_db.processed_events.delete_one({"_id": record})
    if effect is not None:
        assert (await consumer_db[effect].delete_one({"_id": row["_id"]})).deleted_count == 1
    await producer_db.outbox.update_one({"_id": row["_id"]}, {"$set": {"created_at": datetime(2001, 1, 1, tzinfo=UTC)}})
    findings: list[dict[str, Any]] = []

    async def check_now() -> list[dict[str, Any]]:
        ran = await api.post(f"/v1/admin/consistency/{producer}", headers=admin, params={"pages": 1000})
        assert ran.status_code == 200, ran.text
        reports = {report["check"]: report for report in ran.json()["checks"]}
        mine = [f for f in reports.get(check, {"findings": []})["findings"] if f["fact"] == row["_id"]]
        findings.extend(mine)
        return mine

    for _ in range(2):  # two runs see every row (the background run may get there first)
        if await check_now() or await applied():
            break
    assert await eventually(applied, timeout=90), f"{consumer} applied the event again"
    if effect is not None:
        assert await consumer_db[effect].count_documents({"_id": row["_id"]}) == 1
    for _ in range(2):
        assert await check_now() == []
    assert [(f["event_id"], f["consumers"], f["repaired"]) for f in findings] in (
        [],
        [(row["_id"], [consumer], True)],
    )
    for name, value in before.items():
        assert await metric(system, producer, name, check, consumer) >= value + 1, name


async def test_an_event_quota_never_applied_is_published_again_from_the_outbox_once(api, system, endpoints) -> None:
    user = await sign_up(api)
    done = await upload(api, user, "to-trash.txt", b"bytes in the trash\n")
    document_id = done["document_id"]

    async def listed() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=user.auth)).status_code == 200

    assert await eventually(listed, timeout=90)
    assert (await api.delete(f"/v1/documents/{document_id}", headers=user.auth)).status_code in (200, 204)
    async with AsyncMongoClient(endpoints.mongo_url, tz_aware=True) as mongo:
        await assert_outbox_row_repaired(
            api, system, mongo, producer="metadata", check="metadata.outbox", consumer="quota",
            topic="docstore.file.trashed", needles=(document_id,),
        )  # fmt: skip


async def test_a_sign_up_notify_never_applied_is_published_again_once(api, system, endpoints) -> None:
    """The accounts service's `account.created`, which notify keeps the account's address from."""
    user = await sign_up(api)
    async with AsyncMongoClient(endpoints.mongo_url, tz_aware=True) as mongo:
        await assert_outbox_row_repaired(
            api, system, mongo, producer="accounts", check="accounts.outbox", consumer="notify",
            topic="docstore.account.created", needles=(user.account_id,),
        )  # fmt: skip


async def test_an_index_outcome_metadata_never_applied_is_published_again_once(api, system, endpoints) -> None:
    """The indexer's `document.indexed` (Premium: full text), which metadata keeps a document's
    full-text state from."""
    user = await sign_up(api, plan="premium")
    done = await upload(api, user, "outcome.txt", b"words for the index\n")
    async with AsyncMongoClient(endpoints.mongo_url, tz_aware=True) as mongo:
        await assert_outbox_row_repaired(
            api, system, mongo, producer="indexer", check="indexer.outbox", consumer="metadata",
            topic="docstore.document.indexed", needles=(done["document_id"],),
        )  # fmt: skip


async def test_a_quota_warning_notify_never_applied_is_published_again_and_owed_again(api, system, endpoints) -> None:
    """Quota's `quota.warning-reached`: notify never recorded the mail (its notification, keyed by
    the event id, and its processed record gone); the repair makes it owe the mail again."""
    user = await sign_up(api, plan="free")
    await upload(api, user, "big.bin", b"w" * (FREE_CAP_BYTES * 80 // 100), "application/octet-stream")
    async with AsyncMongoClient(endpoints.mongo_url, tz_aware=True) as mongo:
        await assert_outbox_row_repaired(
            api, system, mongo, producer="quota", check="quota.outbox", consumer="notify",
            topic="docstore.quota.warning-reached", needles=(user.account_id,), effect="notifications",
        )  # fmt: skip
