"""Throughput: events per second through `quota`, against a raw aiokafka consume of the
same events and against the storage floor (the same MongoDB writes, done by a plain script).

Starts the real servers (free ports, a temporary folder) and the quota service as its
own process, then, in the same run:
  * raw:   produce N CloudEvent `upload.completed` records (acks=all, batched) to a topic
           of their own; an already-assigned aiokafka consumer reads them all;
  * floor: the writes quota makes for those N events, straight from this process in bulk,
           in chunks of quota's batch size, no transaction, no reads, on collections with
           quota's indexes: insert the processed-event records, upsert the per-document
           ledger rows, $inc each account's counters, delete the reservations (one
           statement per account, the form quota uses);
  * quota: right after a warm-up of 100 events (so quota's consumer is in its busy fetch, as
           under load; see `quota_throughput`), produce the same N events to
           `docstore.upload.completed`; quota applies each exactly once (batches of events,
           one MongoDB transaction each: processed-event records + per-document ledger +
           account counters + reservations) until its ledger shows all N.
The clock runs from the first send (first write, for the floor) to the last event consumed /
applied. Prints events/s and the ratios quota/raw and quota/floor; `--json` adds one JSON
object as the last line.

    uv run python bench/quota.py [--events 3000] [--accounts 50] [--broker-storage both|s3|memory] [--json]

By default it runs twice, on fresh servers each time: with the broker's log on `s3://` (the
platform's durable broker) and in memory, and compares them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, DeleteMany, UpdateOne

from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses
from docstore_events import KafkaRecord, UploadCompleted, all_topics, encode
from docstore_kit.settings import ServiceSettings
from docstore_messaging.runtime import EventRuntime
from docstore_quota.adapters.repositories import ensure_indexes

FETCH_MAX_WAIT_MS = ServiceSettings.model_fields["kafka_fetch_max_wait_ms"].default
# What quota takes from the broker at once (`EventRuntime(batch_max_records=...)`).
BATCH = EventRuntime.__init__.__kwdefaults__["batch_max_records"]


def events(count: int, accounts: int, run: str) -> list[UploadCompleted]:
    return [
        UploadCompleted(
            account_id=f"bench-{run}-{i % accounts}",
            upload_id=f"u-{run}-{i}",
            document_id=f"d-{run}-{i}",
            bucket="b",
            key=f"k{i}",
            filename="f.txt",
            content_type="text/plain",
            size=1,
            etag="e",
            sha256="s",
        )
        for i in range(count)
    ]


def records(batch: list[UploadCompleted]) -> list[KafkaRecord]:
    return [encode(event, source="/bench") for event in batch]


async def send_all(producer: AIOKafkaProducer, batch: list[KafkaRecord], topic: str | None = None) -> None:
    futures = [
        await producer.send(
            topic or r.topic, r.value, key=r.key, headers=[(k, v.encode()) for k, v in r.headers.items()]
        )
        for r in batch
    ]
    await asyncio.gather(*futures)


async def raw_throughput(bootstrap: str, batch: list[KafkaRecord]) -> float:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    await producer.start()
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        sending = asyncio.create_task(send_all(producer, batch, topic))
        seen = 0
        while seen < len(batch):
            got = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(messages) for messages in got.values())
        elapsed = time.perf_counter() - started
        await sending
    finally:
        await consumer.stop()
        await producer.stop()
    return len(batch) / elapsed


async def storage_floor(mongo_url: str, batch: list[UploadCompleted]) -> float:
    """Events/s of quota's writes for `batch`, done in bulk by this process (see the module)."""
    mongo = AsyncMongoClient(mongo_url)
    db = mongo["docstore_bench_floor"]
    # The same indexes as quota's collections: each write maintains them there too.
    await ensure_indexes(db)
    try:
        expires = datetime.now(UTC) + timedelta(hours=1)
        await db.reservations.insert_many(
            [{"_id": e.upload_id, "account_id": e.account_id, "size": e.size, "expires_at": expires} for e in batch]
        )
        started = time.perf_counter()
        for first in range(0, len(batch), BATCH):
            chunk = batch[first : first + BATCH]
            await db.processed_events.insert_many(
                [{"_id": f"quota:{e.upload_id}", "consumer": "quota", "event_id": e.upload_id} for e in chunk],
                ordered=False,
            )
            await db.document_ledger.bulk_write(
                [
                    UpdateOne(
                        {"_id": e.document_id},
                        {
                            "$set": {
                                "account_id": e.account_id,
                                "bytes": e.size,
                                "current_version": 1,
                                "current_bytes": e.size,
                            }
                        },
                        upsert=True,
                    )
                    for e in chunk
                ],
                ordered=False,
            )
            moved: dict[str, int] = {}
            for e in chunk:
                moved[e.account_id] = moved.get(e.account_id, 0) + e.size
            await db.usage.bulk_write(
                [
                    UpdateOne({"_id": a}, {"$inc": {"used_bytes": n, "stored_bytes": n, "documents": n}}, upsert=True)
                    for a, n in moved.items()
                ],
                ordered=False,
            )
            by_account: dict[str, list[str]] = {}
            for e in chunk:
                by_account.setdefault(e.account_id, []).append(e.upload_id)
            await db.reservations.bulk_write(
                [DeleteMany({"account_id": a, "_id": {"$in": ids}}) for a, ids in by_account.items()], ordered=False
            )
        elapsed = time.perf_counter() - started
    finally:
        await mongo.drop_database("docstore_bench_floor")
        await mongo.close()
    return len(batch) / elapsed


