"""Latency from publishing `upload.completed` to quota's usage updated, against raw Kafka.

Starts the real servers (free ports, a temporary folder) and the quota service as its
own process, then measures, in the same run:
  * raw:      aiokafka produce (acks=all) -> an already-assigned consumer receives it;
  * floor:    the raw round trip, then the MongoDB transaction any exactly-once consumer of
              it pays: quota's writes for one event (processed-event record, document ledger
              row, account counters, reservation), done by this process;
  * pipeline: produce a CloudEvent `upload.completed` -> quota consumes it, applies it
              exactly once in a MongoDB transaction -> the usage record shows it.
Events are sent one at a time so each latency is one event's. Prints p50/p99 and the
ratio pipeline/raw.

    uv run python bench/pipeline.py [--events 2000] [--broker-storage both|s3|memory] [--json]

By default it runs twice, on fresh servers each time: with the broker's log on `s3://` (the
platform's durable broker) and in memory, and compares them. With `--json` the last lines of
stdout are one JSON object per run with its p50/p99 (ms) and the ratios:
{"bench": "pipeline", "broker_storage": "s3", "raw_p50_ms": ..., "pipeline_p99_ms": ..., "ratio_p50": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from figures import percentile
from pymongo import AsyncMongoClient

from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses
from docstore_events import UploadCompleted, all_topics, encode
from docstore_kit.settings import ServiceSettings

WARMUP = 50
# The raw consumer waits on fetches exactly as the services' consumers do (the quota process
# reads the same KAFKA_FETCH_MAX_WAIT_MS from this environment).
FETCH_MAX_WAIT_MS = int(
    os.environ.get("KAFKA_FETCH_MAX_WAIT_MS", ServiceSettings.model_fields["kafka_fetch_max_wait_ms"].default)
)


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r{label:9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def raw_round_trips(bootstrap: str, count: int, mongo_url: str | None = None) -> list[float]:
    """Produce -> consume; with `mongo_url`, each consumed record is also written as quota
    writes one event, in one transaction (the floor)."""
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    await producer.start()
    await consumer.start()
    mongo = AsyncMongoClient(mongo_url) if mongo_url else None
    label = "floor" if mongo else "raw"
    samples = []
    try:
        for i in range(count + WARMUP):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"x" * 600, key=b"acct")
            await consumer.getone()
            if mongo is not None:
                await quotas_writes(mongo, f"{topic}-{i}")
            if i >= WARMUP:
                samples.append(time.perf_counter() - started)
                if (i - WARMUP + 1) % max(1, count // 20) == 0:
                    progress(label, i - WARMUP + 1, count)
    finally:
        await consumer.stop()
        await producer.stop()
        if mongo is not None:
            await mongo.close()
    return samples


async def quotas_writes(mongo: AsyncMongoClient, event_id: str) -> None:
    """One event's writes as quota makes them, in one transaction, without quota's reads."""
    db = mongo["docstore_bench_floor"]
    async with mongo.start_session() as session:

        async def body(s: Any) -> None:
            await db.processed_events.insert_one({"_id": f"quota:{event_id}", "consumer": "quota"}, session=s)
            await db.document_ledger.update_one(
                {"_id": event_id},
                {"$set": {"account_id": "acct", "bytes": 1, "current_version": 1}},
                upsert=True,
                session=s,
            )
            await db.usage.update_one({"_id": "acct"}, {"$inc": {"used_bytes": 1}}, upsert=True, session=s)
            await db.reservations.delete_many({"account_id": "acct", "_id": {"$in": [event_id]}}, session=s)

        await session.with_transaction(body)


async def pipeline_latencies(bootstrap: str, mongo_url: str, count: int) -> list[float]:
    account_id = f"bench-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    mongo = AsyncMongoClient(mongo_url)
    usage = mongo["docstore_quota_us_west_2"]["usage"]
    samples = []
    try:
        for i in range(count + WARMUP):
            event = UploadCompleted(
                account_id=account_id,
                upload_id=f"u{i}",
                document_id=f"d{i}",
                bucket="b",
                key=f"k{i}",
                filename="f.txt",
                content_type="text/plain",
                size=1,
                etag="e",
                sha256="s",
            )
            record = encode(event, source="/bench")
            started = time.perf_counter()
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=[(k, v.encode()) for k, v in record.headers.items()]
            )
            while True:
                doc = await usage.find_one({"_id": account_id}, {"used_bytes": 1})
                if doc and doc["used_bytes"] == i + 1:
                    break
                await asyncio.sleep(0.001)
            if i >= WARMUP:
                samples.append(time.perf_counter() - started)
                if (i - WARMUP + 1) % max(1, count // 20) == 0:
                    progress("pipeline", i - WARMUP + 1, count)
    finally:
        await producer.stop()
        await mongo.close()
    return samples


def report(name: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    print(f"{name:42} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   (n={len(samples)})")
    return p50, p99


def measure(events: int, storage: str) -> dict[str, Any]:
    """One run on fresh servers whose broker keeps its log in `storage` (s3 or memory)."""
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), broker_storage=storage)
        print(f"starting servers (broker log: {storage}) and the quota service ...", file=sys.stderr)
        endpoints = servers.start()
        quota = ServiceProcesses(endpoints, Path(folder) / "services", names=["quota"])
        try:
            quota.start()
            raw = asyncio.run(raw_round_trips(endpoints.kafka_bootstrap, events))
            floor = asyncio.run(raw_round_trips(endpoints.kafka_bootstrap, events, endpoints.mongo_url))
            pipeline = asyncio.run(pipeline_latencies(endpoints.kafka_bootstrap, endpoints.mongo_url, events))
        finally:
            quota.stop()
            servers.stop()
    print(
        f"\nbroker log {storage}: {events} events, one at a time, after {WARMUP} warm-up events each; "
        f"fetch wait {FETCH_MAX_WAIT_MS} ms"
    )
    raw_p50, raw_p99 = report("raw aiokafka produce -> consume", raw)
    floor_p50, floor_p99 = report("raw + one transaction of quota's writes", floor)
    pipe_p50, pipe_p99 = report("upload.completed -> quota usage updated", pipeline)
    print(f"{'ratio pipeline / raw':42} p50 {pipe_p50 / raw_p50:8.1f} x    p99 {pipe_p99 / raw_p99:8.1f} x")
    print(f"{'ratio pipeline / floor':42} p50 {pipe_p50 / floor_p50:8.1f} x    p99 {pipe_p99 / floor_p99:8.1f} x")
    return {
        "bench": "pipeline",
        "broker_storage": storage,
        "events": events,
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        "raw_p50_ms": raw_p50,
        "raw_p99_ms": raw_p99,
        "floor_p50_ms": floor_p50,
        "floor_p99_ms": floor_p99,
        "pipeline_p50_ms": pipe_p50,
        "pipeline_p99_ms": pipe_p99,
        "ratio_p50": pipe_p50 / raw_p50,
        "ratio_p99": pipe_p99 / raw_p99,
        "ratio_floor_p50": pipe_p50 / floor_p50,
        "ratio_floor_p99": pipe_p99 / floor_p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--broker-storage",
        choices=["both", "s3", "memory"],
        default="both",
        help="the broker's log: the durable s3:// one (the platform's), memory://, or both in one run (default)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per engine as the last lines")
    args = parser.parse_args()
    engines = ["s3", "memory"] if args.broker_storage == "both" else [args.broker_storage]
    runs = [measure(args.events, storage) for storage in engines]
    if len(runs) == 2:
        durable, memory = runs
        print("\ndurable (s3) against in-memory broker log:")
        for key in ("raw_p50_ms", "raw_p99_ms", "pipeline_p50_ms", "pipeline_p99_ms"):
            print(f"  {key:18} {durable[key]:8.2f} against {memory[key]:8.2f}   ({durable[key] / memory[key]:.2f} x)")
    if args.json:
        for figures in runs:
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
