"""Throughput of the analytics roll-up consumer against the storage floor, and the admin
page's API load time at 100,000 accounts.

Starts the real servers (free ports, a temporary folder) and the analytics service as its own
process, then:
  * floor:     the writes analytics makes for N events, straight from this process in bulk, in
               chunks of the consumer's batch size, no transaction, no reads: the processed-event
               records, the ledger's facts, the daily roll-ups (the owner's and the system's row
               of the day) and the documents' rows;
  * analytics: N events (`file.version-recorded` and `upload.completed`, half each, over
               `--accounts` accounts; a new document per version) produced to their topics after
               a warm-up of 100; timed from the first send until the ledger holds all N facts;
  * admin:     `--accounts-seeded` accounts' worth of roll-ups written in bulk (a daily row and a
               document with downloads and shares per account, 90 days of system rows with the
               plans' counts), then `GET /admin/analytics?days=90` and the two top-document
               tables timed, as the admin page asks them (median of `--repeats`).
Prints events/s, the ratio to the floor and the load times; `--json` adds one JSON object as the
last line.

    uv run python bench/analytics.py [--events 2000] [--accounts 50] [--accounts-seeded 100000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient, UpdateOne

from docstore_analytics.adapters.repositories import DAILY, DOCUMENTS, FACTS, ensure_indexes
from docstore_analytics.domain.rollups import SYSTEM
from docstore_analytics.settings import Settings
from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses
from docstore_events import KafkaRecord, UploadCompleted, all_topics, encode
from docstore_events.files import FileVersionRecorded
from docstore_kit.auth import InternalAuth
from docstore_messaging.runtime import EventRuntime

BATCH = EventRuntime.__init__.__kwdefaults__["batch_max_records"]
DATABASE = "docstore_analytics_us_west_2"


def events(count: int, accounts: int, run: str) -> list[Any]:
    out: list[Any] = []
    for i in range(count // 2):
        account, doc = f"bench-{run}-{i % accounts}", f"d-{run}-{i}"
        common = {"account_id": account, "document_id": doc, "bucket": "b", "key": f"k{i}", "sha256": "s"}
        out.append(
            FileVersionRecorded(
                **common,
                version=1,
                upload_id=f"u-{run}-{i}",
                filename="f.pdf",
                content_type="application/pdf",
                size=100,
            )
        )
        out.append(
            UploadCompleted(**common, upload_id=f"u-{run}-{i}", filename="f.pdf", content_type="x", size=100, etag="e")
        )
    return out


def records(batch: list[Any]) -> list[KafkaRecord]:
    return [encode(event, source="/bench") for event in batch]


async def send_all(producer: AIOKafkaProducer, batch: list[KafkaRecord]) -> None:
    futures = [
        await producer.send(r.topic, r.value, key=r.key, headers=[(k, v.encode()) for k, v in r.headers.items()])
        for r in batch
    ]
    await asyncio.gather(*futures)


async def storage_floor(mongo_url: str, batch: list[Any]) -> float:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    db = mongo["docstore_bench_analytics_floor"]
    await ensure_indexes(db)
    day = datetime.now(UTC).date().isoformat()
    try:
        started = time.perf_counter()
        for first in range(0, len(batch), BATCH):
            chunk = batch[first : first + BATCH]
            ids = [uuid.uuid4().hex for _ in chunk]
            await db.processed_events.insert_many(
                [{"_id": f"analytics:{i}", "consumer": "analytics", "event_id": i} for i in ids], ordered=False
            )
            await db[FACTS].insert_many(
                [
                    {"_id": i, "kind": "x", "owner": e.account_id, "subject": e.document_id, "size": e.size}
                    for i, e in zip(ids, chunk, strict=True)
                ],
                ordered=False,
            )
            scopes: dict[str, int] = {}
            for e in chunk:
                for scope in (e.account_id, SYSTEM):
                    scopes[scope] = scopes.get(scope, 0) + e.size
            await db[DAILY].bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{s}|{day}"},
                        {"$inc": {"f.current_bytes": n}, "$set": {"scope": s, "day": day}},
                        upsert=True,
                    )
                    for s, n in scopes.items()
                ],
                ordered=False,
            )
            await db[DOCUMENTS].bulk_write(
                [
                    UpdateOne(
                        {"_id": e.document_id}, {"$set": {"owner": e.account_id, "current_bytes": e.size}}, upsert=True
                    )
                    for e in chunk
                ],
                ordered=False,
            )
        elapsed = time.perf_counter() - started
    finally:
        await mongo.drop_database("docstore_bench_analytics_floor")
        await mongo.close()
    return len(batch) / elapsed


async def applied(facts: Any, run: str, count: int) -> None:
    while True:
        done = await facts.count_documents({"owner": {"$regex": f"^bench-{run}-"}})
        sys.stderr.write(f"\ranalytics recorded {done}/{count}")
        if done >= count:
            break
        await asyncio.sleep(0.1)
    sys.stderr.write("\n")


async def through_analytics(bootstrap: str, mongo_url: str, batch: list[Any], run: str, warm_up: int = 100) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    facts = mongo[DATABASE][FACTS]
    try:
        warm = uuid.uuid4().hex[:6]
        await send_all(producer, records(events(warm_up, 5, warm)))
        await applied(facts, warm, warm_up)
        started = time.perf_counter()
        sending = asyncio.create_task(send_all(producer, records(batch)))
        await applied(facts, run, len(batch))
        elapsed = time.perf_counter() - started
        await sending
    finally:
        await producer.stop()
        await mongo.close()
    return len(batch) / elapsed


async def seed(mongo_url: str, accounts: int, days: int = 90) -> float:
    """Roll-ups of `accounts` accounts, written in bulk in the service's shapes; seconds taken."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    db = mongo[DATABASE]
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    try:
        chunk = 5000
        for first in range(0, accounts, chunk):
            ids = [f"seed-{n}" for n in range(first, min(accounts, first + chunk))]
            day = (today - timedelta(days=days - 1)).isoformat()
            await db[DAILY].insert_many(
                [
                    {"_id": f"{a}|{day}", "scope": a, "day": day, "f": {"current_bytes": 1000, "docs": {"pdf": 2}}}
                    for a in ids
                ],
                ordered=False,
            )
            await db[DOCUMENTS].insert_many(
                [
                    {
                        "_id": f"{a}-{k}",
                        "owner": a,
                        "type": "pdf",
                        "current_bytes": 500,
                        "total_bytes": 500,
                        "stored": True,
                        "trashed": False,
                        "downloads": (n * 7 + k) % 50,
                        "shares": (n * 3 + k) % 9,
                    }
                    for n, a in enumerate(ids)
                    for k in range(2)
                ],
                ordered=False,
            )
            sys.stderr.write(f"\rseeded {first + len(ids)}/{accounts} accounts")
        sys.stderr.write("\n")
        # The leaderboards the consumer keeps as counts grow (service_layer/rollups.update_boards).
        for name, step in (("downloads", 7), ("shares", 3)):
            seeded = sorted(
                range(accounts), key=lambda n, step=step: (-((n * step) % (50 if step == 7 else 9)), f"seed-{n}-0")
            )
            ids = [f"seed-{n}-0" for n in seeded[:100]]
            await db["analytics_state"].update_one({"_id": f"top-{name}"}, {"$set": {"ids": ids}}, upsert=True)
        await db[DAILY].bulk_write(
            [
                UpdateOne(
                    {"_id": f"{SYSTEM}|{(today - timedelta(days=d)).isoformat()}"},
                    {
                        "$inc": {
                            "f.current_bytes": 1000 * accounts // days,
                            "f.plans.free": accounts // days,
                            "f.uploads": 100,
                        },
                        "$set": {"scope": SYSTEM, "day": (today - timedelta(days=d)).isoformat()},
                    },
                    upsert=True,
                )
                for d in range(days)
            ]
        )
    finally:
        await mongo.close()
    return time.perf_counter() - started


