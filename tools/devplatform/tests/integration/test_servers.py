"""The real local servers, started on auto ports in a temporary directory."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from bson import Code, ObjectId
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import PyMongoError

from docstore_devplatform import broker_retention, probes
from docstore_devplatform.broker_retention import parse
from docstore_devplatform.launch import KAFKA_LOG_BUCKET, SECANTUS_LAUNCHER
from docstore_devplatform.paths import find_binaries
from docstore_devplatform.ports import DEFAULT_PORTS
from docstore_devplatform.servers import SERVER_NAMES, Endpoints, Servers, StartupError

pytestmark = pytest.mark.integration

TOPIC = "devplatform.test.v1"
BUCKET = "docstore-us-west-2"
ORIGIN = "http://localhost:5173"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    platform = Servers(
        tmp_path_factory.mktemp("servers"), topics=[TOPIC, f"{TOPIC}.dlq"], buckets=[BUCKET], cors_origins=[ORIGIN]
    )
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture(scope="module")
def endpoints(servers: Servers) -> Endpoints:
    return servers.endpoints


def _s3(endpoints: Endpoints):
    return probes.s3_client(endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)


async def test_kafka_topics_exist_with_three_partitions_and_round_trip(endpoints: Endpoints):
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        assert len(await producer.partitions_for(TOPIC)) == 3
        await producer.send_and_wait(TOPIC, b"hello", key=b"k1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=endpoints.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"k1", b"hello")


async def test_mongo_transaction_commits(endpoints: Endpoints):
    client = AsyncMongoClient(endpoints.mongo_url)
    db = client["devplatform_test"]
    try:
        async with client.start_session() as session, await session.start_transaction():
            await db.a.insert_one({"_id": 1}, session=session)
            await db.b.insert_one({"_id": 1}, session=session)
        assert await db.a.count_documents({}) == 1 and await db.b.count_documents({}) == 1
    finally:
        await client.close()


async def test_mongo_updates_keep_every_index_right(endpoints: Endpoints):
    """The launcher rewrites only the indexes an update changes and reads the index catalog once a
    statement (`secantusd._statement_writes`): after updates of unindexed, indexed, multikey,
    partial-filter and unique fields, in a transaction and as a multi-update outside one, then
    deletes and an index made between statements, each index finds exactly what it should."""
    client = AsyncMongoClient(endpoints.mongo_url)
    docs = client["devplatform_test"][f"indexes_{uuid.uuid4().hex[:8]}"]
    await docs.create_index("a")
    await docs.create_index("tags")
    await docs.create_index("b", partialFilterExpression={"flag": True})
    await docs.create_index("u", unique=True)

    async def found(index: str, query: dict) -> list[int]:
        return sorted([row["_id"] async for row in docs.find(query, {"_id": 1}).hint(index)])

    try:
        await docs.insert_many(
            [{"_id": n, "a": n, "tags": ["x", f"t{n}"], "b": 1, "flag": True, "u": n} for n in (1, 2)]
        )
        async with client.start_session() as session, await session.start_transaction():
            await docs.update_one({"_id": 1}, {"$set": {"note": "unindexed"}}, session=session)
            await docs.update_one({"_id": 2}, {"$set": {"a": 20, "tags": ["y"], "u": 3}}, session=session)
        await docs.update_many({}, {"$set": {"note": "again"}})
        await docs.update_many({"_id": 1}, {"$set": {"flag": False}})

        assert await found("a_1", {"a": 1}) == [1]
        assert await found("a_1", {"a": 2}) == []
        assert await found("a_1", {"a": 20}) == [2]
        assert await found("tags_1", {"tags": "x"}) == [1]
        assert await found("tags_1", {"tags": "y"}) == [2]
        assert await found("b_1", {"b": 1, "flag": True}) == [2]
        await docs.insert_one({"_id": 3, "u": 2})  # the unique value 2 left with the update
        with pytest.raises(PyMongoError):
            await docs.insert_one({"_id": 4, "u": 3})

        # Deletes release what they held; an index made between statements is written by the next.
        await docs.delete_one({"_id": 2})
        await docs.delete_many({"_id": {"$in": [1, 3]}})
        await docs.create_index("late")
        await docs.insert_many([{"_id": 5, "u": 3, "a": 1}, {"_id": 6, "late": 1, "u": 6}])
        assert await found("a_1", {"a": 1}) == [5]
        assert await found("late_1", {"late": 1}) == [6]
        assert await found("tags_1", {"tags": "x"}) == []
    finally:
        await docs.drop()
        await client.close()


async def test_mongo_in_matches_by_value_and_type(endpoints: Endpoints):
    """`$in` over strings and ObjectIds (the launcher's set lookup, `secantusd._set_membership_in`)
    finds values and array elements of the same type only; a mixed list is matched as before."""
    client = AsyncMongoClient(endpoints.mongo_url)
    docs = client["devplatform_test"][f"in_{uuid.uuid4().hex[:8]}"]
    oid = ObjectId()
    try:
        await docs.insert_many(
            [
                {"_id": 1, "v": "a"},
                {"_id": 2, "v": ["x", "b"]},
                {"_id": 3, "v": oid},
                {"_id": 4, "v": str(oid)},
                {"_id": 5, "v": 1},
                {"_id": 6, "v": Code("a")},
                {"_id": 7},
            ]
        )

        async def found(candidates: list) -> list[int]:
            return sorted([row["_id"] async for row in docs.find({"v": {"$in": candidates}}, {"_id": 1})])

        assert await found(["a", "b"]) == [1, 2]
        assert await found([oid]) == [3]
        assert await found([str(oid), "A"]) == [4]
        assert await found(["a", 1.0, None]) == [1, 5, 7]  # numbers bridge types; null finds the missing
    finally:
        await docs.drop()
        await client.close()


def test_s3_put_get_and_presigned_post_checks_policy(endpoints: Endpoints):
    s3 = _s3(endpoints)
    s3.put_object(Bucket=BUCKET, Key="a/b.txt", Body=b"content")
    assert s3.get_object(Bucket=BUCKET, Key="a/b.txt")["Body"].read() == b"content"

    post = s3.generate_presigned_post(
        BUCKET,
        "uploads/ok.txt",
        Fields={"Content-Type": "text/plain"},
        Conditions=[{"Content-Type": "text/plain"}, ["content-length-range", 1, 1024]],
        ExpiresIn=60,
    )
    ok = httpx.post(post["url"], data=post["fields"], files={"file": ("ok.txt", b"hi", "text/plain")})
    assert ok.status_code in (200, 204), ok.text
    assert s3.get_object(Bucket=BUCKET, Key="uploads/ok.txt")["Body"].read() == b"hi"

    tampered = {**post["fields"], "key": "uploads/other.txt"}
    refused = httpx.post(post["url"], data=tampered, files={"file": ("ok.txt", b"hi", "text/plain")})
    assert refused.status_code == 403, refused.text


def test_s3_bucket_cors_allows_only_the_configured_origin(endpoints: Endpoints):
    url = f"{endpoints.s3_endpoint}/{BUCKET}/any"
    preflight = {"Access-Control-Request-Method": "PUT"}
    allowed = httpx.options(url, headers={"Origin": ORIGIN, **preflight})
    assert allowed.headers.get("access-control-allow-origin") == ORIGIN
    assert "ETag" in allowed.headers.get("access-control-expose-headers", "")
    refused = httpx.options(url, headers={"Origin": "http://evil.test", **preflight})
    assert "access-control-allow-origin" not in refused.headers


async def test_s3_publishes_each_object_written_to_its_events_topic(endpoints: Endpoints):
    key = f"notified/{uuid.uuid4()}.txt"
    _s3(endpoints).put_object(Bucket=BUCKET, Key=key, Body=b"hello")
    consumer = AIOKafkaConsumer(
        endpoints.s3_events_topic, bootstrap_servers=endpoints.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:

        async def arrived():
            batch = await consumer.getmany(timeout_ms=500)
            return [m for messages in batch.values() for m in messages if m.key == f"/buckets/{BUCKET}/{key}".encode()]

        deadline = asyncio.get_running_loop().time() + 15
        while not (found := await arrived()) and asyncio.get_running_loop().time() < deadline:
            pass
    finally:
        await consumer.stop()
    [message] = found
    assert message.value.startswith(b"\x12")  # filer_pb.EventNotification with only new_entry (field 2)


def test_ses_mail_is_readable_from_moto(endpoints: Endpoints):
    env = endpoints.service_env()
    ses = boto3.client(
        "ses",
        endpoint_url=env["AWS_ENDPOINT_URL_SES"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    subject = f"test {uuid.uuid4()}"
    ses.verify_email_identity(EmailAddress="noreply@docstore.test")
    ses.send_email(
        Source="noreply@docstore.test",
        Destination={"ToAddresses": ["user@docstore.test"]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "body"}}},
    )
    sent = httpx.get(f"{endpoints.aws_endpoint}/moto-api/data.json").json()["ses"]["Message"]
    assert any(m["subject"] == subject for m in sent)


def test_typesense_is_healthy_and_checks_the_key(endpoints: Endpoints):
    assert httpx.get(f"{endpoints.typesense_url}/health").json() == {"ok": True}
    headers = {"X-TYPESENSE-API-KEY": endpoints.typesense_api_key}
    assert httpx.get(f"{endpoints.typesense_url}/collections", headers=headers).status_code == 200
    assert httpx.get(f"{endpoints.typesense_url}/collections").status_code == 401


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_mongo_is_secantus_started_through_the_launcher(servers: Servers):
    """`secantusd.py` (SecantusDB with the fixes named there) is what runs, and it answers as SecantusDB."""
    command = Path(f"/proc/{servers.pids()['mongo']}/cmdline").read_bytes().split(b"\0")
    assert str(SECANTUS_LAUNCHER).encode() in command
    with MongoClient(servers.endpoints.mongo_url, serverSelectionTimeoutMS=30_000) as client:
        assert "secantusVersion" in client.admin.command("buildInfo")


def test_auto_ports_use_no_default_port(servers: Servers):
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    pids = {f"pid={pid}," for pid in servers.pids().values()}
    ports = {int(line.split()[3].rsplit(":", 1)[1]) for line in listening.splitlines() if any(p in line for p in pids)}
    assert len(ports) >= 14  # tansu 1, secantus 1, weed 10, moto 1, typesense 2
    assert not ports & DEFAULT_PORTS
    assert ports <= servers.ports.all_ports()


def test_kafka_restart_recreates_topics(servers: Servers):
    servers.stop_one("kafka", kill=True)
    servers.start_one("kafka")
    assert TOPIC in probes.check_kafka(servers.endpoints.kafka_bootstrap)


async def test_the_broker_log_survives_kill_9_and_consumers_resume_where_they_committed(servers: Servers):
    """Tansu on ``s3://`` keeps topics, records and committed offsets across ``kill -9``.

    What a consumer relies on after the restart: Tansu 0.6's ListOffsets(latest) is computed from
    the batch object with the newest S3 timestamp (one-second granularity, the first of a tie,
    a multi-record batch counted as one), so the *reported* end may be below the real one (181 or
    68 for 200 records); Fetch reads up to the true high watermark (``watermark.json``) and never
    answers OffsetOutOfRange. So a group resumes at its committed offset: behind it, it reads
    exactly what it had not taken (no reset to earliest, no re-read); at the end, nothing until
    the next record, which gets the next offset (no record overwritten)."""
    topic = f"devplatform.durable.{uuid.uuid4().hex[:8]}"
    bootstrap = servers.endpoints.kafka_bootstrap
    probes.create_topics(bootstrap, [topic], partitions=1)
    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = await asyncio.gather(*[await producer.send(topic, f"r{i}".encode()) for i in range(200)])
    finally:
        await producer.stop()
    assert sorted(m.offset for m in sent) == list(range(200))
    for group, offset in (("caught-up", 200), ("behind", 120)):
        await _commit(bootstrap, group, tp, offset)

    servers.stop_one("kafka", kill=True)
    servers.start_one("kafka")

    assert topic in probes.check_kafka(bootstrap)
    behind = await _read_group(bootstrap, "behind", tp, until=199)
    assert [(m.offset, m.value) for m in behind] == [(i, f"r{i}".encode()) for i in range(120, 200)]
    consumer = _group_consumer(bootstrap, "caught-up")
    await consumer.start()
    try:
        consumer.assign([tp])
        assert (await consumer.committed(tp), await consumer.position(tp)) == (200, 200)
        assert await consumer.getmany(tp, timeout_ms=1000) == {}  # nothing to re-read
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            assert (await producer.send_and_wait(topic, b"next")).offset == 200
        finally:
            await producer.stop()
        fetched = await consumer.getmany(tp, timeout_ms=15_000)
        assert [(m.offset, m.value) for m in fetched.get(tp, [])] == [(200, b"next")]
    finally:
        await consumer.stop()
    await asyncio.to_thread(probes.delete_topics, bootstrap, [topic])


async def test_retention_deletes_only_batches_every_group_has_read(servers: Servers):
    """Tansu 0.6's ``s3://`` engine keeps every batch for ever (its Fetch lists them all on each
    read); the supervisor's retention sweep deletes old batches that every group that committed
    on the topic has read, never a partition's last, and the groups read on as before."""
    topic = f"devplatform.retained.{uuid.uuid4().hex[:8]}"
    bootstrap = servers.endpoints.kafka_bootstrap
    probes.create_topics(bootstrap, [topic], partitions=1)
    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(3):  # three batches: base offsets 0, 1, 2
            assert (await producer.send_and_wait(topic, f"r{i}".encode())).offset == i
    finally:
        await producer.stop()
    await _commit(bootstrap, "ahead", tp, 2)
    await _commit(bootstrap, "behind", tp, 1)
    store = probes.s3_client(
        f"http://127.0.0.1:{servers.ports.kafka_log_s3}",
        servers.endpoints.s3_access_key,
        servers.endpoints.s3_secret_key,
    )

    def batches() -> list[int]:
        listed = store.list_objects_v2(Bucket=KAFKA_LOG_BUCKET, Prefix="clusters/")
        found = [parse(item["Key"], item["LastModified"]) for item in listed.get("Contents", [])]
        return sorted(b.offset for b in found if b is not None and b.topic == topic)

    def sweep_now() -> None:
        later = datetime.now(UTC) + timedelta(seconds=5)
        broker_retention.sweep(store, KAFKA_LOG_BUCKET, retention=timedelta(0), now=later)

    assert batches() == [0, 1, 2]
    await asyncio.to_thread(sweep_now)
    assert batches() == [1, 2]  # "behind" has not read record 1
    await _commit(bootstrap, "behind", tp, 2)
    await asyncio.to_thread(sweep_now)
    assert batches() == [2]  # both read everything: the last batch stays
    read = await _read_group(bootstrap, "ahead", tp, until=2)
    assert [(m.offset, m.value) for m in read] == [(2, b"r2")]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        assert (await producer.send_and_wait(topic, b"next")).offset == 3
    finally:
        await producer.stop()
    fresh = await _read_group(bootstrap, f"fresh-{uuid.uuid4().hex[:6]}", tp, until=3)
    assert [(m.offset, m.value) for m in fresh] == [(2, b"r2"), (3, b"next")]  # from the oldest left
    await asyncio.to_thread(probes.delete_topics, bootstrap, [topic])