async def applied(usage: Any, run: str, count: int) -> None:
    """Wait until quota's usage counts `count` one-byte uploads of the run's accounts."""
    pipeline = [
        {"$match": {"_id": {"$regex": f"^bench-{run}-"}}},
        {"$group": {"_id": None, "n": {"$sum": "$stored_bytes"}}},
    ]
    while True:
        rows = [row async for row in await usage.aggregate(pipeline)]
        done = rows[0]["n"] if rows else 0
        sys.stderr.write(f"\rquota applied {done}/{count}")
        if done >= count:
            break
        await asyncio.sleep(0.05)
    sys.stderr.write("\n")


async def quota_throughput(
    bootstrap: str, mongo_url: str, uploads: list[UploadCompleted], run: str, *, warm_up: int = 100
) -> float:
    """Events/s through quota for `uploads`, timed from the first send until its ledger shows
    them all. Right before the clock starts, `warm_up` events of 5 other accounts go through
    (the run waits until they are applied), so quota's consumer fetches with its busy wait, as
    under sustained load: after an idle spell of `FetchWaitPolicy.idle_after_s` it fetches with
    the long wait, and on Tansu the first record then waits up to half of it (fetch_wait.py),
    a start-up delay that the event rate should not carry. With the warm-up at the start of the
    bench (the setup between it and this run takes about 5 s), runs of 3,000 events came out at
    870-904 events/s when the first batch was applied after 21-24 polls of the ledger, and at
    1,074-1,170 when after 3-5."""
    batch = records(uploads)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    mongo = AsyncMongoClient(mongo_url)
    usage = mongo["docstore_quota_us_west_2"]["usage"]
    # Every upload holds a reservation until its completion is counted, as in real use.
    reservations = mongo["docstore_quota_us_west_2"]["reservations"]
    expires = datetime.now(UTC) + timedelta(hours=1)
    await reservations.insert_many(
        [{"_id": e.upload_id, "account_id": e.account_id, "size": e.size, "expires_at": expires} for e in uploads]
    )
    try:
        if warm_up:
            warm = uuid.uuid4().hex[:6]
            await send_all(producer, records(events(warm_up, 5, warm)))
            await applied(usage, warm, warm_up)
        started = time.perf_counter()
        sending = asyncio.create_task(send_all(producer, batch))
        await applied(usage, run, len(batch))
        elapsed = time.perf_counter() - started
        await sending
    finally:
        await producer.stop()
        await mongo.close()
    return len(batch) / elapsed


def measure(count: int, accounts: int, storage: str) -> dict[str, Any]:
    """One run on fresh servers whose broker keeps its log in `storage` (s3 or memory)."""
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), broker_storage=storage)
        print(f"starting servers (broker log: {storage}) and the quota service ...", file=sys.stderr)
        endpoints = servers.start()
        quota = ServiceProcesses(
            endpoints, Path(folder) / "services", names=["quota"], extra_env={"QUOTA_RECONCILE_INTERVAL_SECONDS": "0"}
        )
        try:
            quota.start()
            run = uuid.uuid4().hex[:6]
            batch = events(count, accounts, run)
            raw = asyncio.run(raw_throughput(endpoints.kafka_bootstrap, records(batch)))
            floor = asyncio.run(storage_floor(endpoints.mongo_url, batch))
            through_quota = asyncio.run(quota_throughput(endpoints.kafka_bootstrap, endpoints.mongo_url, batch, run))
        finally:
            quota.stop()
            servers.stop()
    print(
        f"\nbroker log {storage}: {count} upload.completed events over {accounts} accounts, 3 partitions; "
        f"fetch wait {FETCH_MAX_WAIT_MS} ms"
    )
    print(f"{'raw aiokafka consume':40} {raw:10.0f} events/s")
    print(f"{'storage floor (bulk writes, no reads)':40} {floor:10.0f} events/s   batches of {BATCH}")
    print(f"{'through quota (applied exactly once)':40} {through_quota:10.0f} events/s")
    print(f"{'ratio quota / raw':40} {through_quota / raw:10.3f}")
    print(f"{'ratio quota / floor':40} {through_quota / floor:10.2f}   (goal >= 0.8, and >= 1,000 events/s)")
    return {
        "bench": "quota",
        "broker_storage": storage,
        "events": count,
        "accounts": accounts,
        "batch": BATCH,
        "events_per_s": round(through_quota, 1),
        "raw_consume_per_s": round(raw, 1),
        "storage_floor_per_s": round(floor, 1),
        "ratio_raw": round(through_quota / raw, 4),
        "ratio_floor": round(through_quota / floor, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument(
        "--broker-storage",
        choices=["both", "s3", "memory"],
        default="both",
        help="the broker's log: the durable s3:// one (the platform's), memory://, or both in one run (default)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures per engine")
    args = parser.parse_args()
    engines = ["s3", "memory"] if args.broker_storage == "both" else [args.broker_storage]
    runs = [measure(args.events, args.accounts, storage) for storage in engines]
    if len(runs) == 2:
        durable, memory = runs
        print("\ndurable (s3) against in-memory broker log, events/s:")
        for key in ("raw_consume_per_s", "events_per_s"):
            print(f"  {key:18} {durable[key]:10.0f} against {memory[key]:10.0f}   ({durable[key] / memory[key]:.2f} x)")
    if args.json:
        for figures in runs:
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
