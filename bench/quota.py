"""Throughput: events per second through `quota`, against a raw aiokafka consume of the same events.

Starts the real servers (free ports, a temporary folder) and the quota service as its
own process, then, in the same run and the same way for both:
  * raw:   produce N CloudEvent `upload.completed` records (acks=all, batched) to a topic
           of their own; an already-assigned aiokafka consumer reads them all;
  * quota: produce the same N events to `docstore.upload.completed`; quota applies each
           exactly once (processed-event record + per-document ledger + account counters,
           one MongoDB transaction) until its ledger shows all N.
The clock runs from the first send to the last event consumed / applied. Prints events/s
and the ratio raw/quota.

    uv run python bench/quota.py [--events 3000] [--accounts 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses
from docstore_events import KafkaRecord, UploadCompleted, all_topics, encode
from docstore_kit.settings import ServiceSettings

FETCH_MAX_WAIT_MS = ServiceSettings.model_fields["kafka_fetch_max_wait_ms"].default


def records(count: int, accounts: int, run: str) -> list[KafkaRecord]:
    result = []
    for i in range(count):
        event = UploadCompleted(
            account_id=f"bench-{run}-{i % accounts}",
            upload_id=f"u{i}",
            document_id=f"d-{run}-{i}",
            bucket="b",
            key=f"k{i}",
            filename="f.txt",
            content_type="text/plain",
            size=1,
            etag="e",
            sha256="s",
        )
        result.append(encode(event, source="/bench"))
    return result


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


async def quota_throughput(bootstrap: str, mongo_url: str, batch: list[KafkaRecord], run: str) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    mongo = AsyncMongoClient(mongo_url)
    usage = mongo["docstore_quota_us_west_2"]["usage"]
    pipeline = [
        {"$match": {"_id": {"$regex": f"^bench-{run}-"}}},
        {"$group": {"_id": None, "n": {"$sum": "$stored_bytes"}}},
    ]
    try:
        started = time.perf_counter()
        sending = asyncio.create_task(send_all(producer, batch))
        while True:
            rows = [row async for row in await usage.aggregate(pipeline)]
            done = rows[0]["n"] if rows else 0
            sys.stderr.write(f"\rquota applied {done}/{len(batch)}")
            if done >= len(batch):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        sys.stderr.write("\n")
        await sending
    finally:
        await producer.stop()
        await mongo.close()
    return len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics())
        print("starting servers and the quota service ...", file=sys.stderr)
        endpoints = servers.start()
        quota = ServiceProcesses(
            endpoints, Path(folder) / "services", names=["quota"], extra_env={"QUOTA_RECONCILE_INTERVAL_SECONDS": "0"}
        )
        try:
            quota.start()
            warm = uuid.uuid4().hex[:6]
            asyncio.run(quota_throughput(endpoints.kafka_bootstrap, endpoints.mongo_url, records(100, 5, warm), warm))
            run = uuid.uuid4().hex[:6]
            batch = records(args.events, args.accounts, run)
            raw = asyncio.run(raw_throughput(endpoints.kafka_bootstrap, batch))
            through_quota = asyncio.run(quota_throughput(endpoints.kafka_bootstrap, endpoints.mongo_url, batch, run))
        finally:
            quota.stop()
            servers.stop()
    print(
        f"\n{args.events} upload.completed events over {args.accounts} accounts, 3 partitions; "
        f"fetch wait {FETCH_MAX_WAIT_MS} ms"
    )
    print(f"{'raw aiokafka consume':40} {raw:10.0f} events/s")
    print(f"{'through quota (applied exactly once)':40} {through_quota:10.0f} events/s")
    print(f"{'ratio raw / quota':40} {raw / through_quota:10.1f} x")


if __name__ == "__main__":
    main()