def admin_load(url: str, repeats: int) -> dict[str, float]:
    # Signed per request (identity tokens live seconds, as the gateway's do).
    auth = InternalAuth.from_settings(Settings()).client_auth("analytics", subject="bench-admin", role="admin")
    paths = {
        "overview": "/admin/analytics?days=90",
        "most_downloaded": "/admin/analytics/top/most-downloaded?limit=10",
        "most_shared": "/admin/analytics/top/most-shared?limit=10",
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    pages: list[float] = []
    with httpx.Client(base_url=url, auth=auth, timeout=120) as client:
        for _ in range(repeats):
            page = time.perf_counter()
            for name, path in paths.items():
                started = time.perf_counter()
                response = client.get(path)
                response.raise_for_status()
                times[name].append(time.perf_counter() - started)
            pages.append(time.perf_counter() - page)
    out = {f"{name}_ms": round(statistics.median(t) * 1000, 1) for name, t in times.items()}
    out["page_ms"] = round(statistics.median(pages) * 1000, 1)
    return out


def measure(count: int, accounts: int, seeded: int, repeats: int, storage: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), broker_storage=storage)
        print(f"starting servers (broker log: {storage}) and the analytics service ...", file=sys.stderr)
        endpoints = servers.start()
        service = ServiceProcesses(endpoints, Path(folder) / "services", names=["analytics"])
        try:
            urls = service.start()
            run = uuid.uuid4().hex[:6]
            batch = events(count, accounts, run)
            floor = asyncio.run(storage_floor(endpoints.mongo_url, batch))
            rate = asyncio.run(through_analytics(endpoints.kafka_bootstrap, endpoints.mongo_url, batch, run))
            print(f"floor {floor:.0f} events/s, through analytics {rate:.0f} events/s", file=sys.stderr)
            seeding = asyncio.run(seed(endpoints.mongo_url, seeded))
            load = admin_load(urls["analytics"], repeats)
        finally:
            service.stop()
            servers.stop()
    print(f"\nbroker log {storage}: {count} events (file.version-recorded + upload.completed) over {accounts} accounts")
    print(f"{'storage floor (bulk writes, no reads)':44} {floor:10.0f} events/s   batches of {BATCH}")
    print(f"{'through analytics (recorded exactly once)':44} {rate:10.0f} events/s")
    print(f"{'ratio analytics / floor':44} {rate / floor:10.2f}")
    print(f"\nadmin page's API at {seeded} accounts (seeded in {seeding:.0f} s), median of {repeats}:")
    for name, value in load.items():
        print(f"  {name:20} {value:10.1f} ms")
    return {
        "bench": "analytics",
        "broker_storage": storage,
        "events": count,
        "accounts": accounts,
        "batch": BATCH,
        "events_per_s": round(rate, 1),
        "storage_floor_per_s": round(floor, 1),
        "ratio_floor": round(rate / floor, 3),
        "accounts_seeded": seeded,
        **load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--accounts-seeded", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--broker-storage", choices=["s3", "memory"], default="memory")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    figures = measure(args.events, args.accounts, args.accounts_seeded, args.repeats, args.broker_storage)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