def _group_consumer(bootstrap: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )


async def _commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = _group_consumer(bootstrap, group)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def _read_group(bootstrap: str, group: str, tp: TopicPartition, *, until: int) -> list:
    consumer = _group_consumer(bootstrap, group)
    await consumer.start()
    read: list = []
    try:
        consumer.assign([tp])
        async with asyncio.timeout(30):
            while not read or read[-1].offset < until:
                read += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
    finally:
        await consumer.stop()
    return read


def test_s3_keeps_objects_across_a_crash(servers: Servers):
    s3 = _s3(servers.endpoints)
    s3.put_object(Bucket=BUCKET, Key="durable.txt", Body=b"still here")
    servers.stop_one("s3", kill=True)
    servers.start_one("s3")
    assert s3.get_object(Bucket=BUCKET, Key="durable.txt")["Body"].read() == b"still here"


def test_mongo_keeps_every_acknowledged_transaction_across_kill_9(servers: Servers):
    """Five writers commit two-document transactions as fast as they can; SecantusDB is killed
    with SIGKILL under them. After the restart every transaction it acknowledged is there (with
    SecantusDB's default, commits not synced, the last ones acknowledged were gone: 1-13 of
    ~300-600 in three runs; issue 32)."""
    url = servers.endpoints.mongo_url
    acknowledged: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        with MongoClient(url, serverSelectionTimeoutMS=5000, socketTimeoutMS=5000, retryWrites=False) as client:
            db = client[f"durable_{number}"]
            index = 0
            while not stop.is_set():
                key = f"{number}-{index}"
                try:
                    with client.start_session() as session, session.start_transaction():
                        db.sessions.insert_one({"_id": key}, session=session)
                        db.outbox.insert_one({"_id": key}, session=session)
                except PyMongoError as error:
                    if not stop.is_set():
                        errors.append(error)
                    return
                acknowledged.append(key)
                index += 1

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 100 and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    assert not errors and len(acknowledged) >= 100, errors
    time.sleep(0.5)  # commits going on at full speed when it dies
    servers.stop_one("mongo", kill=True)
    stop.set()
    for thread in writers:
        thread.join(timeout=30)
    servers.start_one("mongo")
    with MongoClient(url, serverSelectionTimeoutMS=30_000) as client:
        kept = {
            (row["_id"], collection)
            for number in range(5)
            for collection in ("sessions", "outbox")
            for row in client[f"durable_{number}"][collection].find({}, {"_id": 1})
        }
        for number in range(5):
            client.drop_database(f"durable_{number}")
    lost = [key for key in acknowledged if {(key, "sessions"), (key, "outbox")} - kept]
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged transactions lost: {lost[:5]}"


def test_stop_leaves_no_child_alive(servers: Servers):
    pids = list(servers.pids().values())
    assert len(pids) == len(SERVER_NAMES)
    servers.stop()
    assert servers.pids() == {}
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} survived stop()"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_server_that_cannot_start_fails_with_its_log_tail(tmp_path: Path):
    broken = tmp_path / "secantusd-broken"
    broken.write_text("#!/bin/sh\necho 'boom: cannot open storage' >&2\nexit 3\n")
    broken.chmod(0o755)
    platform = Servers(tmp_path, binaries=dataclasses.replace(find_binaries(), secantusd=broken, servers_python=None))
    with pytest.raises(StartupError) as failure:
        platform.start()
    message = str(failure.value)
    assert "mongo" in message and "exited with status 3" in message and "boom: cannot open storage" in message
    assert platform.pids() == {}
